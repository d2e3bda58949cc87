"""The Examples sections of the docstrings run as written."""
import doctest
import importlib

import pytest

MODULES = ["engine.network.connectivity", "engine.network.distributions", "engine.network.description",
           "engine.io.modelfile", "engine.run.base", "engine.run.event_driven", "engine.io.spikefile.writer",
           "readouts._online", "readouts._ridge", "reservoirs.esn", "reservoirs.sweeps", "pond.pynn"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples left to run"
    assert result.failed == 0
