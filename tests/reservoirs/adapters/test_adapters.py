"""Feature extractors (ONNX, torch, callables), the shipped digits models, saving, the package's layering."""
import copy
import doctest
import importlib
import json
import os
import pathlib
import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline

import readouts
from conftest import REPO, reference_tool
from reservoirs.adapters import CallableFeatures, OnnxFeatures, TorchFeatures
from reservoirs.adapters.zoo import SHIPPED, digits_split, shipped_features, shipped_path, shipped_weights_path

ROOT = REPO
ort = pytest.importorskip("onnxruntime") if not os.environ.get("CI") else importlib.import_module("onnxruntime")


@pytest.fixture(scope="module")
def digits():
    return digits_split()


@pytest.fixture(scope="module")
def cnn(digits):
    return shipped_features("digits_cnn").fit(digits[0])


# --- OnnxFeatures -----------------------------------------------------------------------------------------------------
def test_shipped_cnn_features_shape_and_batches(cnn, digits):
    X_test = digits[1]
    F = cnn.transform(X_test)
    assert F.shape == (540, 128) and F.dtype == np.float64 and F.min() >= 0
    assert cnn.n_features_in_ == 64 and cnn.n_features_out_ == 128 and cnn.model_input_shape_ == (1, 8, 8)
    np.testing.assert_array_equal(cnn.transform(X_test.reshape(-1, 1, 8, 8)), F)  # images or flat rows
    small = clone(cnn).set_params(batch_size=7).fit(digits[0])
    np.testing.assert_allclose(small.transform(X_test), F, rtol=0, atol=1e-6)
    whole = clone(cnn).set_params(batch_size=None, n_jobs=1).fit()
    np.testing.assert_allclose(whole.transform(X_test), F, rtol=0, atol=1e-6)


def test_shipped_models_classify_held_out_digits(cnn, digits):
    X_train, X_test, y_train, y_test = digits
    pipe = Pipeline([("cnn", clone(cnn)), ("ridge", readouts.RidgeClassifier(alpha=np.logspace(-4, 3, 15)))])
    assert pipe.fit(X_train, y_train).score(X_test, y_test) >= 0.98
    vae = Pipeline([("vae", shipped_features("digits_vae")),
                    ("ridge", readouts.RidgeClassifier(alpha=np.logspace(-4, 3, 15)))])
    assert vae.fit(X_train, y_train).score(X_test, y_test) >= 0.85


def test_onnx_intermediate_output(cnn, digits):
    pytest.importorskip("onnx") if not os.environ.get("CI") else importlib.import_module("onnx")
    relu = OnnxFeatures(shipped_path("digits_cnn"), output="/0/0.1/Relu_output_0").fit(digits[0])
    F = relu.transform(digits[1][:5])
    assert F.shape == (5, 16 * 8 * 8) and F.min() >= 0
    # the stored model exposes the tensor, so a saved copy needs no onnx package to load
    assert relu.output_name_ == "/0/0.1/Relu_output_0"


def test_onnx_save_load_copy(cnn, digits, tmp_path):
    X = digits[1][:50]
    F = cnn.transform(X)
    for ext in ("npz", "h5"):
        path = tmp_path / f"cnn.{ext}"
        cnn.save(path)
        back = readouts.load(path)
        np.testing.assert_array_equal(back.transform(X), F)
    moved = tmp_path / "moved.onnx"
    moved.write_bytes(pathlib.Path(shipped_path("digits_cnn")).read_bytes())
    est = OnnxFeatures(moved).fit()
    est.save(tmp_path / "moved.npz")
    moved.unlink()  # the saved file holds the model itself
    np.testing.assert_array_equal(readouts.load(tmp_path / "moved.npz").transform(X), F)
    np.testing.assert_array_equal(copy.deepcopy(cnn).transform(X), F)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(cnn)).transform(X), F)


def test_tampered_onnx_file_is_refused(cnn, tmp_path):
    path = tmp_path / "cnn.npz"
    cnn.save(path)
    with np.load(path) as z:
        data = dict(z)
    data["obj0/onnx_model_"] = data["obj0/onnx_model_"][:100]
    np.savez(path, **data)
    with pytest.raises(ValueError, match="onnx_model_ does not match its SHA-256 digest"):
        readouts.load(path)
    del data["obj0/onnx_sha256_"]  # a file from before the digest: the bytes themselves are checked
    header = json.loads(str(data["__header__"]))
    header["objects"][0]["arrays"].remove("onnx_sha256_")
    data["__header__"] = np.array(json.dumps(header))
    np.savez(path, **data)
    with pytest.raises(ValueError, match="not a valid ONNX model"):
        readouts.load(path)


def test_onnx_bytes_edited_in_the_middle_are_refused(cnn, tmp_path):
    """Issue 25: a byte changed inside the weights still parses and loaded silently; the file keeps a digest."""
    path = tmp_path / "cnn.npz"
    cnn.save(path)
    with np.load(path) as z:
        data = dict(z)
    model = data["obj0/onnx_model_"].copy()
    model[model.size // 2] ^= 0x01
    data["obj0/onnx_model_"] = model
    np.savez(path, **data)
    with pytest.raises(ValueError, match="onnx_model_ does not match its SHA-256 digest"):
        readouts.load(path)


@pytest.mark.parametrize("X, match", [
    (np.zeros((3, 63)), "X has 63 features, but OnnxFeatures is expecting 64"),
    (np.zeros((3, 1, 9, 9)), "takes samples of shape \\(1, 8, 8\\)"),
    (np.full((2, 64), np.nan), "NaN"),
    (np.zeros(64), "at least 2 dimensions"),
    (np.array([["a"] * 64]), "cannot be converted"),
])
def test_onnx_bad_input(cnn, X, match):
    with pytest.raises(ValueError, match=match):
        cnn.transform(X)


def test_onnx_wrong_shape_is_refused_in_fit(digits):
    with pytest.raises(ValueError, match="takes samples of shape \\(1, 8, 8\\).*flat rows of 64 values"):
        shipped_features("digits_cnn").fit(np.zeros((2, 60)))
    with pytest.raises(ValueError, match="cannot be reshaped to input_shape=\\(1, 8, 8\\)"):
        shipped_features("digits_cnn", input_shape=(1, 8, 8)).fit(np.zeros((2, 60)))


def test_onnx_bad_files(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_text("not a model")
    with pytest.raises(ValueError, match="is not a valid ONNX model"):
        OnnxFeatures(bad).fit()
    with pytest.raises(FileNotFoundError, match="no such file"):
        OnnxFeatures(tmp_path / "missing.onnx").fit()
    with pytest.raises(ValueError, match="path=None"):
        OnnxFeatures().fit()
    with pytest.raises(ValueError, match="parameter path=3"):
        OnnxFeatures(3).fit()
    with pytest.raises(ValueError, match="output='logits' names no tensor.*Outputs: 'features'"):
        OnnxFeatures(shipped_path("digits_cnn"), output="logits").fit()
    with pytest.raises(ValueError, match="batch_size=0"):
        OnnxFeatures(shipped_path("digits_cnn"), batch_size=0).fit()
    with pytest.raises(ValueError, match="input_shape=\\(0, 8\\)"):
        OnnxFeatures(shipped_path("digits_cnn"), input_shape=(0, 8)).fit()
    with pytest.raises(ValueError, match="unknown; shipped models: digits_cnn, digits_vae"):
        shipped_path("cnn")


# --- CallableFeatures -------------------------------------------------------------------------------------------------
def test_callable_features_batches_and_checks():
    X = np.arange(12.0).reshape(6, 2)
    f = CallableFeatures(lambda b: np.hstack([b, b ** 2]), batch_size=4).fit(X)
    np.testing.assert_array_equal(f.transform(X), np.hstack([X, X ** 2]))
    img = CallableFeatures(lambda b: b.sum(axis=(2, 3)), input_shape=(1, 2, 3)).fit(np.zeros((2, 6)))
    assert img.transform(np.ones((2, 6))).tolist() == [[6.0], [6.0]]
    with pytest.raises(ValueError, match="fn=3 is invalid; it must be callable"):
        CallableFeatures(3).fit()
    with pytest.raises(ValueError, match="one row per sample"):
        CallableFeatures(lambda b: b[:1]).fit(X).transform(X)
    with pytest.raises(ValueError, match="features of 3 sample\\(s\\) hold NaN or infinity \\(rows \\[3, 4, 5\\]\\)"):
        CallableFeatures(lambda b: np.where(b > 5, np.nan, b)).fit_transform(X)
    with pytest.raises(ValueError, match="fn failed on a batch of shape \\(1, 2\\): ZeroDivisionError"):
        CallableFeatures(lambda b: 1 / 0).fit(X)
    with pytest.raises(Exception, match="not fitted"):
        CallableFeatures(np.tanh).transform(X)


# --- torch ------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def torch():
    return reference_tool("torch")


@pytest.fixture(scope="module")
def torch_cnn(torch):
    from reservoirs.adapters.zoo import load_model

    return load_model(shipped_weights_path("digits_cnn"))


def test_torch_and_onnx_features_equal_the_model(torch, torch_cnn, cnn, digits, tmp_path):
    X = digits[1][:100]
    with torch.no_grad():
        direct = torch_cnn.feature_extractor()(torch.as_tensor(X.reshape(-1, 1, 8, 8), dtype=torch.float32))
    direct = direct.numpy()
    tf = TorchFeatures(torch_cnn, layer="flatten", input_shape=(1, 8, 8), batch_size=33).fit(digits[0])
    np.testing.assert_allclose(tf.transform(X), direct, rtol=0, atol=1e-5)
    np.testing.assert_allclose(cnn.transform(X), direct, rtol=0, atol=1e-5)  # the shipped ONNX file
    exported = tf.to_onnx(tmp_path / "cut.onnx", X[:1])
    np.testing.assert_allclose(exported.transform(X), direct, rtol=0, atol=1e-5)
    # cut inside the stack, unflattened
    tf4 = TorchFeatures(torch_cnn, layer="features.2", input_shape=(1, 8, 8), flatten=False).fit()
    assert tf4.transform(X).shape == (100, 16, 4, 4)
    whole = TorchFeatures(torch_cnn, input_shape=(1, 8, 8)).fit()  # layer=None: the module's own output (logits)
    assert whole.transform(X).shape == (100, 10)


def test_torch_features_restore_modes_and_threads(torch, torch_cnn, digits):
    torch_cnn.train()
    torch_cnn.head.eval()
    threads = torch.get_num_threads()
    TorchFeatures(torch_cnn, layer="flatten", n_jobs=1).fit(digits[0][:3]).transform(digits[0][:3])
    assert torch_cnn.training and torch_cnn.features.training and not torch_cnn.head.training
    assert torch.get_num_threads() == threads
    torch_cnn.eval()


def test_torch_features_errors(torch, torch_cnn):
    with pytest.raises(ValueError, match="layer='flaten' names no submodule of CNN. Did you mean 'flatten'"):
        TorchFeatures(torch_cnn, layer="flaten").fit()
    with pytest.raises(ValueError, match="module=str is invalid; it must be a torch.nn.Module"):
        TorchFeatures("cnn").fit()
    with pytest.raises(ValueError, match="CNN failed on a batch of shape \\(1, 1, 9, 9\\)"):
        TorchFeatures(torch_cnn, layer="flatten").fit(np.zeros((2, 1, 9, 9)))
    with pytest.raises(ValueError, match="NaN"):
        TorchFeatures(torch_cnn, layer="flatten").fit().transform(np.full((1, 64), np.nan))
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.used, self.unused = torch.nn.Linear(3, 2), torch.nn.Linear(2, 2)

        def forward(self, x):
            return self.used(x)

    net = Net()
    with pytest.raises(ValueError, match="layer 'unused' was not called"):
        TorchFeatures(net, layer="unused").fit(np.zeros((1, 3)))


def test_shipped_files_match_a_fresh_export_of_their_weights(torch, digits, tmp_path):
    """The shipped ONNX files are the exports of the shipped weights (which train_shipped.py writes together)."""
    from reservoirs.adapters.zoo import export_features, load_model

    X = digits[1][:64]
    for name in SHIPPED:
        model = load_model(shipped_weights_path(name))
        fresh = OnnxFeatures(export_features(model, tmp_path / f"{name}.onnx")).fit(X)
        shipped = OnnxFeatures(shipped_path(name)).fit(X)
        np.testing.assert_allclose(shipped.transform(X), fresh.transform(X), rtol=0, atol=1e-5)


# --- packaging and layering -------------------------------------------------------------------------------------------
@pytest.mark.subprocess
def test_import_without_torch_runs_the_shipped_model():
    code = ("import sys\n"
            "class NoTorch:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'torch':\n"
            "            raise ImportError('No module named torch (blocked)')\n"
            "sys.meta_path.insert(0, NoTorch())\n"
            "import reservoirs.adapters as a, reservoirs.adapters.zoo as z\n"
            "from reservoirs.adapters.zoo import digits_split, shipped_features\n"
            "X = digits_split()[1][:4]\n"
            "print(shipped_features('digits_cnn').fit(X).transform(X).shape)\n"
            "try:\n    z.CNN\nexcept ImportError as e:\n    print(e)\n"
            "try:\n    a.TorchFeatures(None).fit()\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "(4, 128)"
    assert "needs PyTorch" in lines[1] and "pond[torch]" in lines[1]
    assert "TorchFeatures needs torch" in lines[2] and "pond[torch]" in lines[2]


def test_rest_of_reservoirs_never_imports_adapters():
    for path in (ROOT / "reservoirs").rglob("*.py"):
        if "adapters" in path.relative_to(ROOT / "reservoirs").parts:
            continue
        text = path.read_text()
        assert "reservoirs.adapters" not in text and "from . import adapters" not in text, path
    assert not (ROOT / "adapters").exists()


def test_shipped_files_are_package_data():
    cfg = (ROOT / "setup.cfg").read_text()
    assert "reservoirs.adapters.zoo = shipped/*.onnx, shipped/*.npz" in cfg
    for name in SHIPPED:
        assert os.path.getsize(shipped_path(name)) < 200_000 and os.path.getsize(shipped_weights_path(name)) < 200_000


@pytest.mark.parametrize("name", ["reservoirs.adapters.features", "reservoirs.adapters.zoo.shipped",
                                  "engine.random", "reservoirs.adapters.zoo", "reservoirs.adapters.zoo.models"])
def test_docstring_examples(name):
    if name.endswith(("features", "zoo", "models")):
        reference_tool("torch")
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
