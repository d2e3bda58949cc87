"""pond's input layers: outside data (images, time series, features) turned into reservoir input.

- Feature extractors, each a scikit-learn transformer: :class:`OnnxFeatures` (any ONNX model through onnxruntime,
  cut at a named output), :class:`TorchFeatures` (a PyTorch module cut at a named layer) and
  :class:`CallableFeatures` (any function of a batch).
- Spike encoders (:mod:`reservoirs.adapters.encoders`): :class:`RateEncoder`, :class:`LatencyEncoder`,
  :class:`DeltaEncoder`, :class:`PopulationEncoder`, giving spike trains in the LSM's input format.
- A model zoo (:mod:`reservoirs.adapters.zoo`) of classical nets as PyTorch modules with training functions and
  ONNX export, and small ONNX models trained on scikit-learn's digits that ship with pond and need no torch
  (:func:`reservoirs.adapters.zoo.shipped_features`).

Neither PyTorch nor onnxruntime is imported until a class that needs it is used (``pip install 'pond[torch]'``,
``pip install 'pond[onnx]'``). The rest of :mod:`reservoirs` never imports this package.
"""
import importlib

_PUBLIC = {
    "OnnxFeatures": "reservoirs.adapters.features", "TorchFeatures": "reservoirs.adapters.features",
    "CallableFeatures": "reservoirs.adapters.features",
    "RateEncoder": "reservoirs.adapters.encoders", "LatencyEncoder": "reservoirs.adapters.encoders",
    "DeltaEncoder": "reservoirs.adapters.encoders", "PopulationEncoder": "reservoirs.adapters.encoders",
    "spike_counts": "reservoirs.adapters.encoders",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'reservoirs.adapters' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
