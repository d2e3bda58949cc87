"""Neuron and synapse models, one place each, as NEST's ``models/`` folder.

A model's spec says everything the rest of the engine needs of it: its parameters (unit, default, rule), its state
variables, its weight unit, how to turn its parameters into the kernel's constants, and which compiled update runs it.
"""
import engine.kernels  # noqa: F401,E402  (covers this package in the kernels' cache key before any update is compiled)
