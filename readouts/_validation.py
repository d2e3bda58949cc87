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


def as_float_array(a, name, what="X"):
    """``a`` as a float64 ndarray; sparse, complex, non-numeric and empty inputs get a clear error instead.

    The wording follows scikit-learn's ``check_array`` where it has one, so estimator checks recognise it.
    """
    if hasattr(a, "toarray") or type(a).__module__.startswith("scipy.sparse"):
        raise ValueError(f"{name}: {what} is a sparse matrix; sparse input is not supported, pass a dense array "
                         f"({what}.toarray()).")
    arr = np.asarray(a)
    if np.iscomplexobj(arr):
        raise ValueError(f"{name}: Complex data not supported in {what} ({arr.dtype}); pass real values.")
    try:
        arr = arr.astype(np.float64, copy=False)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{name}: {what} of dtype {arr.dtype} cannot be converted to float64: {e}") from None
    if arr.ndim >= 1 and arr.shape[0] == 0:
        raise ValueError(f"{name}: Found array with 0 sample(s) (shape={arr.shape}) while a minimum of 1 is required "
                         f"in {what}.")
    if arr.ndim >= 2 and arr.shape[-1] == 0:
        raise ValueError(f"{name}: Found array with 0 feature(s) (shape={arr.shape}) while a minimum of 1 is "
                         f"required in {what}.")
    return arr


def check_n_features(name, got, expected, what="X"):
    """The number of features must match the one seen in ``fit`` (scikit-learn's wording)."""
    if expected is not None and got != expected:
        raise ValueError(f"{name}: {what} has {got} features, but {name} is expecting {expected} features as input.")


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
