"""The zoo's nets as PyTorch modules: CNN, autoencoders (plain, denoising, sparse), VAEs (dense and convolutional),
a GAN whose discriminator extracts features, and an LSTM sequence encoder.

Every model is a :class:`ZooModel`: its constructor checks its arguments and draws its initial weights from its own
``seed`` (the global torch random state is left as it was); ``config`` holds the constructor's arguments (JSON), so
:func:`~reservoirs.adapters.zoo.save_model` stores a model as configuration plus weights; ``loss(x, y, generator)``
is what :func:`~reservoirs.adapters.zoo.train` minimises (noise drawn from ``generator``); ``feature_extractor()``
is the part that maps inputs to features (exported to ONNX by
:func:`~reservoirs.adapters.zoo.export_features`) and ``feature_layer`` its name for
:class:`~reservoirs.adapters.TorchFeatures`.

Inputs: images ``(n, C, H, W)`` (flat rows of ``C*H*W`` values are reshaped), vectors ``(n, D)``, sequences
``(n, T, D)``. Autoencoders with a sigmoid output and VAEs with a Bernoulli likelihood expect data in [0, 1].
"""
from __future__ import annotations

import contextvars
import functools
import math
import numbers
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from engine.build.memory import check_fits

#: Bytes per parameter (or buffer entry) while a model is built: float32 values and the initialiser's temporaries.
BUILD_BYTES_PER_PARAMETER = 8
_PROBING = contextvars.ContextVar("pond_zoo_probing", default=False)

#: Activation name -> module class (looked up once, when a model is built).
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "identity": nn.Identity,
               "leaky_relu": nn.LeakyReLU}


# --- argument checks ------------------------------------------------------------------------------------------------
def _int(owner, key, v, low=1):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
        raise ValueError(f"{owner}: parameter {key}={v!r} is invalid; it must be an int >= {low}.")
    return int(v)


def _real(owner, key, v, low=0.0, high=None, low_open=True, high_open=False):
    ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
    ok = ok and (v > low if low_open else v >= low) and (high is None or (v < high if high_open else v <= high))
    if not ok:
        lb, rb = ("(" if low_open else "["), (")" if high is None or high_open else "]")
        raise ValueError(f"{owner}: parameter {key}={v!r} is invalid; it must be a float in {lb}{low}, "
                         f"{'inf' if high is None else high}{rb}.")
    return float(v)


def _ints(owner, key, v, empty=False):
    if isinstance(v, numbers.Integral) and not isinstance(v, bool):
        v = (v,)
    if not isinstance(v, (tuple, list)) or (not v and not empty) or any(
            isinstance(e, bool) or not isinstance(e, numbers.Integral) or e < 1 for e in v):
        raise ValueError(f"{owner}: parameter {key}={v!r} is invalid; it must be a tuple of positive ints"
                         f"{' (may be empty)' if empty else ''}.")
    return tuple(int(e) for e in v)


def _option(owner, key, v, options):
    if v not in options:
        raise ValueError(f"{owner}: parameter {key}={v!r} is invalid; it must be one of "
                         f"{', '.join(repr(o) for o in options)}.")
    return v


def _seed(owner, v):
    return _int(owner, "seed", v, low=0)


@contextmanager
def seeded(seed: int):
    """Run the block with torch's CPU random state seeded by ``seed``, and put the previous state back after."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _mlp(sizes, activation, last_activation="identity"):
    """Linear layers between consecutive ``sizes``, ``activation`` after each but the last."""
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        act = activation if i < len(sizes) - 2 else last_activation
        layers.append(ACTIVATIONS[act]())
    return nn.Sequential(*layers)


def _memory_checked(init):
    """``init`` preceded, for the outermost constructor call only, by a dry run on torch's ``meta`` device (shapes,
    no storage) that counts the parameters, and a MemoryError when they cannot fit (a configuration with
    ``n_inputs=10**9`` would otherwise ask torch for 128 GB)."""
    @functools.wraps(init)
    def checked(self, *args, **kwargs):
        if not _PROBING.get():
            token = _PROBING.set(True)
            try:
                with torch.device("meta"):
                    probe = type(self).__new__(type(self))
                    init(probe, *args, **kwargs)  # the argument checks run here too, before any allocation
                n = sum(t.numel() for t in probe.parameters()) + sum(t.numel() for t in probe.buffers())
            finally:
                _PROBING.reset(token)
            check_fits(BUILD_BYTES_PER_PARAMETER * n, f"{type(self).__name__}: a model of {n} parameters",
                       "use smaller layers or inputs.")
        init(self, *args, **kwargs)
    return checked


class ZooModel(nn.Module):
    """Base class of the zoo's models (see the module docstring). Every constructor first counts the parameters its
    configuration makes (a dry run without storage) and refuses one that cannot fit in memory."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _memory_checked(cls.__init__)

    #: Name of the submodule whose output is the feature vector (for ``TorchFeatures(model, layer=...)``).
    feature_layer: str = ""
    #: True when ``loss`` needs targets ``y``.
    supervised: bool = False

    def __init__(self, **config):
        super().__init__()
        self.config = config

    @property
    def sample_shape(self) -> tuple:
        """Shape of one input sample (``None`` for a free dimension)."""
        raise NotImplementedError

    def loss(self, x, y=None, generator=None):
        """``(loss, parts)``: the scalar loss of a batch and a dict of its named parts (floats)."""
        raise NotImplementedError

    def feature_extractor(self) -> nn.Module:
        """The module mapping a batch to its features (shares this model's parameters)."""
        return self.get_submodule(self.feature_layer)


# --- CNN --------------------------------------------------------------------------------------------------------------
class CNN(ZooModel):
    """Convolutional classifier: ``len(channels)`` blocks of conv (same padding) → ReLU → 2×2 max-pool, then a dense
    softmax head. The conv stack (``features``, flattened by ``flatten``) is the feature extractor.

    Parameters
    ----------
    image_shape : tuple of int, default=(1, 8, 8)
        ``(C, H, W)``; H and W must be divisible by ``2 ** len(channels)``.
    channels : tuple of int, default=(8, 16)
        Output channels of each conv block.
    n_classes : int, default=10
    kernel_size : int, default=3
        Odd conv kernel size.
    seed : int, default=0
        Seed of the initial weights.

    Examples
    --------
    >>> net = CNN()
    >>> net(torch.zeros(2, 1, 8, 8)).shape, net.feature_extractor()(torch.zeros(2, 1, 8, 8)).shape
    (torch.Size([2, 10]), torch.Size([2, 64]))
    """

    feature_layer = "flatten"
    supervised = True

    def __init__(self, image_shape=(1, 8, 8), channels=(8, 16), n_classes: int = 10, kernel_size: int = 3,
                 seed: int = 0):
        o = "CNN"
        image_shape, channels = _ints(o, "image_shape", image_shape), _ints(o, "channels", channels)
        n_classes, kernel_size, seed = _int(o, "n_classes", n_classes, 2), _int(o, "kernel_size", kernel_size), \
            _seed(o, seed)
        if len(image_shape) != 3:
            raise ValueError(f"CNN: parameter image_shape={image_shape!r} is invalid; it must be (C, H, W).")
        if kernel_size % 2 == 0:
            raise ValueError(f"CNN: parameter kernel_size={kernel_size} is invalid; it must be odd.")
        div = 2 ** len(channels)
        if image_shape[1] % div or image_shape[2] % div:
            raise ValueError(f"CNN: image_shape={image_shape} does not fit {len(channels)} pooling blocks; H and W "
                             f"must be divisible by {div}.")
        super().__init__(image_shape=list(image_shape), channels=list(channels), n_classes=n_classes,
                         kernel_size=kernel_size, seed=seed)
        self.image_shape = image_shape
        with seeded(seed):
            layers, c_in = [], image_shape[0]
            for c in channels:
                layers += [nn.Conv2d(c_in, c, kernel_size, padding=kernel_size // 2), nn.ReLU(), nn.MaxPool2d(2)]
                c_in = c
            self.features = nn.Sequential(*layers)
            self.flatten = nn.Flatten()
            self.n_features = c_in * (image_shape[1] // div) * (image_shape[2] // div)
            self.head = nn.Linear(self.n_features, n_classes)

    @property
    def sample_shape(self):
        return self.image_shape

    def forward(self, x):
        return self.head(self.flatten(self.features(x.reshape((-1,) + self.image_shape))))

    def feature_extractor(self):
        return nn.Sequential(self.features, self.flatten)

    def loss(self, x, y=None, generator=None):
        loss = F.cross_entropy(self(x), y)
        return loss, {}


# --- autoencoders -----------------------------------------------------------------------------------------------------
class AE(ZooModel):
    """Autoencoder: an hourglass MLP ``n_inputs → hidden… → code → …hidden → n_inputs``, trained to reconstruct its
    input (mean squared error). The encoder (``encoder``) is the feature extractor.

    Parameters
    ----------
    n_inputs : int, default=64
    hidden : tuple of int, default=(32,)
        Hidden layer sizes between input and code (may be empty); the decoder mirrors them.
    code : int, default=16
        Code size.
    activation : {'relu', 'tanh', 'sigmoid', 'leaky_relu', 'identity'}, default='relu'
    code_activation : same choices, default='identity'
    output_activation : same choices, default='sigmoid'
        Sigmoid suits data in [0, 1].
    tied : bool, default=False
        The decoder uses the transposed encoder weights (only its biases are its own).
    seed : int, default=0

    Examples
    --------
    >>> ae = AE(n_inputs=6, hidden=(4,), code=2, tied=True)
    >>> ae(torch.zeros(3, 6)).shape, ae.encoder(torch.zeros(3, 6)).shape
    (torch.Size([3, 6]), torch.Size([3, 2]))
    """

    feature_layer = "encoder"

    def __init__(self, n_inputs: int = 64, hidden=(32,), code: int = 16, activation: str = "relu",
                 code_activation: str = "identity", output_activation: str = "sigmoid", tied: bool = False,
                 seed: int = 0):
        o = type(self).__name__
        n_inputs, code, seed = _int(o, "n_inputs", n_inputs), _int(o, "code", code), _seed(o, seed)
        hidden = _ints(o, "hidden", hidden, empty=True)
        for key, v in (("activation", activation), ("code_activation", code_activation),
                       ("output_activation", output_activation)):
            _option(o, key, v, tuple(ACTIVATIONS))
        if not isinstance(tied, bool):
            raise ValueError(f"{o}: parameter tied={tied!r} is invalid; it must be a bool.")
        super().__init__(n_inputs=n_inputs, hidden=list(hidden), code=code, activation=activation,
                         code_activation=code_activation, output_activation=output_activation, tied=tied,
                         seed=seed)
        self.n_inputs, self.tied = n_inputs, tied
        sizes = [n_inputs, *hidden, code]
        with seeded(seed):
            self.encoder = _mlp(sizes, activation, code_activation)
            if tied:
                self.decoder_bias = nn.ParameterList([nn.Parameter(torch.zeros(s)) for s in sizes[-2::-1]])
            else:
                self.decoder = _mlp(sizes[::-1], activation, output_activation)
        self._act = ACTIVATIONS[activation]()
        self._out_act = ACTIVATIONS[output_activation]()

    @property
    def sample_shape(self):
        return (self.n_inputs,)

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        if not self.tied:
            return self.decoder(z)
        linears = [m for m in self.encoder if isinstance(m, nn.Linear)][::-1]
        for i, (lin, b) in enumerate(zip(linears, self.decoder_bias)):
            z = F.linear(z, lin.weight.t(), b)
            z = self._act(z) if i < len(linears) - 1 else self._out_act(z)
        return z

    def forward(self, x):
        return self.decode(self.encode(x))

    def loss(self, x, y=None, generator=None):
        return F.mse_loss(self(x), x), {}


class DAE(AE):
    """Denoising autoencoder: an :class:`AE` that reconstructs the clean input from a corrupted copy.

    Parameters
    ----------
    noise : {'gaussian', 'masking'}, default='gaussian'
        Additive Gaussian noise of SD ``noise_level``, or each input set to 0 with probability ``noise_level``.
    noise_level : float, default=0.3
        > 0 (masking: < 1).
    **kwargs
        As :class:`AE`.

    References
    ----------
    Vincent, Larochelle, Bengio & Manzagol (2008), Extracting and composing robust features with denoising
    autoencoders, ICML.
    """

    def __init__(self, n_inputs: int = 64, hidden=(32,), code: int = 16, activation: str = "relu",
                 code_activation: str = "identity", output_activation: str = "sigmoid", tied: bool = False,
                 noise: str = "gaussian", noise_level: float = 0.3, seed: int = 0):
        _option("DAE", "noise", noise, ("gaussian", "masking"))
        noise_level = _real("DAE", "noise_level", noise_level, 0.0, 1.0 if noise == "masking" else None,
                            high_open=True)
        super().__init__(n_inputs, hidden, code, activation, code_activation, output_activation, tied, seed)
        self.config.update(noise=noise, noise_level=noise_level)
        self.noise, self.noise_level = noise, noise_level

    def corrupt(self, x, generator=None):
        """A corrupted copy of ``x`` (noise from ``generator``)."""
        if self.noise == "gaussian":
            return x + self.noise_level * torch.randn(x.shape, generator=generator, dtype=x.dtype)
        keep = torch.rand(x.shape, generator=generator, dtype=x.dtype) >= self.noise_level
        return x * keep

    def loss(self, x, y=None, generator=None):
        return F.mse_loss(self(self.corrupt(x, generator)), x), {}


class SAE(AE):
    r"""Sparse autoencoder: an over-complete :class:`AE` with a sparsity penalty on its code.

    .. math::

        L = \mathrm{MSE}(\hat x, x) + \beta\, \Omega, \qquad
        \Omega_{KL} = \sum_j \rho \log\frac{\rho}{\hat\rho_j} + (1 - \rho)\log\frac{1 - \rho}{1 - \hat\rho_j},
        \qquad \Omega_{L1} = \overline{|h|},

    with :math:`\hat\rho_j` unit :math:`j`'s mean activation over the batch (sigmoid code units for 'kl', ReLU for
    'l1') and :math:`\overline{|h|}` the mean absolute code.

    Parameters
    ----------
    n_inputs : int, default=64
    hidden : tuple of int, default=()
    code : int, default=128
        Code size (over-complete: larger than ``n_inputs``).
    penalty : {'kl', 'l1'}, default='kl'
    sparsity : float, default=0.05
        Target mean activation :math:`\rho` for 'kl', in (0, 1).
    beta : float, default=1.0
        Penalty weight, >= 0.
    **kwargs
        ``activation``, ``output_activation``, ``tied``, ``seed`` as :class:`AE`.

    References
    ----------
    Ng (2011), Sparse autoencoder, CS294A lecture notes, Stanford.
    """

    def __init__(self, n_inputs: int = 64, hidden=(), code: int = 128, penalty: str = "kl", sparsity: float = 0.05,
                 beta: float = 1.0, activation: str = "relu", output_activation: str = "sigmoid", tied: bool = False,
                 seed: int = 0):
        _option("SAE", "penalty", penalty, ("kl", "l1"))
        sparsity = _real("SAE", "sparsity", sparsity, 0.0, 1.0, high_open=True)
        beta = _real("SAE", "beta", beta, 0.0, low_open=False)
        super().__init__(n_inputs, hidden, code, activation, "sigmoid" if penalty == "kl" else "relu",
                         output_activation, tied, seed)
        del self.config["code_activation"]  # set by the penalty
        self.config.update(penalty=penalty, sparsity=sparsity, beta=beta)
        self.penalty, self.sparsity, self.beta = penalty, sparsity, beta

    def loss(self, x, y=None, generator=None):
        h = self.encode(x)
        recon = F.mse_loss(self.decode(h), x)
        if self.penalty == "kl":
            rho_hat = h.mean(dim=0).clamp(1e-6, 1 - 1e-6)
            rho = self.sparsity
            pen = (rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))).sum()
        else:
            pen = h.abs().mean()
        return recon + self.beta * pen, {"recon": recon.item(), "penalty": pen.item(),
                                         "mean_activation": h.mean().item()}


# --- variational autoencoders -----------------------------------------------------------------------------------------
class _VAEBase(ZooModel):
    r"""Shared VAE machinery: Gaussian posterior :math:`q(z|x) = N(\mu, \sigma^2)`, standard normal prior,
    reparameterisation :math:`z = \mu + \sigma \epsilon`; the loss is the negative ELBO

    .. math:: -\mathrm{ELBO} = -\log p(x|z) + \mathrm{KL}(q(z|x)\,\|\,N(0, I)), \qquad
              \mathrm{KL} = -\tfrac12 \sum_j (1 + \log\sigma_j^2 - \mu_j^2 - \sigma_j^2),

    summed over features and averaged over the batch (Bernoulli likelihood: binary cross-entropy on logits;
    Gaussian: half the squared error).
    """

    feature_layer = "mu"

    def _init_vae(self, code, likelihood):
        self.code = _option(type(self).__name__, "code", code, ("mean", "sample"))
        self.likelihood = _option(type(self).__name__, "likelihood", likelihood, ("bernoulli", "gaussian"))

    def encode(self, x):
        h = self.encoder(self._prep(x))
        return self.mu(h), self.logvar(h)

    def _prep(self, x):
        return x

    def reparameterize(self, mu, logvar, generator=None):
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        return mu + torch.exp(0.5 * logvar) * eps

    def forward(self, x, generator=None):
        """``(reconstruction logits or means, mu, logvar)``; ``z`` is sampled in training mode, ``mu`` in eval."""
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar, generator) if self.training else mu
        return self.decoder(z).reshape(x.shape), mu, logvar

    def loss(self, x, y=None, generator=None):
        mu, logvar = self.encode(x)
        out = self.decoder(self.reparameterize(mu, logvar, generator)).reshape(x.shape)
        n = x.shape[0]
        if self.likelihood == "bernoulli":
            rec = F.binary_cross_entropy_with_logits(out, x, reduction="sum") / n
        else:
            rec = 0.5 * F.mse_loss(out, x, reduction="sum") / n
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n
        loss = rec + kl
        return loss, {"recon": rec.item(), "kl": kl.item(), "elbo": -loss.item()}

    def feature_extractor(self):
        return _VAECode(self)


class _VAECode(nn.Module):
    """A VAE's code: the posterior mean, or a sample ``mu + sigma * eps`` (``code='sample'``)."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, x):
        mu, logvar = self.vae.encode(x)
        if self.vae.code == "mean":
            return mu
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


class VAE(_VAEBase):
    """Variational autoencoder with MLP encoder and decoder; the code (``mu``, or a sample) is the feature vector.

    Parameters
    ----------
    n_inputs : int, default=64
    hidden : tuple of int, default=(64,)
    latent : int, default=8
    code : {'mean', 'sample'}, default='mean'
        What ``feature_extractor()`` returns: the posterior mean, or a sample from the posterior.
    likelihood : {'bernoulli', 'gaussian'}, default='bernoulli'
        Bernoulli needs data in [0, 1].
    seed : int, default=0

    References
    ----------
    Kingma & Welling (2014), Auto-encoding variational Bayes, ICLR.

    Examples
    --------
    >>> vae = VAE(n_inputs=6, hidden=(4,), latent=2).eval()
    >>> [t.shape[1] for t in vae(torch.zeros(3, 6))]
    [6, 2, 2]
    """

    def __init__(self, n_inputs: int = 64, hidden=(64,), latent: int = 8, code: str = "mean",
                 likelihood: str = "bernoulli", seed: int = 0):
        o = "VAE"
        n_inputs, latent, seed = _int(o, "n_inputs", n_inputs), _int(o, "latent", latent), _seed(o, seed)
        hidden = _ints(o, "hidden", hidden)
        super().__init__(n_inputs=n_inputs, hidden=list(hidden), latent=latent, code=code, likelihood=likelihood,
                         seed=seed)
        self._init_vae(code, likelihood)
        self.n_inputs = n_inputs
        with seeded(seed):
            self.encoder = _mlp([n_inputs, *hidden], "relu", "relu")
            self.mu = nn.Linear(hidden[-1], latent)
            self.logvar = nn.Linear(hidden[-1], latent)
            self.decoder = _mlp([latent, *hidden[::-1], n_inputs], "relu")

    @property
    def sample_shape(self):
        return (self.n_inputs,)


class ConvVAE(_VAEBase):
    """Convolutional VAE in the DCIGN arrangement: a strided-conv encoder to a Gaussian code and a transposed-conv
    (deconvolution) decoder back to the image.

    Parameters
    ----------
    image_shape : tuple of int, default=(1, 8, 8)
        ``(C, H, W)``; H and W divisible by ``2 ** len(channels)``.
    channels : tuple of int, default=(16, 32)
        Channels of each stride-2 conv block (4×4 kernels); the decoder mirrors them.
    latent : int, default=8
    code : {'mean', 'sample'}, default='mean'
    likelihood : {'bernoulli', 'gaussian'}, default='bernoulli'
    seed : int, default=0

    References
    ----------
    Kulkarni, Whitney, Kohli & Tenenbaum (2015), Deep convolutional inverse graphics network, NeurIPS.

    Examples
    --------
    >>> vae = ConvVAE().eval()
    >>> [tuple(t.shape) for t in vae(torch.zeros(2, 1, 8, 8))]
    [(2, 1, 8, 8), (2, 8), (2, 8)]
    """

    def __init__(self, image_shape=(1, 8, 8), channels=(16, 32), latent: int = 8, code: str = "mean",
                 likelihood: str = "bernoulli", seed: int = 0):
        o = "ConvVAE"
        image_shape, channels = _ints(o, "image_shape", image_shape), _ints(o, "channels", channels)
        latent, seed = _int(o, "latent", latent), _seed(o, seed)
        if len(image_shape) != 3:
            raise ValueError(f"ConvVAE: parameter image_shape={image_shape!r} is invalid; it must be (C, H, W).")
        div = 2 ** len(channels)
        if image_shape[1] % div or image_shape[2] % div:
            raise ValueError(f"ConvVAE: image_shape={image_shape} does not fit {len(channels)} stride-2 blocks; H "
                             f"and W must be divisible by {div}.")
        super().__init__(image_shape=list(image_shape), channels=list(channels), latent=latent, code=code,
                         likelihood=likelihood, seed=seed)
        self._init_vae(code, likelihood)
        self.image_shape = image_shape
        h, w = image_shape[1] // div, image_shape[2] // div
        n_flat = channels[-1] * h * w
        with seeded(seed):
            enc, c_in = [], image_shape[0]
            for c in channels:
                enc += [nn.Conv2d(c_in, c, 4, stride=2, padding=1), nn.ReLU()]
                c_in = c
            self.encoder = nn.Sequential(*enc, nn.Flatten())
            self.mu = nn.Linear(n_flat, latent)
            self.logvar = nn.Linear(n_flat, latent)
            dec = [nn.Linear(latent, n_flat), nn.ReLU(), nn.Unflatten(1, (channels[-1], h, w))]
            outs = list(channels[-2::-1]) + [image_shape[0]]
            for i, c in enumerate(outs):
                dec.append(nn.ConvTranspose2d(c_in, c, 4, stride=2, padding=1))
                if i < len(outs) - 1:
                    dec.append(nn.ReLU())
                c_in = c
            self.decoder = nn.Sequential(*dec)

    @property
    def sample_shape(self):
        return self.image_shape

    def _prep(self, x):
        return x.reshape((-1,) + self.image_shape)


# --- GAN --------------------------------------------------------------------------------------------------------------
class Discriminator(nn.Module):
    """The GAN's critic: ``features`` (MLP with leaky ReLUs) then ``head`` (one logit: real or generated)."""

    def __init__(self, n_inputs, hidden):
        super().__init__()
        self.features = _mlp([n_inputs, *hidden], "leaky_relu", "leaky_relu")
        self.head = nn.Linear(hidden[-1], 1)

    def forward(self, x):
        return self.head(self.features(x)).squeeze(-1)


class GAN(ZooModel):
    """Generative adversarial net whose discriminator's hidden layers serve as the feature extractor.

    The generator maps Gaussian noise (``latent``) through an MLP to a sigmoid output; the discriminator is an MLP with
    leaky ReLUs. Trained with the non-saturating losses (:func:`~reservoirs.adapters.zoo.train_gan`).

    Parameters
    ----------
    n_inputs : int, default=64
    latent : int, default=16
    hidden : tuple of int, default=(128,)
        Hidden sizes of the discriminator; the generator mirrors them.
    seed : int, default=0

    References
    ----------
    Goodfellow et al. (2014), Generative adversarial nets, NeurIPS; Radford, Metz & Chintala (2016), DCGAN, ICLR
    (discriminator features for classification).

    Examples
    --------
    >>> gan = GAN(n_inputs=6, latent=2, hidden=(4,))
    >>> gan(torch.zeros(3, 6)).shape, gan.feature_extractor()(torch.zeros(3, 6)).shape
    (torch.Size([3]), torch.Size([3, 4]))
    """

    feature_layer = "discriminator.features"

    def __init__(self, n_inputs: int = 64, latent: int = 16, hidden=(128,), seed: int = 0):
        o = "GAN"
        n_inputs, latent, seed = _int(o, "n_inputs", n_inputs), _int(o, "latent", latent), _seed(o, seed)
        hidden = _ints(o, "hidden", hidden)
        super().__init__(n_inputs=n_inputs, latent=latent, hidden=list(hidden), seed=seed)
        self.n_inputs, self.latent = n_inputs, latent
        with seeded(seed):
            self.generator = _mlp([latent, *hidden[::-1], n_inputs], "relu", "sigmoid")
            self.discriminator = Discriminator(n_inputs, hidden)

    @property
    def sample_shape(self):
        return (self.n_inputs,)

    def forward(self, x):
        """The discriminator's logit that ``x`` is real."""
        return self.discriminator(x)

    def noise(self, n, generator=None):
        return torch.randn((n, self.latent), generator=generator)

    def d_loss(self, x, fake):
        real_logit, fake_logit = self.discriminator(x), self.discriminator(fake)
        return (F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
                + F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit)))

    def g_loss(self, z):
        logit = self.discriminator(self.generator(z))
        return F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))

    def loss(self, x, y=None, generator=None):
        """The discriminator's loss on ``x`` against as many generated samples."""
        fake = self.generator(self.noise(x.shape[0], generator).to(x.dtype))
        return self.d_loss(x, fake), {}


# --- LSTM -------------------------------------------------------------------------------------------------------------
class LastHidden(nn.Module):
    """An LSTM over ``(n, T, D)`` sequences returning the last layer's final hidden state ``(n, hidden)``."""

    def __init__(self, n_inputs, hidden, n_layers):
        super().__init__()
        self.lstm = nn.LSTM(n_inputs, hidden, n_layers, batch_first=True)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return h[-1]


class LSTMEncoder(ZooModel):
    """LSTM sequence encoder: the final hidden state (``encoder``) is the feature vector; a linear ``head`` on it is
    trained to classify the sequence or regress a target.

    Parameters
    ----------
    n_inputs : int, default=1
        Features per time step.
    hidden : int, default=32
    n_layers : int, default=1
    n_outputs : int, default=10
        Classes ('classify') or targets ('regress').
    task : {'classify', 'regress'}, default='classify'
    seed : int, default=0

    Examples
    --------
    >>> enc = LSTMEncoder(n_inputs=2, hidden=5, n_outputs=3)
    >>> enc(torch.zeros(4, 7, 2)).shape, enc.encoder(torch.zeros(4, 7, 2)).shape
    (torch.Size([4, 3]), torch.Size([4, 5]))
    """

    feature_layer = "encoder"
    supervised = True

    def __init__(self, n_inputs: int = 1, hidden: int = 32, n_layers: int = 1, n_outputs: int = 10,
                 task: str = "classify", seed: int = 0):
        o = "LSTMEncoder"
        n_inputs, hidden, n_layers = _int(o, "n_inputs", n_inputs), _int(o, "hidden", hidden), \
            _int(o, "n_layers", n_layers)
        n_outputs, seed = _int(o, "n_outputs", n_outputs), _seed(o, seed)
        _option(o, "task", task, ("classify", "regress"))
        if task == "classify" and n_outputs < 2:
            raise ValueError(f"LSTMEncoder: n_outputs={n_outputs} with task='classify'; it needs >= 2 classes.")
        super().__init__(n_inputs=n_inputs, hidden=hidden, n_layers=n_layers, n_outputs=n_outputs, task=task,
                         seed=seed)
        self.n_inputs, self.task = n_inputs, task
        with seeded(seed):
            self.encoder = LastHidden(n_inputs, hidden, n_layers)
            self.head = nn.Linear(hidden, n_outputs)

    @property
    def sample_shape(self):
        return (None, self.n_inputs)

    def forward(self, x):
        return self.head(self.encoder(x))

    def loss(self, x, y=None, generator=None):
        out = self(x)
        if self.task == "classify":
            return F.cross_entropy(out, y), {}
        return F.mse_loss(out, y.reshape(out.shape)), {}


#: Class name -> class, for :func:`~reservoirs.adapters.zoo.load_model`.
MODELS = {cls.__name__: cls for cls in (CNN, AE, DAE, SAE, VAE, ConvVAE, GAN, LSTMEncoder)}
