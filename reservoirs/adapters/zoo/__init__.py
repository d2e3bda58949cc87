"""The model zoo: classical nets as PyTorch modules, their training, ONNX export, and the shipped ONNX models.

Models (:mod:`~reservoirs.adapters.zoo.models`): :class:`CNN`, :class:`AE` (tied weights optional), :class:`DAE`
(Gaussian or masking corruption), :class:`SAE` (KL or L1 sparsity), :class:`VAE` (mean or sampled code),
:class:`ConvVAE` (DCIGN), :class:`GAN` (the discriminator extracts features), :class:`LSTMEncoder`.
Training (:mod:`~reservoirs.adapters.zoo.training`): :func:`train` and the named ``train_*`` functions, seeded
minibatch Adam with a progress bar. Export (:mod:`~reservoirs.adapters.zoo.export`): :func:`export_onnx`,
:func:`export_features`, :func:`save_model` / :func:`load_model` (configuration + weights in ``.npz``).

The shipped models (:mod:`~reservoirs.adapters.zoo.shipped`: :func:`shipped_features`, :func:`shipped_path`,
:func:`digits_split`) need only onnxruntime. Everything else needs PyTorch (``pip install 'pond[torch]'``), which is
imported on first use of a torch name, so ``import reservoirs.adapters.zoo`` works without it.

Examples
--------
>>> import numpy as np
>>> from reservoirs.adapters.zoo import AE, train
>>> X = np.random.default_rng(0).random((64, 8))
>>> history = train(AE(n_inputs=8, hidden=(), code=3), X, epochs=3, progress=False)
>>> len(history["loss"])
3
"""
import importlib

_TORCH = {
    "models": ("ZooModel", "CNN", "AE", "DAE", "SAE", "VAE", "ConvVAE", "GAN", "LSTMEncoder", "MODELS"),
    "training": ("train", "train_cnn", "train_autoencoder", "train_vae", "train_gan", "train_lstm"),
    "export": ("export_onnx", "export_features", "save_model", "load_model"),
}
_PUBLIC = {name: f"reservoirs.adapters.zoo.{mod}" for mod, names in _TORCH.items() for name in names}
_PUBLIC.update({name: "reservoirs.adapters.zoo.shipped" for name in (
    "SHIPPED", "shipped_path", "shipped_weights_path", "shipped_features", "digits_split", "load_digits_scaled")})
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        module = _PUBLIC[name]
        if not module.endswith(".shipped"):
            try:
                importlib.import_module("torch")
            except ImportError as e:
                raise ImportError(f"reservoirs.adapters.zoo.{name} needs PyTorch, which is not installed: "
                                  f"pip install 'pond[torch]' (the shipped ONNX models need only onnxruntime)") from e
        return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module 'reservoirs.adapters.zoo' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
