"""Training the zoo's models: seeded minibatch Adam with a progress bar.

:func:`train` fits any zoo model (the GAN with its adversarial loop); the named functions (:func:`train_cnn`,
:func:`train_autoencoder`, :func:`train_vae`, :func:`train_gan`, :func:`train_lstm`) are the same with a check that
the model is of the kind they name. The seed fixes the minibatch order and every noise draw (DAE corruption, VAE and
GAN samples); the initial weights come from the model's own seed. Results are bit-reproducible for a fixed thread
count (``n_threads``): torch's CPU kernels may sum in another order on another count.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch
from tqdm.auto import tqdm

from reservoirs.adapters.zoo.models import AE, CNN, GAN, LSTMEncoder, ZooModel, _VAEBase


def _check_hyper(epochs, batch_size, lr, weight_decay, seed, n_threads):
    def bad(key, v, what):
        raise ValueError(f"train: parameter {key}={v!r} is invalid; it must be {what}.")

    for key, v in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            bad(key, v, "an int >= 1")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        bad("seed", seed, "an int >= 0")
    if not isinstance(lr, numbers.Real) or isinstance(lr, bool) or not math.isfinite(lr) or lr <= 0:
        bad("lr", lr, "a float > 0")
    if not isinstance(weight_decay, numbers.Real) or isinstance(weight_decay, bool) or \
            not math.isfinite(weight_decay) or weight_decay < 0:
        bad("weight_decay", weight_decay, "a float >= 0")
    if n_threads is not None and (isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral)
                                  or n_threads < 1):
        bad("n_threads", n_threads, "None or an int >= 1")


def as_input(model: ZooModel, X, what: str = "X") -> torch.Tensor:
    """``X`` as a float tensor of shape ``(n, *model.sample_shape)``, checked (clear errors for the wrong shape,
    NaN, non-numeric data; flat rows of an image model are reshaped)."""
    name = type(model).__name__
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    X = np.asarray(X)
    if X.dtype.kind not in "fiub":
        raise ValueError(f"{name}: {what} must be numeric; got dtype {X.dtype}.")
    X = X.astype(np.float64, copy=False)
    if X.ndim < 2 or X.shape[0] == 0:
        raise ValueError(f"{name}: {what} must be a non-empty batch (samples, ...); got shape {X.shape}.")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name}: {what} contains NaN or infinity.")
    want = tuple(model.sample_shape)
    got = X.shape[1:]
    fits = len(got) == len(want) and all(w is None or w == g for w, g in zip(want, got))
    if not fits:
        if None not in want and int(np.prod(got)) == int(np.prod(want)):
            X = X.reshape((X.shape[0],) + want)
        else:
            shape = "(samples, " + ", ".join("T" if w is None else str(w) for w in want) + ")"
            raise ValueError(f"{name}: {what} has shape {X.shape}; the model takes {shape}.")
    param = next(model.parameters())
    return torch.as_tensor(X, dtype=param.dtype)


def _as_target(model, y, n):
    name = type(model).__name__
    if not model.supervised:
        return None
    if y is None:
        raise ValueError(f"{name}: training needs targets y (one per sample).")
    y = np.asarray(y)
    classify = isinstance(model, CNN) or (isinstance(model, LSTMEncoder) and model.task == "classify")
    if y.shape[0] != n:
        raise ValueError(f"{name}: y has {y.shape[0]} entries but X has {n} samples.")
    if classify:
        k = model.config["n_classes"] if isinstance(model, CNN) else model.config["n_outputs"]
        if y.ndim != 1 or y.dtype.kind not in "iu" or (y.size and (y.min() < 0 or y.max() >= k)):
            raise ValueError(f"{name}: y must hold integer class labels in [0, {k}), one per sample; got dtype "
                             f"{y.dtype}, shape {y.shape}" + (f", range [{y.min()}, {y.max()}]" if y.size and
                                                               y.dtype.kind in "iuf" else "") + ".")
        return torch.as_tensor(y.astype(np.int64))
    y = y.astype(np.float64)
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{name}: y contains NaN or infinity.")
    return torch.as_tensor(y.reshape(n, -1), dtype=next(model.parameters()).dtype)


def _check_unit_range(model, X):
    needs = (isinstance(model, _VAEBase) and model.likelihood == "bernoulli")
    if needs and (X.min() < 0 or X.max() > 1):
        raise ValueError(f"{type(model).__name__}: likelihood='bernoulli' needs data in [0, 1]; X lies in "
                         f"[{float(X.min()):g}, {float(X.max()):g}] (scale it, or use likelihood='gaussian').")


class _Threads:
    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.old = torch.get_num_threads()
        if self.n is not None:
            torch.set_num_threads(int(self.n))

    def __exit__(self, *exc):
        torch.set_num_threads(self.old)


def train(model: ZooModel, X, y=None, *, epochs: int = 20, batch_size: int = 64, lr: float = 1e-3,
          weight_decay: float = 0.0, seed: int = 0, progress: bool = True,
          n_threads: int | None = None) -> dict[str, list[float]]:
    """Fit a zoo model by minibatch Adam on its ``loss``.

    Parameters
    ----------
    model : ZooModel
        Trained in place (left in eval mode).
    X : array-like of shape (samples, ...)
        Training inputs, finite: ``(n, C, H, W)`` or flat rows for image models, ``(n, D)`` for vectors,
        ``(n, T, D)`` for the LSTM.
    y : array-like of shape (samples,) or (samples, outputs), optional
        Class labels (CNN, classifying LSTM) or targets (regressing LSTM); ignored by unsupervised models.
    epochs : int, default=20
        Passes over the data, >= 1.
    batch_size : int, default=64
        >= 1.
    lr : float, default=1e-3
        Adam's learning rate, > 0.
    weight_decay : float, default=0.0
        L2 penalty, >= 0.
    seed : int, default=0
        Seed of the minibatch order and of every noise draw, >= 0.
    progress : bool, default=True
        Show a progress bar (tqdm) with the running loss.
    n_threads : int or None, default=None
        torch's threads while training (restored afterwards); None leaves them. Models as small as the shipped ones
        train fastest on one thread (``n_threads=1``): on a busy machine torch's spinning threads can make them
        ten times slower.

    Returns
    -------
    dict of str to list of float
        Per-epoch means: ``"loss"`` and the model's named loss parts (e.g. ``"recon"``, ``"kl"``, ``"elbo"``); for
        the GAN ``"d_loss"`` and ``"g_loss"``.

    Raises
    ------
    ValueError
        A bad hyper-parameter; ``X`` of the wrong shape, with NaN, or out of [0, 1] where the likelihood needs it;
        missing or malformed ``y``.
    """
    if not isinstance(model, ZooModel):
        raise ValueError(f"train: model must be one of the zoo's models (reservoirs.adapters.zoo); got "
                         f"{type(model).__name__}.")
    _check_hyper(epochs, batch_size, lr, weight_decay, seed, n_threads)
    X = as_input(model, X)
    _check_unit_range(model, X)
    Y = _as_target(model, y, X.shape[0])
    with _Threads(n_threads):
        if isinstance(model, GAN):
            return _train_gan(model, X, epochs, batch_size, lr, weight_decay, seed, progress)
        return _train_loss(model, X, Y, epochs, batch_size, lr, weight_decay, seed, progress)


def _epochs_bar(model, epochs, progress):
    return tqdm(range(epochs), desc=f"train {type(model).__name__}", unit="epoch", disable=not progress,
                leave=False)


def _train_loss(model, X, Y, epochs, batch_size, lr, weight_decay, seed, progress):
    g = torch.Generator().manual_seed(int(seed))
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    n = X.shape[0]
    history: dict[str, list[float]] = {"loss": []}
    model.train()
    try:
        bar = _epochs_bar(model, epochs, progress)
        for _ in bar:
            perm = torch.randperm(n, generator=g)
            sums: dict[str, float] = {}
            for a in range(0, n, batch_size):
                idx = perm[a:a + batch_size]
                opt.zero_grad()
                loss, parts = model.loss(X[idx], None if Y is None else Y[idx], generator=g)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"train: {type(model).__name__}'s loss became {float(loss)}; lower lr "
                                             f"(now {lr}) or check the data's scaling.")
                loss.backward()
                opt.step()
                w = len(idx) / n
                for k, v in {"loss": loss.item(), **parts}.items():
                    sums[k] = sums.get(k, 0.0) + w * v
            for k, v in sums.items():
                history.setdefault(k, []).append(v)
            bar.set_postfix(loss=f"{sums['loss']:.4g}")
    finally:
        model.eval()
    return history


def _train_gan(model, X, epochs, batch_size, lr, weight_decay, seed, progress):
    g = torch.Generator().manual_seed(int(seed))
    betas = (0.5, 0.999)  # DCGAN's Adam settings
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=lr, betas=betas, weight_decay=weight_decay)
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=lr, betas=betas, weight_decay=weight_decay)
    n = X.shape[0]
    history = {"loss": [], "d_loss": [], "g_loss": []}
    model.train()
    try:
        bar = _epochs_bar(model, epochs, progress)
        for _ in bar:
            perm = torch.randperm(n, generator=g)
            d_sum = g_sum = 0.0
            for a in range(0, n, batch_size):
                xb = X[perm[a:a + batch_size]]
                b = xb.shape[0]
                opt_d.zero_grad()
                with torch.no_grad():
                    fake = model.generator(model.noise(b, g).to(xb.dtype))
                d_loss = model.d_loss(xb, fake)
                d_loss.backward()
                opt_d.step()
                opt_g.zero_grad()
                g_loss = model.g_loss(model.noise(b, g).to(xb.dtype))
                g_loss.backward()
                opt_g.step()
                if not (torch.isfinite(d_loss) and torch.isfinite(g_loss)):
                    raise FloatingPointError(f"train: the GAN's losses became {float(d_loss)}, {float(g_loss)}; "
                                             f"lower lr (now {lr}).")
                d_sum += d_loss.item() * b / n
                g_sum += g_loss.item() * b / n
            history["loss"].append(d_sum)
            history["d_loss"].append(d_sum)
            history["g_loss"].append(g_sum)
            bar.set_postfix(d_loss=f"{d_sum:.3g}", g_loss=f"{g_sum:.3g}")
    finally:
        model.eval()
    return history


def _expect(model, kinds, fn):
    if not isinstance(model, kinds):
        names = " or ".join(k.__name__ for k in (kinds if isinstance(kinds, tuple) else (kinds,)))
        raise ValueError(f"{fn}: model must be a {names}; got {type(model).__name__} (use train() for any zoo "
                         f"model).")


def train_cnn(model: CNN, X, y, **kwargs) -> dict[str, list[float]]:
    """:func:`train` for a :class:`~reservoirs.adapters.zoo.CNN` (cross-entropy on labels ``y``)."""
    _expect(model, CNN, "train_cnn")
    return train(model, X, y, **kwargs)


def train_autoencoder(model: AE, X, **kwargs) -> dict[str, list[float]]:
    """:func:`train` for an :class:`~reservoirs.adapters.zoo.AE`, ``DAE`` or ``SAE`` (reconstruction loss)."""
    _expect(model, AE, "train_autoencoder")
    return train(model, X, **kwargs)


def train_vae(model: _VAEBase, X, **kwargs) -> dict[str, list[float]]:
    """:func:`train` for a :class:`~reservoirs.adapters.zoo.VAE` or ``ConvVAE`` (negative ELBO; the history holds
    ``"elbo"``, ``"recon"`` and ``"kl"``)."""
    _expect(model, _VAEBase, "train_vae")
    return train(model, X, **kwargs)


def train_gan(model: GAN, X, **kwargs) -> dict[str, list[float]]:
    """:func:`train` for a :class:`~reservoirs.adapters.zoo.GAN`: per minibatch one discriminator step on real and
    generated samples, then one generator step (non-saturating loss), Adam with beta1 = 0.5."""
    _expect(model, GAN, "train_gan")
    return train(model, X, **kwargs)


def train_lstm(model: LSTMEncoder, X, y, **kwargs) -> dict[str, list[float]]:
    """:func:`train` for an :class:`~reservoirs.adapters.zoo.LSTMEncoder` on sequences ``(n, T, D)``."""
    _expect(model, LSTMEncoder, "train_lstm")
    return train(model, X, y, **kwargs)
