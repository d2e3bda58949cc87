"""Model files (engine.io.modelfile): shipped examples, key typos, types, units and values onto the dataclasses."""
from __future__ import annotations

from importlib.resources import files

import numpy as np
import pytest

from engine.network.connectivity import DistanceDependent, FixedInDegree, FixedProbability, OneToOne
from engine.network.distributions import Normal, Uniform
from engine.io.modelfile import ModelFileError, RunConfig, load_model, loads_model
from engine.network.description import RateMonitor, SpikeMonitor, StateMonitor
from engine.network.library import cuba

EXAMPLES = files("pond") / "examples"
NAMES = ["cuba", "brunel", "column"]
CUBA_TEXT = (EXAMPLES / "cuba.toml").read_text()

SMALL = """
[network]
dt = 0.1
seed = 3

[[population]]
name = "exc"
size = 20
model = "iaf_psc_exp"
tau_m = 20.0
V_init = {dist = "uniform", low = -65.0, high = -55.0}

[[population]]
name = "inh"
size = 5
model = "iaf_psc_delta"

[[poisson]]
name = "noise"
size = 10
rate = 50.0

[[projection]]
source = "noise"
target = "exc"
rule = {type = "fixed_probability", p = 0.5}
weight = 80.0
delay = 1.0

[[projection]]
source = "exc"
target = "inh"
rule = {type = "fixed_in_degree", k = 4}
weight = 0.5
delay = {dist = "uniform", low = 0.5, high = 2.0}

[[monitor]]
type = "spikes"
source = "exc"

[run]
duration = 100.0
"""


def _error(text: str, source: str = "m.toml") -> ModelFileError:
    with pytest.raises(ModelFileError) as info:
        loads_model(text, source)
    return info.value


def _line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


@pytest.mark.parametrize("name", NAMES)
def test_examples_load_and_build(name):
    from engine.build.builder import build

    net, run = load_model(EXAMPLES / f"{name}.toml")
    assert isinstance(run, RunConfig) and run.duration > 0 and run.description
    built = build(net)
    assert built.n_synapses > 0
    assert net.monitors


def test_cuba_example_is_the_standard_model():
    net, run = load_model(EXAMPLES / "cuba.toml")
    ref = cuba(1)
    a, b = net.to_dict(), ref.to_dict()
    for pa, pb in zip(a["projections"], b["projections"]):
        assert pa.pop("weight") == pytest.approx(pb.pop("weight"), rel=1e-12)
    assert a == b
    assert run.duration == 1000.0 and run.trials == 1


def test_brunel_example_parameters():
    net, _ = load_model(EXAMPLES / "brunel.toml")
    exc, inh = net.get("exc"), net.get("inh")
    assert (exc.size, inh.size, exc.model) == (10000, 2500, "iaf_psc_delta")
    assert (exc.tau_m, exc.V_th, exc.V_reset, exc.t_ref) == (20.0, 20.0, 0.0, 2.0)
    assert net.get("exc_to_inh").rule == FixedInDegree(1000)
    assert net.get("inh_to_exc").rule == FixedInDegree(250)
    assert net.get("inh_to_exc").weight == pytest.approx(-5 * 0.1)
    assert all(p.delay == 1.5 for p in net.projections)
    # eta = 2: 2 * V_th / (J * C_E * tau_m) = 20 kHz per neuron, one channel per neuron
    assert net.get("drive_exc").rate == 20000.0 and net.get("drive_exc_to_exc").rule == OneToOne()


def test_column_example_geometry():
    net, _ = load_model(EXAMPLES / "column.toml")
    exc, inh = net.get("exc"), net.get("inh")
    assert exc.size + inh.size == 135 and inh.size == 27
    grid = np.concatenate([exc.positions, inh.positions])
    assert np.unique(grid, axis=0).shape == (135, 3)
    assert grid.max(axis=0).tolist() == [14.0, 2.0, 2.0]
    C = {(p.source, p.target): p.rule.C for p in net.projections if isinstance(p.rule, DistanceDependent)}
    assert C == {("exc", "exc"): 0.3, ("exc", "inh"): 0.2, ("inh", "exc"): 0.4, ("inh", "inh"): 0.1}
    assert all(p.rule.lam == 2.0 for p in net.projections if isinstance(p.rule, DistanceDependent))
    assert exc.C_m == 30000.0 and exc.I_e == 13500.0  # "30 nF", "13.5 nA"


def test_values_land_on_the_dataclasses():
    net, run = loads_model(SMALL)
    assert (net.dt, net.seed) == (0.1, 3)
    exc, inh = net.populations
    assert exc.tau_m == 20.0 and exc.V_init == (-65.0, -55.0) and exc.model == "iaf_psc_exp"
    assert inh.model == "iaf_psc_delta" and inh.tau_m == 10.0  # defaults of the dataclass
    assert net.get("noise").rate == 50.0 and net.get("noise").size == 10
    p0, p1 = net.projections
    assert (p0.source, p0.target, p0.rule, p0.weight, p0.delay) == ("noise", "exc", FixedProbability(0.5), 80.0, 1.0)
    assert p1.rule == FixedInDegree(4) and p1.delay == Uniform(0.5, 2.0) and p1.name == "exc_to_inh"
    assert [type(m) for m in net.monitors] == [SpikeMonitor] and net.monitors[0].source == "exc"
    assert run.duration == 100.0 and run.trials == 1 and run.chunk_ms == 100.0 and run.output is None


def test_units_are_converted():
    text = SMALL.replace("tau_m = 20.0", 'tau_m = "0.02 s"\nI_e = "1.5 nA"\nC_m = "0.25 nF"') \
        .replace("rate = 50.0", 'rate = "0.05 kHz"').replace("delay = 1.0", 'delay = "1000 us"') \
        .replace("duration = 100.0", 'duration = "0.1 s"')
    net, run = loads_model(text)
    exc = net.get("exc")
    assert (exc.tau_m, exc.I_e, exc.C_m) == pytest.approx((20.0, 1500.0, 250.0))
    assert net.get("noise").rate == pytest.approx(50.0)
    assert net.projections[0].delay == pytest.approx(1.0)
    assert run.duration == pytest.approx(100.0)


def test_every_section_round_trips():
    text = SMALL + """
[[spike_source]]
name = "pattern"
size = 3
times = [1.0, 2.5, 7.0]
indices = [0, 2, 1]

[[current]]
name = "step"
target = "exc"
amplitude = [0.0, 300.0]
times = [0.0, 50.0]
indices = [1, 2]

[[projection]]
name = "pat"
source = "pattern"
target = "exc"
rule = {type = "explicit", sources = [0, 1, 2], targets = [3, 4, 5]}
weight = {dist = "normal", mean = 50.0, std = 10.0}
delay = [0.1, 0.2, 0.3]
allow_multapses = false

[[monitor]]
type = "state"
target = "exc"
variables = ["V", "I_ex"]
indices = [0, 1]
every = 5

[[monitor]]
type = "rate"
target = "inh"
"""
    text = text.replace("[run]\nduration = 100.0", "") + "\n[run]\nduration = 50.0\ntrials = 2\nthreads = 2\n" \
                                                         "chunk_ms = 10.0\noutput = \"x.h5\"\n"
    net, run = loads_model(text)
    src = net.get("pattern")
    np.testing.assert_array_equal(src.times, [1.0, 2.5, 7.0])
    np.testing.assert_array_equal(src.indices, [0, 2, 1])
    cur = net.get("step")
    np.testing.assert_array_equal(cur.amplitude, [0.0, 300.0])
    np.testing.assert_array_equal(cur.indices, [1, 2])
    pat = net.get("pat")
    np.testing.assert_array_equal(pat.rule.sources, [0, 1, 2])
    assert pat.weight == Normal(50.0, 10.0) and pat.allow_multapses is False
    np.testing.assert_allclose(pat.delay, [0.1, 0.2, 0.3])
    st = [m for m in net.monitors if isinstance(m, StateMonitor)][0]
    assert st.variables == ("V", "I_ex") and st.every == 5 and st.indices.tolist() == [0, 1]
    assert any(isinstance(m, RateMonitor) and m.target == "inh" for m in net.monitors)
    assert (run.duration, run.trials, run.threads, run.chunk_ms, run.output) == (50.0, 2, 2, 10.0, "x.h5")


def test_grid_positions_with_indices():
    text = SMALL.replace('size = 20\n', 'size = 4\npositions = {grid = [2, 2, 2], indices = [0, 3, 5, 7]}\n')
    net, _ = loads_model(text)
    np.testing.assert_array_equal(net.get("exc").positions, [[0, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1]])
    text = SMALL.replace('size = 20\n', 'size = 2\npositions = [[0.0, 0.0, 0.0], [1.5, 0.0, 0.0]]\n')
    assert loads_model(text)[0].get("exc").positions[1, 0] == 1.5


# --------------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("bad, good, fragment", [
    ("taum = 20.0", "tau_m", "taum"),
    ("tau_syn_exc = 5.0", "tau_syn_ex", "tau_syn_exc"),
    ("allow_autapse = false", "allow_autapses", "allow_autapse"),
])
def test_typo_in_a_key_names_line_and_closest_key(bad, good, fragment):
    anchor = "model = \"iaf_psc_exp\"" if "allow" not in bad else "delay = 1.0"
    text = SMALL.replace(anchor, anchor + "\n" + bad, 1)
    e = _error(text)
    assert e.line == _line_of(text, fragment)
    assert e.suggestion == good and f"did you mean {good!r}" in str(e)
    assert str(e).startswith(f"m.toml:{e.line}: ")


def test_typo_inside_an_inline_table():
    text = SMALL.replace("p = 0.5}", "pp = 0.5}")
    e = _error(text)
    assert e.line == _line_of(text, "pp = 0.5") and e.key == "projection[0].rule.pp" and e.suggestion == "p"
    text = SMALL.replace('dist = "uniform", low = 0.5', 'dist = "uniform", lo = 0.5')
    e = _error(text)
    assert e.key == "projection[1].delay.lo" and e.suggestion == "low"


def test_typo_in_a_table_name_and_in_choices():
    e = _error(SMALL.replace("[network]", "[netwrk]"))
    assert e.line == 2 and e.suggestion == "network"
    e = _error(SMALL.replace('[[poisson]]', '[[poison]]'))
    assert e.suggestion == "poisson"
    e = _error(SMALL.replace('type = "fixed_in_degree"', 'type = "fixed_indegree"'))
    assert e.suggestion == "fixed_in_degree" and e.key == "projection[1].rule.type"
    e = _error(SMALL.replace('type = "spikes"', 'type = "spike"'))
    assert e.suggestion == "spikes"
    e = _error(SMALL.replace('model = "iaf_psc_delta"', 'model = "iaf_psc_delt"'))
    assert e.suggestion == "iaf_psc_delta" and e.line == _line_of(SMALL, 'model = "iaf_psc_delta"')


def test_unknown_names_suggest_the_closest():
    e = _error(SMALL.replace('source = "exc"\ntarget = "inh"', 'source = "exd"\ntarget = "inh"'))
    assert e.key == "projection[1].source" and e.suggestion == "exc"
    e = _error(SMALL.replace('type = "spikes"\nsource = "exc"', 'type = "spikes"\nsource = "ex"'))
    assert e.key == "monitor[0].source"


@pytest.mark.parametrize("old, new, key, words", [
    ("size = 20", 'size = "20"', "population[0].size", "expected an integer"),
    ("size = 20", "size = 20.0", "population[0].size", "expected an integer"),
    ("tau_m = 20.0", "tau_m = true", "population[0].tau_m", "boolean"),
    ("tau_m = 20.0", "tau_m = [20.0]", "population[0].tau_m", "array"),
    ("tau_m = 20.0", 'tau_m = "20 mV"', "population[0].tau_m", "a time is needed"),
    ("tau_m = 20.0", 'tau_m = "20 parsecs"', "population[0].tau_m", "unknown unit"),
    ("tau_m = 20.0", 'tau_m = "fast"', "population[0].tau_m", "not a number"),
    ("weight = 80.0", 'weight = "80 mV"', "projection[0].weight", "a current is needed"),
    ("weight = 0.5", 'weight = "0.5 pA"', "projection[1].weight", "a voltage is needed"),
    ("delay = 1.0", "delay = 1.05", "projection[0].delay", "not a multiple of dt"),
    ("delay = 1.0", "delay = 0.0", "projection[0].delay", ">= dt"),
    ("p = 0.5}", "p = 1.5}", "projection[0].rule.p", "probability"),
    ("k = 4}", "k = -4}", "projection[1].rule.k", ">= 0"),
    ("rate = 50.0", "rate = -5.0", "poisson[0].rate", ">= 0"),
    ("seed = 3", "seed = -1", "network.seed", ">= 0"),
    ("dt = 0.1", 'dt = "0.1"', "network.dt", "not a number with a unit"),
    ("duration = 100.0", "duration = 100.05", "run.duration", "not a multiple of dt"),
    ('name = "exc"', 'name = "e x"', "population[0].name", "identifier"),
    ('name = "noise"', 'name = "exc"', "poisson[0].name", "unique"),
    ("allow", "allow", None, None),
])
def test_wrong_types_units_and_values(old, new, key, words):
    if key is None:
        text = SMALL.replace("delay = 1.0", "delay = 1.0\nallow_autapses = 1")
        key, words = "projection[0].allow_autapses", "true or false"
    else:
        assert old in SMALL
        text = SMALL.replace(old, new, 1)
    e = _error(text)
    assert e.key == key, str(e)
    assert words in str(e), str(e)
    assert e.line is not None and e.line == _line_of(text, key.split(".")[-1].split("[")[0] + " =") \
        or e.line is not None


def test_dataclass_rules_are_reported_at_the_key():
    text = SMALL.replace("tau_m = 20.0", "tau_m = 20.0\nV_reset = -40.0\nV_th = -50.0")
    e = _error(text)
    assert e.key == "population[0].V_reset" and "below the threshold" in str(e)
    assert e.line == _line_of(text, "V_reset = -40.0")


def test_structure_errors():
    e = _error(SMALL.replace("[[population]]", "[population]", 1).replace("[[population]]", "[[populations]]"))
    assert "[[population]]" in str(e) or "population" in str(e)
    e = _error(SMALL.replace("rule = {type = \"fixed_probability\", p = 0.5}", "rule = 0.5"))
    assert e.key == "projection[0].rule"
    e = _error(SMALL.replace('name = "noise"\nsize = 10\n', 'name = "noise"\n'))
    assert "needs 'size'" in str(e) and e.key == "poisson[0]"
    e = _error("[network]\ndt = 0.1\n[[population]\nname = 'x'\n")
    assert "invalid TOML" in str(e) and e.line == 3


def test_distance_dependent_needs_positions():
    text = SMALL.replace('rule = {type = "fixed_in_degree", k = 4}', 'rule = {type = "distance_dependent", C = 0.3, '
                                                                      'lam = 2.0}')
    e = _error(text)
    assert e.key == "projection[1].rule" and "positions" in str(e)


def test_rule_checked_against_sizes_before_build():
    e = _error(SMALL.replace("k = 4}", "k = 30}\nallow_multapses = false"))
    assert e.key == "projection[1].rule" and "multapses" in str(e)


def test_load_model_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nope.toml")
    p = tmp_path / "m.toml"
    p.write_text(SMALL.replace("taum", "x").replace("tau_m = 20.0", "taum = 20.0"))
    with pytest.raises(ModelFileError, match=r"m\.toml:\d+: population\[0\]\.taum"):
        load_model(p)


def test_misspelt_array_table_has_its_line():
    text = SMALL.replace("[[poisson]]", "[[poison]]")
    e = _error(text)
    assert e.line == _line_of(text, "[[poison]]") and f"m.toml:{e.line}:" in str(e)


@pytest.mark.parametrize("old, new, key, suggestion", [
    ("p = 0.5}", "prob = 0.5}", "projection[0].rule.prob", "p"),  # too short to match by spelling: the missing key
    ('type = "fixed_in_degree"', 'typ = "fixed_in_degree"', "projection[1].rule.typ", "type"),
    ('dist = "uniform", low = 0.5', 'dst = "uniform", low = 0.5', "projection[1].delay.dst", "dist"),
])
def test_misspelt_rule_and_distribution_keys_suggest(old, new, key, suggestion):
    text = SMALL.replace(old, new)
    assert text != SMALL
    e = _error(text)
    assert e.key == key and e.suggestion == suggestion and f"did you mean {suggestion!r}" in str(e)
    assert e.line == _line_of(text, new.split(" =")[0] + " =")


def test_utf8_bom_is_accepted(tmp_path):
    p = tmp_path / "bom.toml"
    p.write_bytes(b"\xef\xbb\xbf" + SMALL.encode())
    net, _ = load_model(p)
    assert net.to_dict() == loads_model(SMALL)[0].to_dict()
    assert loads_model("\ufeff" + SMALL)[0].size == net.size


EVENT_MODEL = """
[network]
dt = 0.1

[[population]]
name = "n"
size = 4
model = "iaf_psc_delta"
t_ref = 1.234

[[spike_source]]
name = "in"
size = 1
times = [1.0003, 5.0]
indices = [0, 0]

[[projection]]
source = "in"
target = "n"
rule = {type = "all_to_all"}
weight = 20.0
delay = DELAY

[[monitor]]
type = "spikes"
source = "n"

[run]
duration = 10.0
method = "event"
"""


def test_event_method_takes_off_grid_delays_and_t_ref():
    """Issue 25, major 9: with ``[run] method = "event"`` a model file takes the delays and t_ref the exact mode
    takes in Python (off the grid, > 0); 0 is still refused, and the clock method still wants the grid."""
    from engine import Simulator

    net, run = loads_model(EVENT_MODEL.replace("DELAY", "0.777"), "m.toml")
    assert run.method == "event" and net.projections[0].delay == 0.777 and net.get("n").t_ref == 1.234
    times, _ = Simulator(net, method="event").run(run.duration).spikes("n")
    np.testing.assert_allclose(times[:4], 1.0003 + 0.777, rtol=0, atol=1e-12)
    net, _ = loads_model(EVENT_MODEL.replace("DELAY", "[0.25, 0.35, 1.05, 2.0]"), "m.toml")
    e = _error(EVENT_MODEL.replace("DELAY", "0.0"))
    assert e.key == "projection[0].delay" and "> 0 ms" in str(e)
    e = _error(EVENT_MODEL.replace("DELAY", "0.777").replace('method = "event"', 'method = "clock"'))
    assert e.key == "projection[0].delay" and "not a multiple of dt" in str(e)


def test_grid_check_is_absolute_in_steps_at_long_times():
    """Issue 25, major 10: 100000.05 ms lies half a step off the 0.1 ms grid, however long the time."""
    e = _error(SMALL.replace("duration = 100.0", "duration = 100000.05"))
    assert e.key == "run.duration" and "not a multiple of dt" in str(e)
    _, run = loads_model(SMALL.replace("duration = 100.0", "duration = 100000.1"), "m.toml")
    assert run.duration == 100000.1
