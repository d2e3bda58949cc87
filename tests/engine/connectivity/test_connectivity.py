"""Connectivity rules: statistics, exact degrees, flags, determinism across thread counts, validation errors."""
import numba
import numpy as np
import pytest

from engine.network.connectivity import (AllToAll, DistanceDependent, Explicit, FixedInDegree, FixedOutDegree,
                                 FixedProbability, FixedTotalNumber, OneToOne, build_connectivity, grid_positions)

RANDOM_RULES = [FixedProbability(0.1), FixedProbability(0.4), FixedInDegree(7), FixedOutDegree(7),
                FixedTotalNumber(500), DistanceDependent(0.6, 2.0)]


def build(rule, n_pre, n_post, **kw):
    kw.setdefault("seed", 12)
    kw.setdefault("stream", 3)
    if isinstance(rule, DistanceDependent):
        kw.setdefault("pre_positions", np.random.default_rng(0).uniform(0, 5, (n_pre, 3)))
        kw.setdefault("post_positions", np.random.default_rng(1).uniform(0, 5, (n_post, 3)))
    return build_connectivity(rule, n_pre, n_post, **kw)


def pairs(indptr, targets):
    return np.repeat(np.arange(indptr.size - 1), np.diff(indptr)), targets.astype(np.int64)


def check_csr(indptr, targets, n_pre, n_post):
    assert indptr.dtype == np.int64 and targets.dtype == np.int32
    assert indptr.shape == (n_pre + 1,) and indptr[0] == 0 and indptr[-1] == targets.size
    assert np.all(np.diff(indptr) >= 0)
    if targets.size:
        assert targets.min() >= 0 and targets.max() < n_post
    src, tgt = pairs(indptr, targets)
    key = src * n_post + tgt
    assert np.all(np.diff(key) >= 0), "targets must be ascending inside each row"


@pytest.mark.parametrize("rule", RANDOM_RULES + [AllToAll(), Explicit([2, 0, 2, 1], [1, 3, 0, 0])],
                         ids=lambda r: type(r).__name__)
@pytest.mark.parametrize("autapses", [True, False])
@pytest.mark.parametrize("multapses", [True, False])
def test_flags_and_csr_shape(rule, autapses, multapses):
    n = 40
    indptr, targets = build(rule, n, n, same_population=True, allow_autapses=autapses, allow_multapses=multapses)
    check_csr(indptr, targets, n, n)
    src, tgt = pairs(indptr, targets)
    if not autapses:
        assert not np.any(src == tgt)
    if not multapses:
        key = src * n + tgt
        assert np.unique(key).size == key.size


def test_autapses_ignored_between_populations():
    indptr, targets = build(AllToAll(), 5, 5, allow_autapses=False)  # same_population=False: i -> i is no autapse
    assert targets.size == 25


def test_all_to_all_and_one_to_one():
    indptr, targets = build(AllToAll(), 3, 4)
    assert indptr.tolist() == [0, 4, 8, 12] and targets.tolist() == [0, 1, 2, 3] * 3
    indptr, targets = build(AllToAll(), 3, 3, same_population=True, allow_autapses=False)
    assert targets.tolist() == [1, 2, 0, 2, 0, 1]
    indptr, targets = build(OneToOne(), 5, 5)
    assert indptr.tolist() == list(range(6)) and targets.tolist() == list(range(5))


def test_fixed_probability_count_and_uniformity():
    n_pre, n_post = 400, 500
    for p in (0.05, 0.3):  # geometric skipping and dense Bernoulli paths
        indptr, targets = build(FixedProbability(p), n_pre, n_post)
        mean = p * n_pre * n_post
        assert abs(targets.size - mean) < 5 * np.sqrt(mean * (1 - p))
        # targets uniform over columns: chi-square on 10 bins
        hist = np.bincount(targets * 10 // n_post, minlength=10)
        exp = targets.size / 10
        assert ((hist - exp) ** 2 / exp).sum() < 40
        # row sizes binomial
        sizes = np.diff(indptr)
        assert abs(sizes.var() - n_post * p * (1 - p)) < 0.25 * n_post * p * (1 - p)
    assert build(FixedProbability(0.0), 10, 10)[1].size == 0
    assert build(FixedProbability(1.0), 10, 10)[1].size == 100


def test_fixed_probability_without_autapses_count():
    n, p = 300, 0.2
    _, targets = build(FixedProbability(p), n, n, same_population=True, allow_autapses=False)
    mean = p * n * (n - 1)
    assert abs(targets.size - mean) < 5 * np.sqrt(mean)


@pytest.mark.parametrize("multapses", [True, False])
def test_exact_degrees(multapses):
    n_pre, n_post, k = 60, 80, 25
    indptr, targets = build(FixedOutDegree(k), n_pre, n_post, allow_multapses=multapses)
    assert np.all(np.diff(indptr) == k)
    indptr, targets = build(FixedInDegree(k), n_pre, n_post, allow_multapses=multapses)
    check_csr(indptr, targets, n_pre, n_post)
    assert np.all(np.bincount(targets, minlength=n_post) == k)
    indptr, targets = build(FixedTotalNumber(1234), n_pre, n_post, allow_multapses=multapses)
    assert targets.size == 1234
    # k equal to the whole pool without multapses: everything
    indptr, targets = build(FixedInDegree(n_pre - 1), n_pre, n_pre, same_population=True, allow_autapses=False,
                            allow_multapses=False)
    assert targets.size == n_pre * (n_pre - 1)


def test_with_replacement_makes_multapses():
    # NEST-like drawing with replacement: 20 draws from 10 candidates must repeat
    _, targets = build(FixedOutDegree(20), 5, 10)
    assert np.any(np.diff(targets[:20]) == 0)
    src, tgt = pairs(*build(FixedTotalNumber(400), 10, 10))
    assert np.unique(src * 10 + tgt).size < 400


def test_degree_rules_uniform_over_candidates():
    n_pre, n_post = 1000, 50
    indptr, targets = build(FixedInDegree(40), n_pre, n_post)
    src, _ = pairs(indptr, targets)
    counts = np.diff(indptr)  # out-degrees of sources: ~ Binomial(n_post*40, 1/n_pre)
    assert abs(counts.mean() - 2.0) < 1e-9 and abs(counts.var() - 2.0) < 0.4
    # out-degree with replacement (sorted order statistics): uniform targets, repeats as for i.i.d. draws
    indptr, targets = build(FixedOutDegree(40), 2000, 50)
    hist = np.bincount(targets, minlength=50)
    assert ((hist - 1600.0) ** 2 / 1600.0).sum() < 120
    distinct = np.array([np.unique(targets[a:b]).size for a, b in zip(indptr[:-1], indptr[1:])])
    assert abs(distinct.mean() - 50 * (1 - (1 - 1 / 50) ** 40)) < 0.2
    indptr, targets = build(FixedTotalNumber(50_000), 100, 100)
    sizes = np.diff(indptr)  # multinomial row sizes: mean 500, variance 500 · 0.99
    assert abs(sizes.var() - 495.0) < 0.35 * 495.0
    hist = np.bincount(targets, minlength=100)
    assert ((hist - 500.0) ** 2 / 500.0).sum() < 200


def test_distance_dependent_matches_profile():
    C, lam = 0.8, 2.0
    pos = grid_positions((10, 10, 10))
    n = pos.shape[0]
    indptr, targets = build_connectivity(DistanceDependent(C, lam), n, n, seed=5, stream=0, same_population=True,
                                         pre_positions=pos, allow_autapses=False)
    check_csr(indptr, targets, n, n)
    src, tgt = pairs(indptr, targets)
    assert not np.any(src == tgt)
    d_all = np.sqrt(((pos[:, None, :] - pos[None, :, :]) ** 2).sum(-1))
    connected = np.zeros((n, n), bool)
    connected[src, tgt] = True
    np.fill_diagonal(d_all, -1.0)  # exclude the diagonal
    for d in np.unique(np.round(d_all[d_all > 0], 6))[:12]:
        mask = np.isclose(d_all, d)
        m = mask.sum()
        p = C * np.exp(-(d / lam) ** 2)
        freq = connected[mask].mean()
        assert abs(freq - p) < 5 * np.sqrt(p * (1 - p) / m) + 1e-3, (d, freq, p)


def test_grid_positions_layout():
    pos = grid_positions((3, 2, 2), spacing=0.5)
    assert pos.shape == (12, 3) and pos.dtype == np.float64
    assert pos[1].tolist() == [0.5, 0, 0] and pos[3].tolist() == [0, 0.5, 0] and pos[6].tolist() == [0, 0, 0.5]
    assert grid_positions().shape == (135, 3)


def test_explicit_sorted_by_source_then_target():
    indptr, targets = build(Explicit(np.array([2, 0, 2, 1, 2]), np.array([3, 1, 0, 0, 3])), 4, 4)
    assert indptr.tolist() == [0, 1, 2, 5, 5] and targets.tolist() == [1, 0, 0, 3, 3]


@pytest.mark.parametrize("rule", RANDOM_RULES, ids=lambda r: type(r).__name__)
def test_deterministic_and_thread_independent(rule):
    old = numba.get_num_threads()
    try:
        out = []
        for threads in sorted({1, numba.config.NUMBA_NUM_THREADS}):
            numba.set_num_threads(threads)
            out.append(build(rule, 300, 250, allow_multapses=False))
            out.append(build(rule, 300, 250))
        for a, b in zip(out[0::2], out[2::2]):
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        for a, b in zip(out[1::2], out[3::2]):
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    finally:
        numba.set_num_threads(old)
    again = build(rule, 300, 250)
    assert np.array_equal(again[1], out[1][1])
    other_seed = build(rule, 300, 250, seed=13)
    other_stream = build(rule, 300, 250, stream=4)
    assert not np.array_equal(other_seed[1][:100], again[1][:100])
    assert not np.array_equal(other_stream[1][:100], again[1][:100])


def test_transpose_independent_of_chunking(monkeypatch):
    import engine.network.connectivity as C
    ref = build(FixedInDegree(30), 500, 400)
    ref_t = build(FixedTotalNumber(9000), 500, 400)
    ref_e = build(Explicit(np.arange(3000) % 500, np.arange(3000) * 7 % 400), 500, 400)
    monkeypatch.setattr(C, "_nchunks", lambda n_entries, n_rows: 7)
    assert np.array_equal(build(FixedInDegree(30), 500, 400)[1], ref[1])
    assert np.array_equal(build(FixedTotalNumber(9000), 500, 400)[1], ref_t[1])
    assert np.array_equal(build(Explicit(np.arange(3000) % 500, np.arange(3000) * 7 % 400), 500, 400)[1], ref_e[1])


def test_empty_populations():
    for rule in RANDOM_RULES + [AllToAll(), OneToOne()]:
        if isinstance(rule, FixedTotalNumber):
            continue  # n > 0 synapses among no pairs: an error (test_no_candidates)
        indptr, targets = build(rule, 0, 0)
        assert indptr.tolist() == [0] and targets.size == 0
    indptr, targets = build(FixedInDegree(3), 4, 0)
    assert indptr.tolist() == [0] * 5


# ---- validation errors ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan"), "0.1", True])
def test_fixed_probability_p_invalid(p):
    with pytest.raises(ValueError, match="FixedProbability: p = .* probability in \\[0, 1\\]"):
        FixedProbability(p)


@pytest.mark.parametrize("cls,name", [(FixedInDegree, "k"), (FixedOutDegree, "k"), (FixedTotalNumber, "n")])
@pytest.mark.parametrize("value", [-1, 2.5, True])
def test_counts_invalid(cls, name, value):
    with pytest.raises(ValueError, match=f"{cls.__name__}: {name} = .* integer >= 0"):
        cls(value)


def test_distance_dependent_params_invalid():
    with pytest.raises(ValueError, match="C = 1.2 .* \\[0, 1\\]"):
        DistanceDependent(1.2, 2.0)
    with pytest.raises(ValueError, match="lam = 0.0 .* > 0"):
        DistanceDependent(0.3, 0.0)
    with pytest.raises(ValueError, match="lam = inf"):
        DistanceDependent(0.3, float("inf"))


def test_distance_dependent_positions_invalid():
    rule = DistanceDependent(0.3, 2.0)
    with pytest.raises(ValueError, match="pre_positions = None"):
        build_connectivity(rule, 4, 4, seed=0, stream=0, post_positions=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="post_positions has shape \\(4, 2\\).*\\(4, 3\\)"):
        build_connectivity(rule, 4, 4, seed=0, stream=0, pre_positions=np.zeros((4, 3)),
                           post_positions=np.zeros((4, 2)))
    bad = np.zeros((4, 3))
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="pre_positions contains non-finite"):
        build_connectivity(rule, 4, 4, seed=0, stream=0, pre_positions=bad, post_positions=np.zeros((4, 3)))
    # one set suffices on one population
    indptr, _ = build_connectivity(rule, 4, 4, seed=0, stream=0, same_population=True, post_positions=np.ones((4, 3)))
    assert indptr.size == 5


def test_one_to_one_invalid():
    with pytest.raises(ValueError, match="n_pre = 3 and n_post = 4 .* equal sizes"):
        build_connectivity(OneToOne(), 3, 4, seed=0, stream=0)
    with pytest.raises(ValueError, match="allow_autapses = False .* autapse"):
        build_connectivity(OneToOne(), 3, 3, seed=0, stream=0, same_population=True, allow_autapses=False)


def test_degree_too_large_without_multapses():
    with pytest.raises(ValueError, match="FixedOutDegree: k = 6 .* without multapses; k must be <= n_post = 5"):
        build_connectivity(FixedOutDegree(6), 3, 5, seed=0, stream=0, allow_multapses=False)
    with pytest.raises(ValueError, match="FixedInDegree: k = 4 .* k must be <= n_pre = 3"):
        build_connectivity(FixedInDegree(4), 3, 5, seed=0, stream=0, allow_multapses=False)
    with pytest.raises(ValueError, match="FixedOutDegree: k = 5 .* n_post - 1 \\(autapses excluded\\) = 4"):
        build_connectivity(FixedOutDegree(5), 5, 5, seed=0, stream=0, allow_multapses=False, same_population=True,
                           allow_autapses=False)
    with pytest.raises(ValueError, match="FixedInDegree: k = 5 .* n_pre - 1 \\(autapses excluded\\) = 4"):
        build_connectivity(FixedInDegree(5), 5, 5, seed=0, stream=0, allow_multapses=False, same_population=True,
                           allow_autapses=False)
    with pytest.raises(ValueError, match="FixedTotalNumber: n = 16 .* n must be <= n_pre · n_post = 15"):
        build_connectivity(FixedTotalNumber(16), 3, 5, seed=0, stream=0, allow_multapses=False)


def test_no_candidates():
    for rule, text in ((FixedInDegree(1), "no candidate sources"), (FixedOutDegree(1), "no candidate targets"),
                       (FixedTotalNumber(1), "no candidate pairs")):
        with pytest.raises(ValueError, match=text):
            build_connectivity(rule, 1, 1, seed=0, stream=0, same_population=True, allow_autapses=False)
    with pytest.raises(ValueError, match="no candidate pairs"):
        build_connectivity(FixedTotalNumber(1), 0, 5, seed=0, stream=0)


def test_explicit_invalid():
    with pytest.raises(ValueError, match="same length"):
        Explicit([0, 1], [0])
    with pytest.raises(ValueError, match="sources has shape \\(1, 2\\)"):
        Explicit([[0, 1]], [0, 1])
    with pytest.raises(ValueError, match="targets has dtype float64.*integers"):
        Explicit([0, 1], [0.5, 1.0])
    with pytest.raises(ValueError, match="sources contains -1; indices must be >= 0"):
        Explicit([-1, 1], [0, 1])
    with pytest.raises(ValueError, match="targets contains 5; indices must be in \\[0, 4\\]"):
        build_connectivity(Explicit([0, 1], [5, 1]), 3, 5, seed=0, stream=0)
    with pytest.raises(ValueError, match="sources contains 3; indices must be in \\[0, 2\\]"):
        build_connectivity(Explicit([3, 1], [0, 1]), 3, 5, seed=0, stream=0)
    with pytest.raises(ValueError, match="autapse 1 -> 1"):
        build_connectivity(Explicit([0, 1], [2, 1]), 3, 3, seed=0, stream=0, same_population=True,
                           allow_autapses=False)
    with pytest.raises(ValueError, match="1 repeated .* allow_multapses = False"):
        build_connectivity(Explicit([0, 1, 0], [2, 1, 2]), 3, 3, seed=0, stream=0, allow_multapses=False)


def test_build_arguments_invalid():
    with pytest.raises(ValueError, match="rule = 'fixed' is not allowed"):
        build_connectivity("fixed", 3, 3, seed=0, stream=0)
    with pytest.raises(ValueError, match="seed = -1 .* \\[0, 2\\*\\*63 - 1\\]"):
        build_connectivity(AllToAll(), 3, 3, seed=-1, stream=0)
    with pytest.raises(ValueError, match="stream = 1.5"):
        build_connectivity(AllToAll(), 3, 3, seed=0, stream=1.5)
    with pytest.raises(ValueError, match="n_pre = -2"):
        build_connectivity(AllToAll(), -2, 3, seed=0, stream=0)
    with pytest.raises(ValueError, match="n_post = 2147483648"):
        build_connectivity(AllToAll(), 2, 2 ** 31, seed=0, stream=0)
    with pytest.raises(ValueError, match="same_population = True needs n_pre == n_post"):
        build_connectivity(AllToAll(), 2, 3, seed=0, stream=0, same_population=True)
    with pytest.raises(ValueError, match="allow_multapses = 1 .* True or False"):
        build_connectivity(AllToAll(), 2, 3, seed=0, stream=0, allow_multapses=1)


def test_grid_positions_invalid():
    with pytest.raises(ValueError, match="shape = \\(3, 3\\) .* 3 integers >= 1"):
        grid_positions((3, 3))
    with pytest.raises(ValueError, match="shape = \\(3, 0, 3\\)"):
        grid_positions((3, 0, 3))
    with pytest.raises(ValueError, match="spacing = -1.0 .* > 0"):
        grid_positions((3, 3, 3), spacing=-1.0)
