r"""``TsodyksMarkram``: short-term plasticity after Markram, Wang & Tsodyks (1998), in the form NEST implements as
``tsodyks2_synapse``: each synapse has a utilisation :math:`u` and a fraction of available resources :math:`x`. At
the :math:`n`-th presynaptic spike, :math:`h_n` after the previous one,

.. math::

    x_n = 1 + (x_{n-1} - u_{n-1} x_{n-1} - 1)\,e^{-h_n/\tau_{rec}}, \qquad
    u_n = U + u_{n-1} (1 - U)\,e^{-h_n/\tau_{fac}}, \qquad
    \text{efficacy}_n = w\,u_n x_n

(with :math:`e^{-h/\tau_{fac}} = 0` when :math:`\tau_{fac} = 0`: no facilitation). The state changes only at
presynaptic spikes (event-driven); :math:`h_n` is a whole number of steps, ``(k_n - k_{n-1})·dt``. The first spike
uses the initial values as they are, :math:`u_1 = u_0`, :math:`x_1 = x_0`; the defaults ``u0 = U``, ``x0 = 1`` give
Markram's :math:`u_1 = U`, :math:`x_1 = 1` (Maass et al. 2002 likewise). This is NEST 3's convention for its
``u`` and ``x`` (checked against NEST 3.10 in ``tests/test_tsodyks_markram.py``). Several spikes of one source in
the same step (Poisson multiplicity) are several updates in sequence with :math:`h = 0`.

===========  =========  =====================  ====================================================================
Parameter    Default    Symbol                 Meaning
===========  =========  =====================  ====================================================================
``U``        0.5        :math:`U`              utilisation increment, in [0, 1]
``tau_rec``  800 ms     :math:`\tau_{rec}`     recovery time constant of resources, > 0
``tau_fac``  0 ms       :math:`\tau_{fac}`     facilitation time constant, >= 0 (0: none)
``u0``       ``U``      :math:`u_1`            utilisation at the first spike, in [0, 1] (default: the synapse's U)
``x0``       1          :math:`x_1`            available resources at the first spike, in [0, 1]
===========  =========  =====================  ====================================================================

Each parameter is a number or a distribution (:mod:`engine.network.distributions`) drawn per synapse; ``Normal`` redraws
values whose sign differs from the mean's (Maass 2002 draws U, D, F with SD = 50 % of the mean this way). Drawn
``U``, ``u0`` and ``x0`` above 1 are set to 1. State is kept per (trial, synapse) in float64.

References
----------
Markram H, Wang Y, Tsodyks M (1998) Differential signaling via the same axon of neocortical pyramidal neurons.
PNAS 95:5323-5328.
Maass W, Natschläger T, Markram H (2002) Real-time computing without stable states. Neural Comput 14:2531-2560.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from numba import njit

from engine.models.spec import SynapseModel
from engine.network.distributions import DISTRIBUTIONS


def check_value(owner: str, name: str, value: Any, low: float, high: float, low_open: bool = False) -> Any:
    """A synapse parameter: a distribution (drawn per synapse at build), or a finite number in ``[low, high]``
    (``(low, high]`` when ``low_open``); a ValueError names the parameter, the value and the interval."""
    if isinstance(value, DISTRIBUTIONS):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise ValueError(f"{owner}: {name} = {value!r} is not allowed; give a finite number or a distribution")
    v = float(value)
    if v < low or v > high or (low_open and v == low):
        bounds = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise ValueError(f"{owner}: {name} = {v} is not allowed; it must lie in {bounds}")
    return v


@dataclass(frozen=True)
class TsodyksMarkram(SynapseModel):
    """Short-term depression and facilitation (NEST's ``tsodyks2_synapse``); see the module docstring."""

    U: Any = 0.5
    tau_rec: Any = 800.0
    tau_fac: Any = 0.0
    u0: Any = None
    x0: Any = 1.0

    name = "tsodyks_markram"
    parameters = ("U", "tau_rec", "tau_fac", "u0", "x0")
    clipped = ("U", "u0", "x0")  # drawn values above 1 are set to 1
    state = ("u", "x")
    parameter_bytes = 40  # U, tau_rec, tau_fac, u0, x0 (float64) per synapse
    state_bytes = 16  # u, x (float64) per trial and synapse

    def __post_init__(self):
        owner = "TsodyksMarkram"
        object.__setattr__(self, "U", check_value(owner, "U", self.U, 0.0, 1.0))
        object.__setattr__(self, "tau_rec", check_value(owner, "tau_rec (ms)", self.tau_rec, 0.0, math.inf, True))
        object.__setattr__(self, "tau_fac", check_value(owner, "tau_fac (ms)", self.tau_fac, 0.0, math.inf))
        if self.u0 is not None:
            object.__setattr__(self, "u0", check_value(owner, "u0", self.u0, 0.0, 1.0))
        object.__setattr__(self, "x0", check_value(owner, "x0", self.x0, 0.0, 1.0))


@njit(cache=True, inline="always")
def tm_update(u, x, U, tau_rec, tau_fac, h_ms, mult):
    r"""Tsodyks–Markram synapse state ``(u, x)`` after ``mult`` presynaptic spikes, the first ``h_ms`` after the
    previous spike (``h_ms < 0``: the synapse's first spike, which uses ``u``, ``x`` as they are) and the others in
    the same step; returns ``(u, x, efficacy)`` with the efficacy :math:`\sum u_n x_n` (NEST's
    ``tsodyks2_synapse`` recurrence, :mod:`engine.models.synapses`)."""
    if h_ms >= 0.0:
        x_decay = math.exp(-h_ms / tau_rec)
        u_decay = 0.0 if tau_fac == 0.0 else math.exp(-h_ms / tau_fac)
        x = 1.0 + (x - x * u - 1.0) * x_decay
        u = U + u * (1.0 - U) * u_decay
    eff = x * u
    same = 0.0 if tau_fac == 0.0 else 1.0
    for _ in range(1, mult):  # further spikes of the same step: no time has passed
        x = 1.0 + (x - x * u - 1.0)
        u = U + u * (1.0 - U) * same
        eff += x * u
    return u, x, eff
