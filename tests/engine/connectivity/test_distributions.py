"""Value distributions and resolve_values: moments, sign keeping, determinism, validation errors."""
import math

import numba
import numpy as np
import pytest
from scipy import stats

from engine.network.distributions import Gamma, LogNormal, Normal, Uniform, resolve_values

N = 200_000


def draw(spec, n=N, seed=7, stream=2):
    const, values = resolve_values(spec, n, seed=seed, stream=stream, name="weight")
    assert const is None and values.dtype == np.float64 and values.shape == (n,)
    return values


def assert_moments(x, mean, var):
    se_mean = math.sqrt(var / x.size)
    assert abs(x.mean() - mean) < 5 * se_mean + 1e-12, (x.mean(), mean)
    assert abs(x.var() - var) < 0.03 * var + 1e-12, (x.var(), var)


def test_number_is_homogeneous():
    assert resolve_values(2.5, 10, seed=0, stream=0, name="w") == (2.5, None)
    assert resolve_values(np.float32(-1.5), 10, seed=0, stream=0, name="w") == (-1.5, None)
    assert resolve_values(3, 0, seed=0, stream=0, name="w") == (3.0, None)
    assert resolve_values(np.array(4.0), 2, seed=0, stream=0, name="w") == (4.0, None)


def test_array_is_copied_as_float64():
    src = [1, 2, 3]
    const, values = resolve_values(src, 3, seed=0, stream=0, name="w")
    assert const is None and values.dtype == np.float64 and values.tolist() == [1.0, 2.0, 3.0]
    a = np.arange(4, dtype=np.float32)
    _, values = resolve_values(a, 4, seed=0, stream=0, name="w")
    values[0] = 9
    assert a[0] == 0


def test_uniform():
    x = draw(Uniform(-1.0, 3.0))
    assert x.min() >= -1.0 and x.max() < 3.0
    assert_moments(x, 1.0, 16.0 / 12.0)
    assert stats.kstest(x[:20000], stats.uniform(-1, 4).cdf).pvalue > 1e-4
    assert np.all(draw(Uniform(2.0, 2.0), 10) == 2.0)


@pytest.mark.parametrize("mean,std", [(2.0, 0.5), (-1.0, 3.0), (0.0, 1.0)])
def test_normal_keeps_sign(mean, std):
    x = draw(Normal(mean, std))
    if mean > 0:
        assert x.min() >= 0.0
    if mean < 0:
        assert x.max() <= 0.0
    if mean == 0:
        assert x.min() < 0 < x.max()
    # redrawing = truncating at 0 on the far side of the mean
    if mean == 0:
        ref = stats.norm(0.0, std)
    else:
        a, b = ((-mean / std, np.inf) if mean > 0 else (-np.inf, -mean / std))
        ref = stats.truncnorm(a, b, loc=mean, scale=std)
    assert_moments(x, ref.mean(), ref.var())
    assert stats.kstest(x[:20000], ref.cdf).pvalue > 1e-4


def test_normal_zero_std_is_constant():
    assert np.all(draw(Normal(1.5, 0.0), 100) == 1.5)


@pytest.mark.parametrize("shape,scale", [(0.5, 2.0), (1.0, 1.0), (3.0, 0.5), (20.0, 0.1)])
def test_gamma(shape, scale):
    x = draw(Gamma(shape, scale))
    assert x.min() > 0
    assert_moments(x, shape * scale, shape * scale ** 2)
    assert stats.kstest(x[:20000], stats.gamma(shape, scale=scale).cdf).pvalue > 1e-4


@pytest.mark.parametrize("mu,sigma", [(0.0, 0.25), (-1.0, 0.5)])
def test_lognormal(mu, sigma):
    x = draw(LogNormal(mu, sigma))
    mean = math.exp(mu + sigma ** 2 / 2)
    var = (math.exp(sigma ** 2) - 1) * math.exp(2 * mu + sigma ** 2)
    assert_moments(x, mean, var)
    assert stats.kstest(np.log(x[:20000]), stats.norm(mu, sigma).cdf).pvalue > 1e-4


@pytest.mark.parametrize("spec", [Uniform(0, 1), Normal(1, 2), Gamma(0.7, 1), LogNormal(0, 1)],
                         ids=lambda s: type(s).__name__)
def test_deterministic_prefix_and_thread_independent(spec):
    old = numba.get_num_threads()
    try:
        runs = []
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            runs.append(draw(spec, 50_000))
    finally:
        numba.set_num_threads(old)
    assert all(np.array_equal(r, runs[0]) for r in runs)
    assert np.array_equal(draw(spec, 1000), runs[0][:1000])  # sample i depends only on (seed, stream, i)
    assert not np.array_equal(draw(spec, 1000, seed=8), runs[0][:1000])
    assert not np.array_equal(draw(spec, 1000, stream=3), runs[0][:1000])


# ---- validation errors ------------------------------------------------------------------------------------------

def test_uniform_invalid():
    with pytest.raises(ValueError, match="Uniform: high = 0.0 .* >= low = 1.0"):
        Uniform(1.0, 0.0)
    with pytest.raises(ValueError, match="Uniform: low = nan"):
        Uniform(float("nan"), 1.0)


def test_normal_invalid():
    with pytest.raises(ValueError, match="Normal: std = -1.0 .* >= 0"):
        Normal(0.0, -1.0)
    with pytest.raises(ValueError, match="Normal: mean = inf .* finite"):
        Normal(float("inf"), 1.0)


def test_gamma_invalid():
    with pytest.raises(ValueError, match="Gamma: shape = 0.0 .* > 0"):
        Gamma(0.0, 1.0)
    with pytest.raises(ValueError, match="Gamma: scale = -2.0 .* > 0"):
        Gamma(1.0, -2.0)


def test_lognormal_invalid():
    with pytest.raises(ValueError, match="LogNormal: sigma = -0.1 .* >= 0"):
        LogNormal(0.0, -0.1)
    with pytest.raises(ValueError, match="LogNormal: mu = 'a'"):
        LogNormal("a", 1.0)


@pytest.mark.parametrize("spec,text", [
    (float("nan"), "weight = nan is not allowed; it must be a finite number"),
    (float("inf"), "weight = inf is not allowed"),
    ([1.0, np.nan, 2.0], "weight\\[1\\] = nan is not allowed; every value must be finite"),
    ([1.0, 2.0], "weight has shape \\(2,\\); an array must have shape \\(3,\\)"),
    (np.ones((3, 1)), "weight has shape \\(3, 1\\)"),
    ("big", "weight = 'big' is not allowed"),
    (None, "weight = None is not allowed"),
    (True, "weight = True is not allowed"),
    ([object()], "is not allowed; give a finite number"),
])
def test_resolve_values_invalid(spec, text):
    with pytest.raises(ValueError, match=text):
        resolve_values(spec, 3, seed=0, stream=0, name="weight")


def test_resolve_values_bad_arguments():
    with pytest.raises(ValueError, match="weight: n = -1"):
        resolve_values(1.0, -1, seed=0, stream=0, name="weight")
    with pytest.raises(ValueError, match="weight: seed = -3"):
        resolve_values(Uniform(0, 1), 3, seed=-3, stream=0, name="weight")
    with pytest.raises(ValueError, match="weight: stream = 0.5"):
        resolve_values(Uniform(0, 1), 3, seed=0, stream=0.5, name="weight")


def test_normal_bounds_redraw_outside_the_interval():
    v = resolve_values(Normal(1.5, 0.75, low=0.1), 20000, seed=3, stream=7, name="delay")[1]
    assert v.min() >= 0.1 and abs(np.median(v) - 1.5) < 0.05
    v = resolve_values(Normal(0.0, 1.0, low=-0.5, high=0.5), 5000, seed=3, stream=7, name="w")[1]
    assert v.min() >= -0.5 and v.max() <= 0.5
    # without bounds the sign rule: identical to bounds at 0 on the far side
    a = resolve_values(Normal(-2.0, 3.0), 1000, seed=1, stream=2, name="w")[1]
    b = resolve_values(Normal(-2.0, 3.0, high=0.0), 1000, seed=1, stream=2, name="w")[1]
    assert a.max() <= 0.0 and np.array_equal(a, b)


@pytest.mark.parametrize("kwargs, match", [
    ({"low": 2.0, "high": 1.0}, "low must be < high"),
    ({"low": 1.0, "high": 1.0}, "low must be < high"),
    ({"low": 100.0}, "at least 1e-6"),
    ({"low": float("nan")}, "low = nan"),
    ({"high": "x"}, "high = 'x'"),
])
def test_normal_bounds_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Normal(1.0, 1.0, **kwargs)


def test_normal_zero_std_needs_mean_inside_bounds():
    with pytest.raises(ValueError, match="at least 1e-6"):
        Normal(1.0, 0.0, low=2.0)
    assert resolve_values(Normal(1.0, 0.0, low=0.5), 3, seed=0, stream=0, name="w")[1].tolist() == [1.0] * 3


def test_v_init_distribution_per_neuron_and_trial():
    from engine import Network, Population, Simulator
    from engine.io.modelfile import loads_model

    def v0(trials):
        net = Network(dt=0.1, seed=5)
        net.add(Population("a", 4000, V_init=Normal(-58.0, 10.0)))
        return Simulator(net, trials=trials).V0

    v = v0(2)
    assert abs(v[0].mean() + 58.0) < 0.5 and abs(v[0].std() - 10.0) < 0.5
    assert not np.array_equal(v[0], v[1])  # each trial draws its own
    assert np.array_equal(v, v0(2)) and np.array_equal(v[0], v0(1)[0])
    net, _ = loads_model('[[population]]\nname = "a"\nsize = 4000\n'
                         'V_init = {dist = "normal", mean = -58.0, std = 10.0}\n[network]\nseed = 5\n')
    assert net.get("a").V_init == Normal(-58.0, 10.0)
    assert np.array_equal(Simulator(net).V0[0], v[0])
