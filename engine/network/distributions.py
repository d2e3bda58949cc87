"""Value distributions for per-synapse (or per-neuron) parameters, and :func:`resolve_values`.

A value specification is one of

- a number: homogeneous, every element takes it;
- a distribution (:class:`Uniform`, :class:`Normal`, :class:`Gamma`, :class:`LogNormal`): ``n`` samples drawn in a
  Numba kernel from the counter-based generator;
- an array-like of length ``n``: one value per element, in element order (for synapses: CSR order by source).

Sample ``i`` draws only from stream ``(seed, stream, i)`` (counters 0, 1, ... within it), so sample order is element
order, the first ``n`` samples do not depend on how many are drawn, and results are bit-identical for any thread
count. Give each quantity its own ``stream`` (and one different from the connectivity's).
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np


#: Largest |z| a Box–Muller normal can take here: its radius sqrt(-2 ln u) with u >= 2**-53 (53-bit uniforms).
_Z_MAX = math.sqrt(-2.0 * math.log(2.0 ** -53)) * (1.0 + 1e-12)


def _real(owner: str, name: str, value, rule: str, ok) -> None:
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)) \
            or not math.isfinite(float(value)) or not ok(float(value)):
        raise ValueError(f"{owner}: {name} = {value!r} is not allowed; {name} must be {rule}")


@dataclass(frozen=True)
class Uniform:
    r"""Uniform on ``[low, high)``: :math:`x = low + (high - low)\,u`, ``u`` uniform in [0, 1).

    Parameters
    ----------
    low, high : float
        Finite bounds, ``low <= high`` (equal bounds give a constant).
    """

    low: float
    high: float

    def __post_init__(self):
        _real("Uniform", "low", self.low, "a finite number", lambda v: True)
        _real("Uniform", "high", self.high, f"a finite number >= low = {self.low}", lambda v: v >= float(self.low))

    def _kernel_args(self):
        return 0, float(self.low), float(self.high), -math.inf, math.inf

    def support(self) -> tuple[float, float]:
        """An interval every draw lies in."""
        return float(self.low), float(self.high)


@dataclass(frozen=True)
class Normal:
    r"""Normal with mean ``mean`` and standard deviation ``std``, redrawn outside ``[low, high]``.

    .. math:: x = \mu + \sigma z, \quad z \sim N(0, 1), \text{ redrawn while } x \notin [low, high]

    Without bounds a value whose sign differs from the mean's is redrawn (not clipped to 0): ``[0, ∞)`` for a
    positive mean, ``(-∞, 0]`` for a negative one, no bound for ``mean == 0``. So an excitatory weight stays
    excitatory and an inhibitory one inhibitory; the result is the normal truncated at 0 on the far side of the mean
    (its mean is therefore slightly further from 0 than ``mean`` when ``std`` is not small against ``|mean|``).
    Given ``low`` and/or ``high`` replace that rule (a missing side is unbounded), as NEST's
    ``redraw(normal(...), min=..., max=...)`` does: e.g. delays ``Normal(1.5, 0.75, low=0.1)``. Box–Muller
    transform.

    Parameters
    ----------
    mean : float
        Finite.
    std : float
        Finite, >= 0.
    low, high : float or None, default=None
        Redraw bounds, finite, ``low < high``; the interval must hold at least 1e-6 of the normal's mass (so the
        redraw loop ends), or contain ``mean`` when ``std == 0``.
    """

    mean: float
    std: float
    low: float | None = None
    high: float | None = None

    def __post_init__(self):
        _real("Normal", "mean", self.mean, "a finite number", lambda v: True)
        _real("Normal", "std", self.std, "a finite number >= 0", lambda v: v >= 0.0)
        for name in ("low", "high"):
            if getattr(self, name) is not None:
                _real("Normal", name, getattr(self, name), "a finite number or None", lambda v: True)
        if self.low is not None and self.high is not None and not float(self.low) < float(self.high):
            raise ValueError(f"Normal: low = {self.low!r}, high = {self.high!r} is not allowed; low must be < high")
        lo, hi = self.bounds()
        if self.std == 0:
            mass = 1.0 if lo <= self.mean <= hi else 0.0
        else:
            cdf = lambda x: 0.5 * math.erfc(-(x - float(self.mean)) / (float(self.std) * math.sqrt(2.0)))  # noqa: E731
            mass = cdf(hi) - cdf(lo)
        if mass < 1e-6:
            raise ValueError(f"Normal: [low, high] = [{lo}, {hi}] holds {mass:.3g} of the mass of "
                             f"N({self.mean}, {self.std}²); it must hold at least 1e-6 (move the bounds or the mean)")

    def bounds(self) -> tuple[float, float]:
        """The accepted interval ``[low, high]`` (infinite where unbounded), with the sign rule when neither is set."""
        if self.low is None and self.high is None:
            m = float(self.mean)
            return (0.0 if m > 0 else -math.inf), (0.0 if m < 0 else math.inf)
        return (-math.inf if self.low is None else float(self.low)), (math.inf if self.high is None
                                                                       else float(self.high))

    def _kernel_args(self):
        return (1, float(self.mean), float(self.std)) + self.bounds()

    def support(self) -> tuple[float, float]:
        """An interval every draw lies in: the bounds, narrowed to ``mean ± 8.57 std`` (the widest a Box–Muller
        draw from 53-bit uniforms can reach)."""
        lo, hi = self.bounds()
        m, s = float(self.mean), float(self.std)
        return max(lo, m - _Z_MAX * s), min(hi, m + _Z_MAX * s)


@dataclass(frozen=True)
class Gamma:
    r"""Gamma distribution with density :math:`x^{k-1} e^{-x/\theta} / (\Gamma(k)\,\theta^k)`, ``x > 0``.

    Mean ``shape · scale``, variance ``shape · scale²``. Sampled by Marsaglia & Tsang (2000).

    Parameters
    ----------
    shape : float
        :math:`k`, finite, > 0.
    scale : float
        :math:`\theta`, finite, > 0.
    """

    shape: float
    scale: float

    def __post_init__(self):
        _real("Gamma", "shape", self.shape, "a finite number > 0", lambda v: v > 0.0)
        _real("Gamma", "scale", self.scale, "a finite number > 0", lambda v: v > 0.0)

    def _kernel_args(self):
        return 2, float(self.shape), float(self.scale), -math.inf, math.inf

    def support(self) -> tuple[float, float]:
        """An interval every draw lies in (Marsaglia–Tsang's ``d (1 + c z)³ θ`` at the largest normal ``z``)."""
        a = float(self.shape) if self.shape >= 1.0 else float(self.shape) + 1.0
        d = a - 1.0 / 3.0
        return 0.0, d * (1.0 + _Z_MAX / math.sqrt(9.0 * d)) ** 3 * float(self.scale) * (1.0 + 1e-12)


@dataclass(frozen=True)
class LogNormal:
    r"""Log-normal: :math:`x = e^{\mu + \sigma z}`, ``z ~ N(0, 1)``; ``mu`` and ``sigma`` are those of the underlying
    normal (mean of ``x``: :math:`e^{\mu + \sigma^2/2}`).

    Parameters
    ----------
    mu : float
        Finite.
    sigma : float
        Finite, >= 0.
    """

    mu: float
    sigma: float

    def __post_init__(self):
        _real("LogNormal", "mu", self.mu, "a finite number", lambda v: True)
        _real("LogNormal", "sigma", self.sigma, "a finite number >= 0", lambda v: v >= 0.0)

    def _kernel_args(self):
        return 3, float(self.mu), float(self.sigma), -math.inf, math.inf

    def support(self) -> tuple[float, float]:
        """An interval every draw lies in: ``exp(mu ± 8.57 sigma)``."""
        return (math.exp(float(self.mu) - _Z_MAX * float(self.sigma)) * (1.0 - 1e-12),
                math.exp(float(self.mu) + _Z_MAX * float(self.sigma)) * (1.0 + 1e-12))


DISTRIBUTIONS = (Uniform, Normal, Gamma, LogNormal)


def resolve_values(spec, n: int, *, seed: int, stream: int, name: str) -> tuple[float | None, np.ndarray | None]:
    """Turn a value specification into a constant or an array of ``n`` float64 values.

    Parameters
    ----------
    spec : float, Uniform, Normal, Gamma, LogNormal or array-like of shape (n,)
        A finite number, a distribution, or one finite value per element.
    n : int
        Number of elements (e.g. synapses), >= 0.
    seed : int
        Seed, in [0, 2**63 - 1].
    stream : int
        Stream of this quantity, in [0, 2**63 - 1].
    name : str
        Name used in error messages (e.g. ``"Projection 'E_to_I' weight"``).

    Returns
    -------
    (value, None)
        For a number: homogeneous.
    (None, values)
        For a distribution or an array: float64 array of shape (n,).

    Examples
    --------
    >>> resolve_values(2.5, 4, seed=0, stream=0, name="w")
    (2.5, None)
    >>> c, v = resolve_values(Uniform(1.0, 2.0), 3, seed=0, stream=0, name="w")
    >>> c is None and v.shape == (3,) and bool(((1.0 <= v) & (v < 2.0)).all())
    True
    """
    if not isinstance(n, numbers.Integral) or isinstance(n, (bool, np.bool_)) or n < 0:
        raise ValueError(f"{name}: n = {n!r} is not allowed; the number of values must be an integer >= 0")
    for pname, value in (("seed", seed), ("stream", stream)):
        if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)) \
                or not 0 <= value <= 2 ** 63 - 1:
            raise ValueError(f"{name}: {pname} = {value!r} is not allowed; it must be an integer in [0, 2**63 - 1]")
    if isinstance(spec, DISTRIBUTIONS):
        from engine.kernels.distributions import sample
        return None, sample(*spec._kernel_args(), int(n), int(seed), int(stream))
    if isinstance(spec, (bool, np.bool_)) or isinstance(spec, (str, bytes)) or spec is None:
        raise ValueError(f"{name} = {spec!r} is not allowed; give a finite number, a distribution "
                         f"(Uniform, Normal, Gamma, LogNormal) or an array of {n} finite values")
    if isinstance(spec, numbers.Real) or (isinstance(spec, np.ndarray) and spec.ndim == 0):
        value = float(spec)
        if not math.isfinite(value):
            raise ValueError(f"{name} = {value} is not allowed; it must be a finite number")
        return value, None
    try:
        arr = np.array(spec, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {spec!r} is not allowed; give a finite number, a distribution "
                         f"(Uniform, Normal, Gamma, LogNormal) or an array of {n} finite values") from None
    if arr.shape != (n,):
        raise ValueError(f"{name} has shape {arr.shape}; an array must have shape ({n},), one value per element")
    if not np.isfinite(arr).all():
        bad = np.flatnonzero(~np.isfinite(arr))[0]
        raise ValueError(f"{name}[{bad}] = {arr[bad]} is not allowed; every value must be finite")
    return None, arr
