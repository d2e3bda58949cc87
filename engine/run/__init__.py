"""Running a built network: the clock-driven :mod:`engine.run.simulator`, the exact :mod:`engine.run.event_driven`
mode, initial state per trial (:mod:`engine.run.initial_state`)."""
