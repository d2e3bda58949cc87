"""The small ONNX models that ship with pond, trained on scikit-learn's bundled 8×8 digits (no torch needed).

============  =====================================================================================================
name          what it is
============  =====================================================================================================
digits_cnn    the conv stack of a :class:`~reservoirs.adapters.zoo.CNN` (2 blocks of conv 3×3 → ReLU → max-pool,
              16 then 32 channels): one digit, ``(1, 8, 8)`` or 64 pixels in [0, 1], → 128 features (>= 0)
digits_vae    the posterior mean of a :class:`~reservoirs.adapters.zoo.VAE` (64 → 64 → 16): 64 pixels in [0, 1] → 16
============  =====================================================================================================

Both were trained on the training part of :func:`digits_split` only (70 %, stratified, seed 0), so the held-out
30 % is a fair test set. ``python -m reservoirs.adapters.zoo.train_shipped`` trains and writes them again (the
``.onnx`` files and the weights as ``.npz`` for :func:`~reservoirs.adapters.zoo.load_model`) and prints their
accuracies.
"""
from __future__ import annotations

import os

import numpy as np

#: Shipped model name -> one-line description.
SHIPPED = {
    "digits_cnn": "CNN conv stack trained on sklearn digits: (n, 1, 8, 8) or (n, 64) pixels in [0, 1] -> 128 features",
    "digits_vae": "VAE posterior mean trained on sklearn digits: (n, 64) pixels in [0, 1] -> 16 features",
}
#: Held-out fraction and seed of :func:`digits_split` (the shipped models never saw the test part).
TEST_SIZE, SPLIT_SEED = 0.3, 0
_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shipped")


def _check_name(name):
    if name not in SHIPPED:
        raise ValueError(f"shipped model name={name!r} is unknown; shipped models: {', '.join(SHIPPED)}.")


def shipped_path(name: str) -> str:
    """Path of the shipped ONNX file ``name`` (one of :data:`SHIPPED`)."""
    _check_name(name)
    return os.path.join(_DIR, f"{name}.onnx")


def shipped_weights_path(name: str) -> str:
    """Path of the shipped weights of ``name`` (``.npz`` of :func:`~reservoirs.adapters.zoo.save_model`)."""
    _check_name(name)
    return os.path.join(_DIR, f"{name}.npz")


def shipped_features(name: str, **kwargs):
    """An unfitted :class:`~reservoirs.adapters.OnnxFeatures` for the shipped model ``name``.

    Parameters
    ----------
    name : {'digits_cnn', 'digits_vae'}
    **kwargs
        Passed to ``OnnxFeatures`` (``batch_size``, ``n_jobs``, ...).

    Examples
    --------
    >>> X_train, X_test, y_train, y_test = digits_split()
    >>> shipped_features("digits_vae").fit(X_train).transform(X_test[:3]).shape
    (3, 16)
    """
    from reservoirs.adapters.features import OnnxFeatures

    return OnnxFeatures(shipped_path(name), **kwargs)


def load_digits_scaled() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8×8 digits as ``(1797, 64)`` float64 pixels in [0, 1] (the 0..16 grey levels / 16) and labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data / 16.0, d.target.astype(np.int64)


def digits_split(test_size: float = TEST_SIZE, seed: int = SPLIT_SEED):
    """``X_train, X_test, y_train, y_test`` of the scaled digits, stratified by label.

    The defaults are the split the shipped models were trained on (their training part) and the one ``pond demo``
    reports held-out accuracy on.
    """
    from sklearn.model_selection import train_test_split

    X, y = load_digits_scaled()
    return train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)
