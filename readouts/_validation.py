"""Parameter and input validation shared by pond estimators.

A small stand-in for scikit-learn's private ``_param_validation``: each
estimator declares ``_parameter_constraints`` (a dict from parameter name to a
list of accepted :class:`Interval`, :class:`Options`, types or ``None``) and
calls :func:`validate_params` when ``fit`` starts. Errors name the estimator,
the parameter, the value and what is allowed.
"""
import numbers

import numpy as np


class Interval:
    """A real or integer interval; ``closed`` in {'both', 'left', 'right', 'neither'}."""

    def __init__(self, kind, left, right, closed="both"):
        self.kind, self.left, self.right, self.closed = kind, left, right, closed

    def accepts(self, v):
        if isinstance(v, (bool, np.bool_)):
            return False
        if self.kind == "int" and not isinstance(v, numbers.Integral):
            return False
        if not isinstance(v, numbers.Real) or not np.isfinite(v):
            return False
        if self.left is not None:
            if v < self.left or (v == self.left and self.closed in ("right", "neither")):
                return False
        if self.right is not None:
            if v > self.right or (v == self.right and self.closed in ("left", "neither")):
                return False
        return True

    def __str__(self):
        lb = "[" if self.closed in ("both", "left") else "("
        rb = "]" if self.closed in ("both", "right") else ")"
        lo = "-inf" if self.left is None else repr(self.left)
        hi = "inf" if self.right is None else repr(self.right)
        return f"{'an int' if self.kind == 'int' else 'a float'} in {lb}{lo}, {hi}{rb}"


class Options:
    """One of a fixed set of values."""

    def __init__(self, *values):
        self.values = values

    def accepts(self, v):
        return isinstance(v, str) and v in self.values

    def __str__(self):
        return "one of " + ", ".join(repr(v) for v in self.values)


class ArrayLike:
    """Any array-like (list, ndarray, sparse matrix)."""

    def accepts(self, v):
        return hasattr(v, "shape") or isinstance(v, (list, tuple))

    def __str__(self):
        return "an array-like"


def _accepts(c, v):
    if c is None:
        return v is None
    if isinstance(c, type):
        return isinstance(v, c) and not (c is not bool and isinstance(v, bool))
    return c.accepts(v)


def validate_params(est, constraints=None):
    """Check ``est.get_params()`` against ``est._parameter_constraints``."""
    constraints = est._parameter_constraints if constraints is None else constraints
    name = type(est).__name__
    for key, allowed in constraints.items():
        v = getattr(est, key)
        if not any(_accepts(c, v) for c in allowed):
            choices = " or ".join("None" if c is None else (c.__name__ if isinstance(c, type) else str(c))
                                  for c in allowed)
            raise ValueError(f"{name}: parameter {key}={v!r} is invalid; it must be {choices}.")


def check_finite(name, a, what="X"):
    """Raise ``ValueError`` if ``a`` holds NaN or infinity."""
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name}: {what} contains NaN or infinity.")


def check_fitted(est, attr):
    """Raise sklearn's ``NotFittedError`` when ``attr`` is missing."""
    from sklearn.exceptions import NotFittedError

    if not hasattr(est, attr):
        raise NotFittedError(
            f"This {type(est).__name__} instance is not fitted yet; call 'fit' before using it.")
