"""Feature extractors: trained nets as scikit-learn transformers that map a batch of inputs to feature vectors.

:class:`OnnxFeatures` runs any ONNX model through onnxruntime (small, CPU, no compiler) cut at a named output,
:class:`TorchFeatures` a PyTorch module cut at a named layer, :class:`CallableFeatures` any function of a batch. All
three check the input (numeric, finite, a batch dimension, the shape the model takes) before running anything, run
the batch in chunks of ``batch_size`` samples, check that the features are finite and return them as a float64
``(samples, features)`` array (``flatten=True``) for the readouts and reservoirs that follow.

``fit`` learns nothing from the data (the nets are trained elsewhere, e.g. with :mod:`reservoirs.adapters.zoo`): it
checks the parameters, loads the model and, given data, runs the first sample through it so a wrong shape fails at
once. :class:`OnnxFeatures` saves the model itself with its settings (``save``; ``readouts.load`` reads it back, no
pickle); :meth:`TorchFeatures.to_onnx` exports the cut module to an ONNX file for it.
"""
from __future__ import annotations

import difflib
import hashlib
import importlib
import os
from typing import Any, Callable

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from engine.build.memory import check_fits
from readouts import register, save
from readouts.validation import (Interval, as_float_array, check_fields, check_finite, check_fitted, check_n_features,
                                 restore_params, validate_params)

#: ONNX input element types accepted, and the numpy dtype a batch is cast to.
ONNX_FLOAT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16}


def import_optional(module: str, owner: str, extra: str):
    """``importlib.import_module(module)``, or an ImportError saying which pond extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{owner} needs {module}, which is not installed: pip install 'pond[{extra}]'") from e


def _close(name, choices, n=3):
    close = difflib.get_close_matches(str(name), list(choices), n=n)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""


def _listing(choices, limit=12):
    choices = list(choices)
    shown = ", ".join(repr(c) for c in choices[:limit])
    return shown + (f", ... ({len(choices)} in all)" if len(choices) > limit else "")


class _Features(TransformerMixin, BaseEstimator):
    """Shared input and output handling of the feature extractors."""

    def _check_X(self, X):
        name = type(self).__name__
        X = as_float_array(X, name)
        if X.ndim < 2:
            raise ValueError(f"{name}: X must be a batch (samples, ...) with at least 2 dimensions; got shape "
                             f"{X.shape} (one sample: X[None]).")
        check_finite(name, X)
        if self.input_shape is not None:
            shape = tuple(int(s) for s in self.input_shape)
            if int(np.prod(X.shape[1:])) != int(np.prod(shape)):
                raise ValueError(f"{name}: X has samples of shape {X.shape[1:]} ({int(np.prod(X.shape[1:]))} "
                                 f"values) which cannot be reshaped to input_shape={shape}.")
            X = X.reshape((X.shape[0],) + shape)
        return X

    def _check_input_shape(self):
        s = self.input_shape
        if s is not None and not (isinstance(s, (tuple, list)) and len(s) >= 1 and all(
                isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in s)):
            raise ValueError(f"{type(self).__name__}: parameter input_shape={s!r} is invalid; it must be None or a "
                             f"tuple of positive ints (the shape of one sample, without the batch dimension).")

    def _batches(self, X, run):
        """``run(batch) -> ndarray`` over chunks of ``batch_size`` rows, stacked; outputs checked."""
        name = type(self).__name__
        n = X.shape[0]
        bs = n if self.batch_size is None else int(self.batch_size)
        out = None
        for a in range(0, n, bs):
            y = np.asarray(run(X[a:a + bs]))
            if y.dtype.kind not in "fiub" or y.ndim < 1 or y.shape[0] != min(bs, n - a):
                raise ValueError(f"{name}: the model returned {y.dtype} of shape {y.shape} for a batch of "
                                 f"{min(bs, n - a)} samples; features must be numeric with one row per sample.")
            if self.flatten:
                y = y.reshape(y.shape[0], -1)
            if out is None:
                check_fits(8 * n * int(np.prod(y.shape[1:])), f"{name}: features of {n} samples",
                           "transform fewer samples at a time.")
                out = np.empty((n,) + y.shape[1:], dtype=np.float64)
            elif y.shape[1:] != out.shape[1:]:
                raise ValueError(f"{name}: the model returned features of shape {y.shape[1:]} for rows {a}.. but "
                                 f"{out.shape[1:]} before; every batch must give the same feature shape.")
            out[a:a + y.shape[0]] = y
        bad = ~np.isfinite(out.reshape(n, -1)).all(axis=1)
        if bad.any():
            rows = np.flatnonzero(bad)
            raise ValueError(f"{name}: the features of {rows.size} sample(s) hold NaN or infinity (rows "
                             f"{rows[:5].tolist()}{' ...' if rows.size > 5 else ''}); check the model and the "
                             f"input's scaling.")
        return out

    def _check_features(self, X):
        if hasattr(self, "n_features_in_") and X.ndim == 2:
            check_n_features(type(self).__name__, X.shape[1], self.n_features_in_)

    def _record_fit(self, X):
        if X is None:
            return
        X = self._check_X(X)
        if X.ndim == 2:
            self.n_features_in_ = X.shape[1]
        self.n_features_out_ = int(np.prod(self._transform(X[:1]).shape[1:]))

    def transform(self, X) -> np.ndarray:
        """Features of a batch.

        Parameters
        ----------
        X : array-like of shape (samples, ...)
            Finite numbers; each sample of the shape the model takes (or ``input_shape``'s number of values).

        Returns
        -------
        ndarray of float64, shape (samples, features) (``flatten=True``) or (samples, ...)
        """
        check_fitted(self, "fitted_")
        X = self._check_X(X)
        self._check_features(X)
        return self._transform(X)


@register
class OnnxFeatures(_Features):
    """Features from an ONNX model run by onnxruntime, cut at a named output.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.onnx`` file. ``fit`` reads it; the fitted transformer (and a file saved from it) keeps the model, so
        the file is not needed afterwards.
    output : str or None, default=None
        Name of the tensor to return: one of the graph's outputs or any intermediate tensor (the latter needs the
        ``onnx`` package, which adds it to the graph's outputs); None takes the first graph output.
    input_shape : tuple of int or None, default=None
        Shape of one sample the model takes, to reshape flat rows into (e.g. ``(1, 8, 8)`` for ``(n, 64)`` digits).
        None reshapes automatically when the model's input has a fixed per-sample shape with as many values.
    batch_size : int or None, default=256
        Samples per onnxruntime call, >= 1; None runs the whole batch at once.
    flatten : bool, default=True
        Return ``(samples, features)``; False keeps the output's own shape.
    n_jobs : int or None, default=None
        onnxruntime's intra-op threads; None lets it choose.

    Attributes
    ----------
    fitted_ : bool
    onnx_model_ : bytes
        The serialized model (with ``output`` exposed).
    input_name_, output_name_ : str
    input_dtype_ : numpy dtype
        What a batch is cast to (the model's input type).
    model_input_shape_ : tuple
        The model's per-sample input shape (ints, or strings for dynamic dimensions).
    n_features_in_ : int
        Columns of a 2-D ``X`` seen in ``fit``.
    n_features_out_ : int
        Features per sample (when ``fit`` got data).

    See Also
    --------
    TorchFeatures.to_onnx : export a PyTorch module cut at a layer for this class.
    reservoirs.adapters.zoo.shipped_features : the ONNX models that ship with pond.

    Examples
    --------
    >>> from reservoirs.adapters.zoo import shipped_path, digits_split
    >>> X_train, X_test, y_train, y_test = digits_split()
    >>> cnn = OnnxFeatures(shipped_path("digits_cnn")).fit(X_train)
    >>> cnn.transform(X_test).shape
    (540, 128)
    """

    _parameter_constraints = {
        "path": [None, str, os.PathLike],
        "output": [None, str],
        "input_shape": [None, tuple, list],
        "batch_size": [None, Interval("int", 1, None)],
        "flatten": [bool],
        "n_jobs": [None, Interval("int", 1, None)],
    }

    def __init__(self, path=None, output: str | None = None, input_shape=None, batch_size: int | None = 256,
                 flatten: bool = True, n_jobs: int | None = None):
        self.path = path
        self.output = output
        self.input_shape = input_shape
        self.batch_size = batch_size
        self.flatten = flatten
        self.n_jobs = n_jobs

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_session", None)  # an InferenceSession cannot be copied; it is rebuilt from onnx_model_
        return state

    def _validate(self):
        validate_params(self)
        self._check_input_shape()

    def fit(self, X=None, y=None):
        """Load the model and resolve ``output``; with ``X``, run its first sample to check the shapes.

        Parameters
        ----------
        X : array-like of shape (samples, ...), optional
        y : ignored

        Returns
        -------
        self

        Raises
        ------
        FileNotFoundError
            ``path`` does not exist.
        ValueError
            The file is not an ONNX model; ``output`` names no tensor of it; the model has several inputs or a
            non-float input; ``X`` does not fit the model's input.
        """
        self._validate()
        if self.path is None:
            raise ValueError("OnnxFeatures: parameter path=None is invalid; it must be the path of an .onnx file.")
        path = os.fspath(self.path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"OnnxFeatures: path={path!r}: no such file")
        with open(path, "rb") as f:
            data = f.read()
        for attr in ("n_features_in_", "n_features_out_"):
            self.__dict__.pop(attr, None)
        self._set_model(data, source=repr(path))
        self._record_fit(X)
        return self

    def _session_for(self, data, source):
        ort = import_optional("onnxruntime", "OnnxFeatures", "onnx")
        opts = ort.SessionOptions()
        if self.n_jobs is not None:
            opts.intra_op_num_threads = int(self.n_jobs)
        opts.log_severity_level = 3
        try:
            return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types (InvalidProtobuf, Fail, ...)
            raise ValueError(f"OnnxFeatures: {source} is not a valid ONNX model: {str(e).strip()[:300]}") from None

    def _set_model(self, data, source):
        sess = self._session_for(data, source)
        outputs = [o.name for o in sess.get_outputs()]
        out = outputs[0] if self.output is None else self.output
        if out not in outputs:
            data = self._expose(data, out, outputs, source)
            sess = self._session_for(data, source)
        inputs = sess.get_inputs()
        if len(inputs) != 1:
            raise ValueError(f"OnnxFeatures: {source} has {len(inputs)} inputs ({_listing(i.name for i in inputs)}); "
                             f"only single-input models are supported (wrap others in CallableFeatures).")
        inp = inputs[0]
        if inp.type not in ONNX_FLOAT_TYPES:
            raise ValueError(f"OnnxFeatures: {source} takes {inp.type} input {inp.name!r}; only float inputs "
                             f"({', '.join(ONNX_FLOAT_TYPES)}) are supported.")
        if len(inp.shape) < 1:
            raise ValueError(f"OnnxFeatures: {source} input {inp.name!r} is a scalar; it needs a batch dimension.")
        self.onnx_model_ = bytes(data)
        self.input_name_, self.output_name_ = inp.name, out
        self.input_dtype_ = np.dtype(ONNX_FLOAT_TYPES[inp.type])
        self.model_input_shape_ = tuple(d if isinstance(d, int) else str(d) for d in inp.shape[1:])
        self._session = sess
        self.fitted_ = True

    def _expose(self, data, out, outputs, source):
        """The model with the intermediate tensor ``out`` added to its outputs (needs the ``onnx`` package)."""
        try:
            onnx = importlib.import_module("onnx")
        except ImportError:
            raise ValueError(f"OnnxFeatures: output={out!r} is not an output of {source} (outputs: "
                             f"{_listing(outputs)}); cutting at an intermediate tensor needs the onnx package "
                             f"(pip install 'pond[onnx]').") from None
        model = onnx.load_from_string(data)
        names = [o for node in model.graph.node for o in node.output if o]
        if out not in names:
            raise ValueError(f"OnnxFeatures: output={out!r} names no tensor of {source}.{_close(out, outputs + names)} "
                             f"Outputs: {_listing(outputs)}; intermediate tensors: {_listing(names)}.")
        try:
            inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(model).graph.value_info}
        except Exception:  # shape inference is best effort; onnxruntime works without the type
            inferred = {}
        info = inferred.get(out)
        model.graph.output.append(info if info is not None else onnx.ValueInfoProto(name=out))
        return model.SerializeToString()

    def _run(self, xb):
        if getattr(self, "_session", None) is None:
            self._session = self._session_for(self.onnx_model_, "the stored model")
        return self._session.run([self.output_name_], {self.input_name_: xb})[0]

    def _shape_for_model(self, X):
        want = self.model_input_shape_
        got = X.shape[1:]
        if len(got) == len(want) and all(not isinstance(w, int) or w == g for w, g in zip(want, got)):
            return X
        static = all(isinstance(w, int) for w in want)
        if self.input_shape is None and static and int(np.prod(got)) == int(np.prod(want)):
            return X.reshape((X.shape[0],) + want)
        wants = "(" + ", ".join(str(w) for w in want) + ("," if len(want) == 1 else "") + ")"
        hint = f", or flat rows of {int(np.prod(want))} values" if static else ""
        raise ValueError(f"OnnxFeatures: X has samples of shape {got} but the model's input {self.input_name_!r} "
                         f"takes samples of shape {wants} (after the batch dimension; names are free dimensions); "
                         f"pass X of shape (samples, {', '.join(str(w) for w in want)}){hint}.")

    def _transform(self, X):
        X = self._shape_for_model(X)
        dtype = self.input_dtype_
        return self._batches(X, lambda xb: self._run(np.ascontiguousarray(xb, dtype=dtype)))

    def save(self, path):
        """Save the settings and the model itself to ``.npz`` or ``.h5`` (``readouts.load`` reads it back)."""
        save(path, self)

    def _get_state(self):
        params = self.get_params()
        params["path"] = None if params["path"] is None else os.fspath(params["path"])
        arrays = {}
        if getattr(self, "fitted_", False):
            arrays["onnx_model_"] = np.frombuffer(self.onnx_model_, dtype=np.uint8)
            arrays["onnx_sha256_"] = np.frombuffer(hashlib.sha256(self.onnx_model_).digest(), dtype=np.uint8)
        return params, arrays

    @classmethod
    def _from_state(cls, params, arrays):
        est = restore_params(cls, params)
        est._validate()
        if arrays:
            # files before issue 25 lack the digest: an edit inside the model bytes that still parses went unseen
            check_fields(cls.__name__, arrays, ["onnx_model_"], optional=("onnx_sha256_",))
            a = np.asarray(arrays["onnx_model_"])
            if a.dtype != np.uint8 or a.ndim != 1:
                raise ValueError(f"OnnxFeatures: onnx_model_ must be a 1-D uint8 array; got {a.dtype} {a.shape}.")
            if "onnx_sha256_" in arrays:
                d = np.asarray(arrays["onnx_sha256_"])
                if d.dtype != np.uint8 or d.shape != (32,):
                    raise ValueError(f"OnnxFeatures: onnx_sha256_ must be 32 uint8 bytes; got {d.dtype} {d.shape}.")
                if hashlib.sha256(a.tobytes()).digest() != d.tobytes():
                    raise ValueError("OnnxFeatures: onnx_model_ does not match its SHA-256 digest (onnx_sha256_); the "
                                     "file was changed or damaged.")
            est._set_model(a.tobytes(), source="the stored model")
        return est


class _Stop(Exception):
    """Raised by the forward hook once the cut layer has run: the rest of the module is skipped."""


def _first_tensor(torch, out):
    """A layer's output, or the first tensor of a tuple/list output (an LSTM's ``(output, (h, c))``)."""
    while isinstance(out, (tuple, list)) and out:
        out = out[0]
    if not isinstance(out, torch.Tensor):
        raise ValueError(f"TorchFeatures: the layer returned {type(out).__name__}, not a tensor.")
    return out


class TorchFeatures(_Features):
    """Features from a PyTorch module cut at a named layer (a forward hook), in eval mode without gradients.

    Parameters
    ----------
    module : torch.nn.Module
        The trained net. It is put in eval mode while features are computed and its modes are restored afterwards.
    layer : str or None, default=None
        Name of the submodule whose output is returned (as in ``module.named_modules()``, e.g. ``"features"`` or
        ``"encoder.2"``); the forward pass stops there. None returns the module's own output. A tuple output (an
        LSTM's) gives its first tensor.
    input_shape : tuple of int or None, default=None
        Shape of one sample the module takes, to reshape flat rows into (e.g. ``(1, 8, 8)``).
    batch_size : int or None, default=256
        Samples per forward pass, >= 1; None runs the whole batch at once.
    flatten : bool, default=True
        Return ``(samples, features)``; False keeps the layer's output shape.
    n_jobs : int or None, default=None
        torch's intra-op threads during ``transform`` (restored afterwards); None leaves them.

    Attributes
    ----------
    fitted_ : bool
    n_features_in_ : int
        Columns of a 2-D ``X`` seen in ``fit``.
    n_features_out_ : int
        Features per sample (when ``fit`` got data).

    Notes
    -----
    Needs PyTorch (``pip install 'pond[torch]'``); batches are cast to the dtype and device of the module's first
    parameter (float32 on CPU for a module without parameters). ``to_onnx`` writes the cut module as an ONNX file
    for :class:`OnnxFeatures`, the way to save it without pickle.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    >>> TorchFeatures(net, layer="1").fit(np.ones((5, 4))).transform(np.ones((5, 4))).shape
    (5, 3)
    """

    _parameter_constraints = {
        "module": [object],
        "layer": [None, str],
        "input_shape": [None, tuple, list],
        "batch_size": [None, Interval("int", 1, None)],
        "flatten": [bool],
        "n_jobs": [None, Interval("int", 1, None)],
    }

    def __init__(self, module=None, layer: str | None = None, input_shape=None, batch_size: int | None = 256,
                 flatten: bool = True, n_jobs: int | None = None):
        self.module = module
        self.layer = layer
        self.input_shape = input_shape
        self.batch_size = batch_size
        self.flatten = flatten
        self.n_jobs = n_jobs

    def _validate(self):
        torch = import_optional("torch", "TorchFeatures", "torch")
        validate_params(self)
        self._check_input_shape()
        if not isinstance(self.module, torch.nn.Module):
            raise ValueError(f"TorchFeatures: parameter module={type(self.module).__name__} is invalid; it must be a "
                             f"torch.nn.Module.")
        if self.layer is not None:
            names = [n for n, _ in self.module.named_modules() if n]
            if self.layer not in names:
                raise ValueError(f"TorchFeatures: parameter layer={self.layer!r} names no submodule of "
                                 f"{type(self.module).__name__}.{_close(self.layer, names)} Layers: "
                                 f"{_listing(names)}.")
        return torch

    def fit(self, X=None, y=None):
        """Check the module and the layer name; with ``X``, run its first sample to check the shapes.

        Parameters
        ----------
        X : array-like of shape (samples, ...), optional
        y : ignored

        Returns
        -------
        self

        Raises
        ------
        ImportError
            PyTorch is not installed.
        ValueError
            ``module`` is not a ``torch.nn.Module``; ``layer`` names no submodule (the message lists them);
            ``X`` does not fit the module.
        """
        self._validate()
        for attr in ("n_features_in_", "n_features_out_"):
            self.__dict__.pop(attr, None)
        self.fitted_ = True
        try:
            self._record_fit(X)
        except Exception:
            del self.fitted_
            raise
        return self

    def _transform(self, X):
        torch = importlib.import_module("torch")
        module = self.module
        param = next(module.parameters(), None)
        dtype = param.dtype if param is not None else torch.float32
        device = param.device if param is not None else torch.device("cpu")
        layer = module.get_submodule(self.layer) if self.layer is not None else None
        captured = []

        def hook(mod, inputs, output):
            captured.append(_first_tensor(torch, output))
            raise _Stop

        def run(xb):
            captured.clear()
            x = torch.as_tensor(np.ascontiguousarray(xb)).to(device=device, dtype=dtype)
            try:
                out = module(x)
            except _Stop:
                out = captured[0]
            except Exception as e:
                raise ValueError(f"TorchFeatures: {type(module).__name__} failed on a batch of shape "
                                 f"{tuple(x.shape)}: {type(e).__name__}: {str(e).strip()[:300]}") from e
            else:
                if layer is not None:
                    raise ValueError(f"TorchFeatures: layer {self.layer!r} was not called in the forward pass of "
                                     f"{type(module).__name__}.")
                out = _first_tensor(torch, out)
            return out.detach().to("cpu", torch.float64).numpy()

        modes = {m: m.training for m in module.modules()}
        threads = torch.get_num_threads()
        handle = layer.register_forward_hook(hook) if layer is not None else None
        try:
            module.eval()
            if self.n_jobs is not None:
                torch.set_num_threads(int(self.n_jobs))
            with torch.inference_mode():
                return self._batches(X, run)
        finally:
            if handle is not None:
                handle.remove()
            for m, mode in modes.items():
                m.training = mode
            torch.set_num_threads(threads)

    def to_onnx(self, path, X, opset: int = 17) -> OnnxFeatures:
        """Export the module cut at ``layer`` to an ONNX file and return a fitted :class:`OnnxFeatures` for it.

        Parameters
        ----------
        path : str or os.PathLike
            The ``.onnx`` file to write.
        X : array-like of shape (samples, ...)
            Example input (one sample is enough) to trace the module with; the batch dimension stays free.
        opset : int, default=17
            ONNX opset version.

        Returns
        -------
        OnnxFeatures
            Fitted on ``X``; same features as this transformer (to float32 precision).
        """
        check_fitted(self, "fitted_")
        torch = self._validate()
        from reservoirs.adapters.zoo.export import export_onnx

        X = self._check_X(X)
        X = X[:1]
        param = next(self.module.parameters(), None)
        dtype = param.dtype if param is not None else torch.float32
        example = torch.as_tensor(X).to(dtype)
        cut = _cut_module(torch, self.module, self.layer, self.flatten)
        export_onnx(cut, path, example, opset=opset)
        return OnnxFeatures(path, output="features", input_shape=self.input_shape, batch_size=self.batch_size,
                            flatten=self.flatten, n_jobs=self.n_jobs).fit(X)


def _cut_module(torch, module, layer, flatten):
    """A module returning ``module``'s ``layer`` output (traceable: the forward runs whole, a hook keeps the cut)."""

    class Cut(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = module

        def forward(self, x):
            if layer is None:
                out = _first_tensor(torch, self.net(x))
            else:
                store = []
                handle = self.net.get_submodule(layer).register_forward_hook(
                    lambda m, i, o: store.append(_first_tensor(torch, o)))
                try:
                    self.net(x)
                finally:
                    handle.remove()
                out = store[0]
            return torch.flatten(out, 1) if flatten and out.dim() > 2 else out

    return Cut()


class CallableFeatures(_Features):
    """Features from any function of a batch (a NumPy expression, a JAX or TensorFlow model, a wrapped pipeline).

    Parameters
    ----------
    fn : callable
        ``fn(batch) -> array`` with one row per sample; it gets float64 arrays of shape ``(rows, ...)``.
    input_shape : tuple of int or None, default=None
        Shape of one sample ``fn`` takes, to reshape flat rows into.
    batch_size : int or None, default=None
        Samples per call, >= 1; None calls ``fn`` once on the whole batch.
    flatten : bool, default=True
        Return ``(samples, features)``.

    Attributes
    ----------
    fitted_ : bool
    n_features_in_ : int
        Columns of a 2-D ``X`` seen in ``fit``.
    n_features_out_ : int
        Features per sample (when ``fit`` got data).

    Notes
    -----
    A function cannot be saved without pickle, so this class has no ``save``: export the model to ONNX and use
    :class:`OnnxFeatures` to keep it.

    Examples
    --------
    >>> CallableFeatures(np.tanh).fit_transform(np.zeros((3, 2)))
    array([[0., 0.],
           [0., 0.],
           [0., 0.]])
    """

    _parameter_constraints = {
        "fn": [object],
        "input_shape": [None, tuple, list],
        "batch_size": [None, Interval("int", 1, None)],
        "flatten": [bool],
    }

    def __init__(self, fn: Callable[[np.ndarray], Any] | None = None, input_shape=None,
                 batch_size: int | None = None, flatten: bool = True):
        self.fn = fn
        self.input_shape = input_shape
        self.batch_size = batch_size
        self.flatten = flatten

    def fit(self, X=None, y=None):
        """Check ``fn``; with ``X``, run it on the first sample.

        Returns
        -------
        self
        """
        validate_params(self)
        self._check_input_shape()
        if not callable(self.fn):
            raise ValueError(f"CallableFeatures: parameter fn={self.fn!r} is invalid; it must be callable.")
        for attr in ("n_features_in_", "n_features_out_"):
            self.__dict__.pop(attr, None)
        self.fitted_ = True
        try:
            self._record_fit(X)
        except Exception:
            del self.fitted_
            raise
        return self

    def _transform(self, X):
        def run(xb):
            try:
                return self.fn(xb)
            except Exception as e:
                raise ValueError(f"CallableFeatures: fn failed on a batch of shape {xb.shape}: "
                                 f"{type(e).__name__}: {str(e).strip()[:300]}") from e

        return self._batches(X, run)


__all__ = ["OnnxFeatures", "TorchFeatures", "CallableFeatures", "import_optional", "ONNX_FLOAT_TYPES"]
