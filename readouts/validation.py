"""Parameter and input validation shared by pond estimators (public: ``reservoirs`` uses it too).

A small stand-in for scikit-learn's private ``_param_validation``: each
estimator declares ``_parameter_constraints`` (a dict from parameter name to a
list of accepted :class:`Interval`, :class:`Options`, types or ``None``) and
calls :func:`validate_params` when ``fit`` starts. Errors name the estimator,
the parameter, the value and what is allowed.

Loading a saved estimator goes through the same rules: :func:`restore_params`
rebuilds the estimator from the stored parameters (refusing missing and
unknown names), the estimator's own ``fit``-time check runs on it, and
:func:`check_array` checks every stored array's dtype, shape and finiteness.
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


def check_param(name, key, value, allowed):
    """Raise ``ValueError`` naming ``key``, ``value`` and the choices unless ``value`` meets one of ``allowed``.

    Parameters
    ----------
    name : str
        Estimator name used in the message.
    key : str
        Parameter name.
    value : object
        Value to check.
    allowed : list
        Accepted :class:`Interval`, :class:`Options`, :class:`ArrayLike`, types or ``None``.
    """
    if not any(_accepts(c, value) for c in allowed):
        choices = " or ".join("None" if c is None else (c.__name__ if isinstance(c, type) else str(c))
                              for c in allowed)
        raise ValueError(f"{name}: parameter {key}={value!r} is invalid; it must be {choices}.")


def validate_params(est, constraints=None):
    """Check ``est.get_params()`` against ``est._parameter_constraints``."""
    constraints = est._parameter_constraints if constraints is None else constraints
    name = type(est).__name__
    for key, allowed in constraints.items():
        check_param(name, key, getattr(est, key), allowed)


#: dtype kinds accepted by :func:`check_array`: 'f' real floats (returned as float64), 'i' integers (int64),
#: 'b' booleans.
_KINDS = {"f": ("f", "a real floating-point", np.float64), "i": ("iu", "an integer", np.int64),
          "b": ("b", "a boolean", np.bool_)}


def check_array(name, field, a, kind="f", shape=None, finite=True):
    """A stored array checked and converted: dtype kind, shape and (for floats) finiteness.

    Parameters
    ----------
    name : str
        Owner used in the message (e.g. ``"ESN"``).
    field : str
        Array name used in the message (e.g. ``"W_in_"``).
    a : array-like
        The array read from a file.
    kind : {'f', 'i', 'b'}, default='f'
        'f': real floating point (float16/32/64), returned as float64;
        'i': signed or unsigned integer, returned as int64; 'b': boolean.
    shape : tuple of (int or None), optional
        Expected shape; ``None`` entries accept any length.
    finite : bool, default=True
        Refuse NaN and infinity (floats only).

    Returns
    -------
    ndarray
    """
    arr = np.asarray(a)
    kinds, what, dtype = _KINDS[kind]
    if arr.dtype.kind not in kinds:
        raise ValueError(f"{name}: {field} must hold {what} dtype; got {arr.dtype}.")
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise ValueError(f"{name}: {field} holds an index above the int64 range.")
    if shape is not None and (arr.ndim != len(shape)
                              or any(e is not None and e != g for e, g in zip(shape, arr.shape))):
        want = "(" + ", ".join("any" if e is None else str(e) for e in shape) + ("," if len(shape) == 1 else "") + ")"
        raise ValueError(f"{name}: {field} must have shape {want}; got {arr.shape}.")
    arr = arr.astype(dtype, copy=False)
    if kind == "f" and finite:
        check_finite(name, arr, field)
    return arr


def check_fields(name, arrays, required, optional=()):
    """The stored array names must be exactly ``required`` plus any of ``optional``."""
    missing = sorted(set(required) - set(arrays))
    unknown = sorted(set(arrays) - set(required) - set(optional))
    if missing or unknown:
        raise ValueError(f"{name}: stored arrays {sorted(arrays)} do not match the expected "
                         f"{sorted(required)}" + (f" (optional {sorted(optional)})" if optional else "")
                         + (f"; missing {missing}" if missing else "") + (f"; unknown {unknown}" if unknown else "")
                         + ".")


def restore_params(cls, params, skip=()):
    """``cls(**params)`` after checking that ``params`` names every constructor parameter (bar ``skip``) once.

    The caller then runs the estimator's own ``fit``-time parameter check on the result, so a loaded
    estimator obeys the same rules as a constructed one.
    """
    name = cls.__name__
    if not isinstance(params, dict):
        raise ValueError(f"{name}: stored params must be a JSON object; got {type(params).__name__}.")
    expected = set(cls._get_param_names()) - set(skip)
    missing, unknown = sorted(expected - set(params)), sorted(set(params) - expected)
    if missing or unknown:
        raise ValueError(f"{name}: stored params do not match the constructor's"
                         + (f"; missing {missing}" if missing else "") + (f"; unknown {unknown}" if unknown else "")
                         + ".")
    return cls(**params)


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
