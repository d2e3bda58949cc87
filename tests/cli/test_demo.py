"""``pond demo``, the main job: digits -> shipped CNN -> (ridge | spike encoder -> LSM -> ridge | ESN -> ridge), its
accuracy goals, its spike file and figure, and the command line."""
import numpy as np
import pytest

pytest.importorskip("onnxruntime")

from engine.io.spikefile import file_info  # noqa: E402
from pond.demo import pipelines, run_digits, summary_table  # noqa: E402


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return out, run_digits(str(out), seed=0, quiet=True, plot=True)


def test_the_demo_reaches_its_accuracy_goals(demo):
    _, res = demo
    feats, lsm, esn = (res[k]["accuracy"] for k in ("features", "lsm", "esn"))
    assert feats >= 0.97
    assert lsm >= 0.95 and lsm >= feats - 0.02, res["lsm"]
    assert esn >= 0.95 and esn >= feats - 0.02, res["esn"]
    assert res["y_test"].size == 540  # 30 % of the 1797 digits held out
    table = summary_table(res)
    for label in ("features alone", "through the LSM", "through the ESN"):
        assert label in table


def test_the_demo_writes_the_liquids_spikes_and_a_figure(demo):
    out, res = demo
    info = file_info(res["spikes_file"])
    assert info["complete"] and info["n_trials"] == 10 and info["n_spikes"] > 1000
    assert set(info["populations"]) == {"exc", "inh"}
    if res.get("figure"):
        assert (out / "digits_demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_pipelines_are_scikit_learn_pipelines_with_the_same_features():
    from sklearn.pipeline import Pipeline

    pipes = pipelines(seed=0, grid=(3, 3, 3), esn_units=50)
    assert set(pipes) == {"features", "lsm", "esn"}
    for pipe in pipes.values():
        assert isinstance(pipe, Pipeline) and pipe.steps[0][0] == "cnn" and pipe.steps[-1][0] == "readout"
    assert pipes["lsm"].named_steps["liquid"].get_params()["grid"] == (3, 3, 3)
    assert np.allclose(pipes["lsm"].named_steps["readout"].alpha, pipes["esn"].named_steps["readout"].alpha)


def test_run_digits_keeps_existing_outputs_unless_overwrite(tmp_path, monkeypatch):
    import pond.demo

    monkeypatch.setattr(pond.demo, "pipelines", lambda *a: pytest.fail("the demo started work"))
    (tmp_path / "digits_lsm_spikes.h5").write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="digits_lsm_spikes.h5' already exists; pass overwrite=True"):
        run_digits(str(tmp_path))
    assert (tmp_path / "digits_lsm_spikes.h5").read_bytes() == b"mine"
