"""Neuron models: one spec per model, the registry :class:`~engine.network.description.Population` and the builder read.

A spec names the model's kernel code (its branch in :mod:`engine.kernels.neurons`), the state variables a
:class:`~engine.network.description.StateMonitor` can record, the time constants the step must not exceed, and the function that
turns a population's parameters into its row of the kernel's parameter table (the exact propagators, Rotter &
Diesmann 1999). Adding a model is a spec here plus its update function and branch in the kernel module.

For a step :math:`h`:

.. math::

    P_{22} = e^{-h/\\tau_m},\\quad P_{20} = \\frac{\\tau_m}{C_m}(1 - P_{22}),\\quad P_{11} = e^{-h/\\tau_{syn}},\\quad
    P_{21} = \\frac{e^{-h/\\tau_m}}{C_m}\\,\\frac{1 - e^{-h a}}{a},\\; a = \\frac{1}{\\tau_{syn}} - \\frac{1}{\\tau_m}

with :math:`P_{21} = (h / C_m)\\,e^{-h/\\tau_m}` in the limit :math:`\\tau_m = \\tau_{syn}`; ``expm1`` keeps it exact
close to that limit. :math:`C_0 = E_L (1 - P_{22})`, plus :math:`P_{20} I_e` when :math:`I_e` is one constant.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from engine.kernels.neurons import DELTA, EXP, N_PAR, PAR_C0, PAR_P11EX, PAR_P11IN, PAR_P20, PAR_P21EX, PAR_P21IN, \
    PAR_P22, PAR_VRESET, PAR_VTH


def propagators(pop: Any, dt: float) -> dict[str, float]:
    """Exact one-step propagators of ``pop``'s linear subthreshold dynamics for step ``dt`` (ms)."""
    h, tm, C = dt, pop.tau_m, pop.C_m
    p22 = math.exp(-h / tm)
    out = {"P22": p22, "P20": -tm / C * math.expm1(-h / tm)}
    for ch, ts in (("ex", pop.tau_syn_ex), ("in", pop.tau_syn_in)):
        a = 1.0 / ts - 1.0 / tm
        factor = h if a == 0.0 else -math.expm1(-h * a) / a
        out["P21" + ch] = p22 * factor / C
        out["P11" + ch] = math.exp(-h / ts)
    return out


def _lif_row(pop: Any, dt: float, constant_input: bool) -> np.ndarray:
    """The parameter-table row of an iaf_psc_exp or iaf_psc_delta population (both share the table's columns)."""
    pr = propagators(pop, dt)
    row = np.zeros(N_PAR, dtype=np.float64)
    row[PAR_C0] = -pop.E_L * math.expm1(-dt / pop.tau_m) + (pr["P20"] * pop.I_e if constant_input else 0.0)
    row[PAR_VTH], row[PAR_VRESET] = pop.V_th, pop.V_reset
    for key, col in (("P22", PAR_P22), ("P20", PAR_P20), ("P21ex", PAR_P21EX), ("P21in", PAR_P21IN),
                     ("P11ex", PAR_P11EX), ("P11in", PAR_P11IN)):
        row[col] = pr[key]
    return row


@dataclass(frozen=True)
class NeuronModel:
    """What the engine needs to know of a neuron model."""

    name: str
    code: int
    state: tuple[str, ...]
    time_constants: tuple[str, ...]
    parameter_row: Callable[[Any, float, bool], np.ndarray]
    summary: str

    def check_time_constants(self, pop: Any, dt: float) -> None:
        """Reject steps longer than a time constant: spike times and Poisson input would be meaningless there."""
        for name in self.time_constants:
            tau = getattr(pop, name)
            if dt > tau:
                raise ValueError(f"Population {pop.name!r}: {name} = {tau} ms is shorter than dt = {dt} ms; "
                                 "the step must not exceed any time constant (use a smaller dt)")


NEURON_MODELS: dict[str, NeuronModel] = {
    "iaf_psc_exp": NeuronModel(
        "iaf_psc_exp", EXP, ("V", "I_ex", "I_in"), ("tau_m", "tau_syn_ex", "tau_syn_in"), _lif_row,
        "LIF with exponential synaptic currents (NEST's iaf_psc_exp): a spike adds its weight (pA) to I_ex or I_in"),
    "iaf_psc_delta": NeuronModel(
        "iaf_psc_delta", DELTA, ("V", "I_ex", "I_in"), ("tau_m",), _lif_row,
        "LIF with delta synapses (NEST's iaf_psc_delta): a spike makes V jump by its weight (mV), dropped while "
        "refractory; I_ex and I_in are the step's input buffers"),
}
