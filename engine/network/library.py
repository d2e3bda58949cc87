"""Standard benchmark networks, described once and shared by the command line, the benchmarks and the tests."""
from __future__ import annotations

from engine.network.connectivity import FixedProbability
from engine.network.description import Network, Population, Projection, RateMonitor, SpikeMonitor

#: Parameters of the Vogels–Abbott CUBA network as in Brian2's ``examples/CUBA.py`` (mV, ms).
CUBA = {"n_exc": 3200, "n_inh": 800, "p": 0.02, "tau_m": 20.0, "tau_syn_ex": 5.0, "tau_syn_in": 10.0,
        "V_th": -50.0, "V_reset": -60.0, "E_L": -49.0, "we_mV": 60 * 0.27 / 10, "wi_mV": -20 * 4.5 / 10,
        "t_ref": 5.0, "dt": 0.1, "C_m": 250.0}


def cuba(seed: int = 1, *, scale: float = 1.0, delay: float = 0.1, record: bool = True) -> Network:
    r"""The Vogels–Abbott (2005) current-based network of Brian2's ``examples/CUBA.py``, in pond's units.

    Brian2 writes the synaptic variables in volts, :math:`\tau_m \dot v = g_e + g_i - (v - E_L)`; with currents
    :math:`I = g\,C_m/\tau_m` this is exactly :class:`~engine.network.description.Population`'s iaf_psc_exp, so the weights
    1.62 mV and −9 mV become :math:`w\,C_m/\tau_m` pA. Brian2's example has no delay; pond's smallest delay is
    one step (``delay`` = dt = 0.1 ms). Initial V uniform in [V_reset, V_th).

    Parameters
    ----------
    seed : int
        Seed of connectivity and initial state.
    scale : float, default=1.0
        Multiplies both population sizes (connection probability unchanged).
    delay : float, default=0.1
        Synaptic delay (ms).
    record : bool, default=True
        Add spike and rate monitors on both populations.
    """
    c = CUBA
    common = dict(tau_m=c["tau_m"], C_m=c["C_m"], E_L=c["E_L"], V_th=c["V_th"], V_reset=c["V_reset"],
                  t_ref=c["t_ref"], tau_syn_ex=c["tau_syn_ex"], tau_syn_in=c["tau_syn_in"],
                  V_init=(c["V_reset"], c["V_th"]))
    to_pA = c["C_m"] / c["tau_m"]
    net = Network(dt=c["dt"], seed=seed)
    net.add(Population("exc", max(1, int(round(c["n_exc"] * scale))), **common),
            Population("inh", max(1, int(round(c["n_inh"] * scale))), **common))
    for pre, w in (("exc", c["we_mV"] * to_pA), ("inh", c["wi_mV"] * to_pA)):
        for post in ("exc", "inh"):
            net.add(Projection(pre, post, FixedProbability(c["p"]), weight=w, delay=delay))
    if record:
        net.add(SpikeMonitor("exc"), SpikeMonitor("inh"), RateMonitor("exc"), RateMonitor("inh"))
    return net
