"""``pond demo``, the main job, a task with time in it: streams of digits -> shipped CNN -> (ridge | spike encoder ->
LSM -> ridge | ESN -> ridge) name the digit shown one item back; its accuracy goals against chance, the memory curve,
the liquid's regime, its spike file and figure, and the command line."""
import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("neo")

from engine.io.spikefile import file_info  # noqa: E402
from pond.demo import STREAM_ITEMS, lagged, pipelines, run_digits, scored, summary_table  # noqa: E402


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return out, run_digits(str(out), seed=0, quiet=True, plot=True)


@pytest.mark.slow
def test_the_demo_reaches_its_accuracy_goals_on_the_temporal_task(demo):
    """The README's figures (seed 0: features 7.6 %, LSM 31.9 %, ESN 96.9 % one item back, chance 10.9 %): the
    features alone stay near chance for every earlier item, the reservoirs remember, and their memory fades."""
    _, res = demo
    chance = res["chance"]
    assert 0.09 <= chance <= 0.13 and res["scored"] == 18 * (STREAM_ITEMS - 3)  # 540 held out, 18 streams
    feats, lsm, esn = (res[k]["memory"] for k in ("features", "lsm", "esn"))
    assert feats[0] >= 0.97  # the current digit: the CNN's features know it
    assert all(a <= chance + 0.05 for a in feats[1:])  # any earlier digit: chance
    assert res["lsm"]["accuracy"] == lsm[1] >= max(0.25, 2 * chance)
    assert lsm[0] > lsm[1] > lsm[2] and lsm[2] >= chance  # fading memory
    assert res["esn"]["accuracy"] == esn[1] >= 0.9 and esn[2] >= 0.6 and esn[3] <= chance + 0.05
    table = summary_table(res)
    for label in ("features alone", "through the LSM", "through the ESN", "chance", "1 item back", "ISI CV",
                  "spike contrast"):
        assert label in table


@pytest.mark.slow
def test_the_demos_liquid_is_asynchronous_and_irregular(demo):
    """Stated bounds of the regime (seed 0: 15.1 Hz, ISI CV 0.73, spike contrast 0.27): a few to a few tens of Hz,
    irregular (CV 0.5-1.5, against about 0.02 for the volleys of the liquid before issue 24) and not synchronous."""
    _, res = demo
    reg = res["regime"]
    assert 5.0 <= reg["rate_hz"] <= 40.0
    assert 0.5 <= reg["cv"] <= 1.5
    assert reg["spike_contrast"] <= 0.4
    for pop in ("exc", "inh"):
        assert reg["populations"][pop]["mean_firing_rate"] <= 60.0


@pytest.mark.slow
def test_the_demo_writes_the_liquids_spikes_and_a_figure(demo):
    out, res = demo
    info = file_info(res["spikes_file"])
    assert info["complete"] and info["n_trials"] == 3 and info["n_spikes"] > 1000
    assert info["metadata"]["duration_ms"] == STREAM_ITEMS * 20.0
    assert set(info["populations"]) == {"exc", "inh"}
    if res.get("figure"):
        assert (out / "digits_demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_pipelines_are_scikit_learn_pipelines_over_streams():
    from sklearn.pipeline import Pipeline

    pipes = pipelines(seed=0, grid=(3, 3, 3), esn_units=50)
    assert set(pipes) == {"features", "lsm", "esn"}
    for pipe in pipes.values():
        assert isinstance(pipe, Pipeline) and pipe.steps[0][0] == "cnn" and pipe.steps[-1][0] == "readout"
    liquid = pipes["lsm"].named_steps["liquid"].get_params()
    assert liquid["grid"] == (3, 3, 3) and liquid["A"] is None and liquid["input_A"] == "auto"
    assert np.allclose(pipes["lsm"].named_steps["readout"].alpha, pipes["esn"].named_steps["readout"].alpha)
    # the stream steps: items in, one row per item out
    rng = np.random.default_rng(0)
    F = rng.uniform(0, 1, (2 * STREAM_ITEMS, 128))
    streams = pipes["lsm"][1:3].fit_transform(F)
    assert len(streams) == 2 and streams[0][0].max() < STREAM_ITEMS * 20.0
    held = pipes["esn"].named_steps["stream"].transform(F)
    assert held.shape == (2, STREAM_ITEMS * 2, 128) and np.array_equal(held[1, 2], F[STREAM_ITEMS + 1])
    with pytest.raises(ValueError, match="whole streams of 30"):
        pipes["esn"].named_steps["stream"].transform(F[:-1])
    assert lagged(np.arange(5), 1).tolist() == [4, 0, 1, 2, 3]
    assert scored(2 * STREAM_ITEMS).sum() == 2 * (STREAM_ITEMS - 3)


def test_run_digits_keeps_existing_outputs_unless_overwrite(tmp_path, monkeypatch):
    import pond.demo

    monkeypatch.setattr(pond.demo, "pipelines", lambda *a: pytest.fail("the demo started work"))
    (tmp_path / "digits_lsm_spikes.h5").write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="digits_lsm_spikes.h5' already exists; pass overwrite=True"):
        run_digits(str(tmp_path))
    assert (tmp_path / "digits_lsm_spikes.h5").read_bytes() == b"mine"
