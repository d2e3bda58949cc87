"""What the two current-based LIF models share: their parameters, the exact propagators, their parameter-table row.

For a step :math:`h`:

.. math::

    P_{22} = e^{-h/\\tau_m},\\quad P_{20} = \\frac{\\tau_m}{C_m}(1 - P_{22}),\\quad P_{11} = e^{-h/\\tau_{syn}},\\quad
    P_{21} = \\frac{e^{-h/\\tau_m}}{C_m}\\,\\frac{1 - e^{-h a}}{a},\\; a = \\frac{1}{\\tau_{syn}} - \\frac{1}{\\tau_m}

with :math:`P_{21} = (h / C_m)\\,e^{-h/\\tau_m}` in the limit :math:`\\tau_m = \\tau_{syn}`; ``expm1`` keeps it exact
close to that limit. :math:`C_0 = E_L (1 - P_{22})`, plus :math:`P_{20} I_e` when :math:`I_e` is one constant.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.models.spec import Parameter, StateVariable

# columns of the parameter-table row of both LIF models (read once per population and step by their updates)
PAR_C0, PAR_VTH, PAR_VRESET, PAR_P22, PAR_P20, PAR_P21EX, PAR_P21IN, PAR_P11EX, PAR_P11IN = range(9)
N_PAR = 9

MEMBRANE = (
    Parameter("tau_m", 10.0, "ms", "membrane time constant", "positive", time_constant=True),
    Parameter("C_m", 250.0, "pF", "membrane capacitance", "positive"),
    Parameter("E_L", -65.0, "mV", "resting potential"),
    Parameter("V_th", -50.0, "mV", "spike threshold"),
    Parameter("V_reset", -65.0, "mV", "reset potential"),
    Parameter("t_ref", 2.0, "ms", "refractory period", "nonnegative", on_grid=True),
    Parameter("I_e", 0.0, "pA", "constant input current", per_neuron=True),
)
SYNAPTIC = (
    Parameter("tau_syn_ex", 2.0, "ms", "excitatory synaptic time constant", "positive", time_constant=True),
    Parameter("tau_syn_in", 2.0, "ms", "inhibitory synaptic time constant", "positive", time_constant=True),
)
STATE = (StateVariable("V", "mV", "membrane potential", 0),
         StateVariable("I_ex", "pA", "excitatory synaptic current", 1),
         StateVariable("I_in", "pA", "inhibitory synaptic current", 2))


def check_reset_below_threshold(owner: str, p: dict) -> None:
    """NEST's rule: the reset potential lies below the threshold."""
    if p["V_reset"] >= p["V_th"]:
        raise ValueError(f"{owner}: V_reset = {p['V_reset']} mV >= V_th = {p['V_th']} mV; "
                         "the reset potential must lie below the threshold")


def propagators(pop: Any, dt: float) -> dict[str, float]:
    """Exact one-step propagators of ``pop``'s linear subthreshold dynamics for step ``dt`` (ms); ``pop`` has
    ``tau_m``, ``C_m``, ``tau_syn_ex`` and ``tau_syn_in`` (the synaptic ones are read only when present)."""
    h, tm, C = dt, pop.tau_m, pop.C_m
    p22 = math.exp(-h / tm)
    out = {"P22": p22, "P20": -tm / C * math.expm1(-h / tm)}
    for ch in ("ex", "in"):
        ts = getattr(pop, "tau_syn_" + ch, tm)
        a = 1.0 / ts - 1.0 / tm
        factor = h if a == 0.0 else -math.expm1(-h * a) / a
        out["P21" + ch] = p22 * factor / C
        out["P11" + ch] = math.exp(-h / ts)
    return out


def parameter_row(pop: Any, dt: float, constant_input: bool) -> np.ndarray:
    """The parameter-table row of an iaf_psc_exp or iaf_psc_delta population (both share the table's columns)."""
    pr = propagators(pop, dt)
    row = np.zeros(N_PAR, dtype=np.float64)
    row[PAR_C0] = -pop.E_L * math.expm1(-dt / pop.tau_m) + (pr["P20"] * pop.I_e if constant_input else 0.0)
    row[PAR_VTH], row[PAR_VRESET] = pop.V_th, pop.V_reset
    for key, col in (("P22", PAR_P22), ("P20", PAR_P20), ("P21ex", PAR_P21EX), ("P21in", PAR_P21IN),
                     ("P11ex", PAR_P11EX), ("P11in", PAR_P11IN)):
        row[col] = pr[key]
    return row
