"""Simulator: holds the state of B trials of one network and runs them in chunks of many steps.

The one entry point of both simulation methods: ``Simulator(net)`` is the clock-driven
:class:`~engine.run.clock.ClockSimulator` (exact propagators on the grid of ``dt``), ``Simulator(net,
method="event")`` the exact event-driven :class:`~engine.run.event_driven.EventSimulator`; both are Simulators
with one interface (:mod:`engine.run.base` holds it: the run loop, per-trial inputs, results). Python regains
control only between chunks (``chunk_ms`` of biological time, default 100 ms, or earlier when a record buffer
fills) to hand recorded spikes to the in-memory monitors and to any sinks (such as
:class:`engine.io.spikefile.SpikeFileWriter`), update the progress bar and check for Ctrl-C. Each trial's random
numbers are keyed by ``(seed, trial id, ...)``, so trial ``k`` gives the same spikes whether it runs alone or in a
batch, on any number of threads.
"""
from engine.run.base import RunStats, Simulator
from engine.run.clock import ClockSimulator  # noqa: F401  (registers method="clock")
from engine.run.event_driven import EventSimulator  # noqa: F401  (registers method="event")

__all__ = ["Simulator", "RunStats"]
