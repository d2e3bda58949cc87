"""Notebook use: short reprs of Network and Simulator, and tqdm's auto progress bar (a widget in Jupyter, text in a
terminal)."""
from __future__ import annotations

import numpy as np
from conftest import recurrent_network

from engine import Network, Population, SpikeSource, Simulator


def test_network_repr_is_one_short_line():
    net = recurrent_network()
    r = repr(net)
    assert r == ("Network(dt=0.1 ms, seed=3, 500 neurons (exc 400 iaf_psc_exp, inh 100 iaf_psc_exp), "
                 "sources (noise 200 poisson), 6 projections, 3 monitors)")
    assert repr(Network()) == "Network(dt=0.1 ms, seed=0, 0 neurons, 0 projections, 0 monitors)"
    big = Network(dt=0.05, seed=1)
    big.add(*(Population(f"p{i}", 1000) for i in range(10)),
            SpikeSource("s", 2, times=np.array([1.0]), indices=np.array([0])))
    r = repr(big)
    assert "\n" not in r and len(r) < 200
    assert r.startswith("Network(dt=0.05 ms, seed=1, 10,000 neurons (p0 1,000 iaf_psc_exp, ")
    assert "... (10 in all)" in r and "sources (s 2 spikes)" in r


def test_simulator_repr_shows_synapses_trials_and_time():
    net = recurrent_network()
    sim = Simulator(net, trials=[3, 5])
    synapses = sim.memory_report()["synapses"]
    assert repr(sim) == (f"Simulator(500 neurons (exc 400, inh 100), {synapses:,} synapses, dt=0.1 ms, "
                         "trials=[3, 5], t=0 ms)")
    sim.run(10.0, progress=False)
    assert repr(sim).endswith("trials=[3, 5], t=10 ms)")
    assert "trials=2," in repr(Simulator(net, trials=2))


def test_progress_bar_is_tqdm_auto(monkeypatch):
    """Simulator.run(progress=True) draws with tqdm.auto, which picks the Jupyter widget or the terminal bar."""
    import tqdm.auto

    made = []

    class Recorder:
        def __init__(self, *args, **kwargs):
            made.append(kwargs)
            self.n = 0.0

        def update(self, n):
            self.n += n

        def set_postfix(self, **kwargs):
            pass

        def close(self):
            made.append(self.n)

    monkeypatch.setattr(tqdm.auto, "tqdm", Recorder)
    Simulator(recurrent_network(), chunk_ms=5.0).run(20.0, progress=True)
    assert made[0]["total"] == 20.0 and made[0]["unit"] == "ms"
    assert made[-1] == 20.0


def test_bars_show_by_default_in_a_notebook_and_a_terminal_but_not_in_a_pipe(monkeypatch):
    """``progress=None`` means: show the bar when someone is watching (a terminal, or a Jupyter kernel)."""
    import sys
    import types

    from engine.progress import interactive

    class Stream:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            return self.tty

    monkeypatch.setattr(sys, "stderr", Stream(False))
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert not interactive()
    monkeypatch.setattr(sys, "stderr", Stream(True))
    assert interactive()
    monkeypatch.setattr(sys, "stderr", Stream(False))
    ZMQInteractiveShell = type("ZMQInteractiveShell", (), {})
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: ZMQInteractiveShell()))
    assert interactive()
    TerminalShell = type("TerminalInteractiveShell", (), {})
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: TerminalShell()))
    assert not interactive()
