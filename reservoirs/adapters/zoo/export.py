"""ONNX export of torch modules, and zoo models saved as configuration plus weights (``.npz``, no pickle)."""
from __future__ import annotations

import inspect
import json
import os
import warnings

import numpy as np
import torch

from reservoirs.adapters.zoo.models import MODELS, LSTMEncoder, ZooModel

#: Format tag and version of files written by :func:`save_model`.
MODEL_FORMAT, MODEL_FORMAT_VERSION = "pond-zoo-model", 1


def export_onnx(module: torch.nn.Module, path, example: torch.Tensor, *, input_name: str = "input",
                output_name: str = "features", dynamic_axes: dict | None = None, opset: int = 17) -> str:
    """Write ``module`` (in eval mode) as an ONNX file with one input and one output.

    Parameters
    ----------
    module : torch.nn.Module
    path : str or os.PathLike
        The ``.onnx`` file to write.
    example : torch.Tensor
        An input batch to trace with.
    input_name, output_name : str
        Names of the graph's input and output.
    dynamic_axes : dict or None
        ``{name: {axis: label}}``; default: the batch axis (0) of input and output is free.
    opset : int, default=17

    Returns
    -------
    str
        ``path``.

    Notes
    -----
    Uses torch's TorchScript-based exporter (``dynamo=False`` where torch offers the choice), which needs no extra
    package; its deprecation warnings are silenced here.
    """
    path = os.fspath(path)
    if dynamic_axes is None:
        dynamic_axes = {input_name: {0: "batch"}, output_name: {0: "batch"}}
    kwargs = dict(input_names=[input_name], output_names=[output_name], dynamic_axes=dynamic_axes,
                  opset_version=int(opset), do_constant_folding=True)
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False
    modes = {m: m.training for m in module.modules()}
    module.eval()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, (example,), path, **kwargs)
    finally:
        for m, mode in modes.items():
            m.training = mode
    return path


def export_features(model: ZooModel, path, example=None, opset: int = 17) -> str:
    """Write a zoo model's feature extractor as an ONNX file (input ``"input"``, output ``"features"``).

    Parameters
    ----------
    model : ZooModel
    path : str or os.PathLike
    example : array-like or torch.Tensor, optional
        An input batch to trace with; default: two zero samples of the model's input shape (sequences: 4 steps).
    opset : int, default=17

    Returns
    -------
    str
        ``path``; load it with ``OnnxFeatures(path)``. The batch axis is free, and so is the time axis of an
        :class:`~reservoirs.adapters.zoo.LSTMEncoder`.
    """
    from reservoirs.adapters.zoo.training import as_input

    if example is None:
        shape = tuple(4 if s is None else s for s in model.sample_shape)
        example = np.zeros((2,) + shape)
    x = as_input(model, example, "example")
    axes = {"input": {0: "batch"}, "features": {0: "batch"}}
    if isinstance(model, LSTMEncoder):
        axes["input"][1] = "time"
    return export_onnx(model.feature_extractor(), path, x, dynamic_axes=axes, opset=opset)


def save_model(model: ZooModel, path) -> str:
    """Save a zoo model as its configuration (JSON) and weights (one array per parameter or buffer) in ``.npz``.

    Parameters
    ----------
    model : ZooModel
    path : str or os.PathLike
        Ends in ``.npz``.

    Returns
    -------
    str
        ``path``; :func:`load_model` reads it back. Nothing is pickled.
    """
    path = os.fspath(path)
    if not isinstance(model, ZooModel):
        raise ValueError(f"save_model: model must be one of the zoo's models; got {type(model).__name__}.")
    if not path.endswith(".npz"):
        raise ValueError(f"save_model: path={path!r} must end in .npz.")
    header = {"format": MODEL_FORMAT, "format_version": MODEL_FORMAT_VERSION, "class": type(model).__name__,
              "config": model.config}
    arrays = {f"state/{k}": v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    with open(path, "wb") as f:
        np.savez(f, __header__=np.array(json.dumps(header)), **arrays)
    return path


def load_model(path) -> ZooModel:
    """A zoo model rebuilt from a file of :func:`save_model`: the class's constructor checks the configuration, and
    every stored weight must match the model's parameters by name, shape and dtype kind.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    ZooModel
        In eval mode.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Not a zoo model file, an unknown class, a configuration the constructor refuses, missing, extra or
        misshapen weights.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_model: no such file {path!r}")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except Exception as e:
        raise ValueError(f"load_model: {path!r} is not a readable .npz file: {e}") from None
    try:
        header = json.loads(str(data.pop("__header__")))
    except (KeyError, ValueError):
        raise ValueError(f"load_model: {path!r} is not a zoo model file (no header).") from None
    if not isinstance(header, dict) or header.get("format") != MODEL_FORMAT:
        raise ValueError(f"load_model: {path!r} is not a zoo model file.")
    if header.get("format_version") != MODEL_FORMAT_VERSION:
        raise ValueError(f"load_model: {path!r} has format version {header.get('format_version')!r}; this pond "
                         f"reads version {MODEL_FORMAT_VERSION}.")
    cls = MODELS.get(header.get("class"))
    if cls is None:
        raise ValueError(f"load_model: {path!r} holds unknown class {header.get('class')!r}; known: "
                         f"{', '.join(MODELS)}.")
    config = header.get("config")
    if not isinstance(config, dict):
        raise ValueError(f"load_model: {path!r}: config must be a JSON object.")
    try:
        model = cls(**config)
    except TypeError as e:
        raise ValueError(f"load_model: {path!r}: the stored config does not fit {cls.__name__}: {e}") from None
    state = model.state_dict()
    stored = {k[len("state/"):]: v for k, v in data.items() if k.startswith("state/")}
    extra = sorted(set(data) - {f"state/{k}" for k in stored})
    missing, unknown = sorted(set(state) - set(stored)), sorted(set(stored) - set(state))
    if missing or unknown or extra:
        raise ValueError(f"load_model: {path!r} weights do not match {cls.__name__}"
                         + (f"; missing {missing}" if missing else "") + (f"; unknown {unknown + extra}"
                                                                          if unknown or extra else "") + ".")
    new = {}
    for k, ref in state.items():
        a = stored[k]
        if tuple(a.shape) != tuple(ref.shape) or a.dtype.kind != ref.detach().cpu().numpy().dtype.kind:
            raise ValueError(f"load_model: {path!r} weight {k!r} has {a.dtype} {a.shape}; {cls.__name__} needs "
                             f"{ref.dtype} {tuple(ref.shape)}.")
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise ValueError(f"load_model: {path!r} weight {k!r} holds NaN or infinity.")
        new[k] = torch.as_tensor(a, dtype=ref.dtype)
    model.load_state_dict(new)
    return model.eval()
