"""Shared fixtures: small networks used across the engine tests, and the rule for reference tools."""
import importlib
import json
import multiprocessing.process
import os
import re
import subprocess
import sys
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from hypothesis import HealthCheck, settings

from engine import Network, PoissonSource, Population, Projection, SpikeMonitor
from engine.network.connectivity import FixedProbability
from engine.network.distributions import Uniform

#: the repository's root (tests live in feature folders below tests/)
REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent

# ---------------------------------------------------------------------------------------------------- hypothesis
# CI (``CI`` set): the same examples on every run (derandomize, no example database) and more of them; development:
# fewer, random ones. HYPOTHESIS_PROFILE=ci|dev chooses explicitly. No deadline either way: a busy machine is no bug.
settings.register_profile("ci", max_examples=30, derandomize=True, database=None, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

# ---------------------------------------------------------------------------------------------------- markers
# setup.cfg describes them: ``slow`` (more than a few seconds warm; ``-m "not slow"`` is the fast tier), ``reference``
# (compares with an independent tool) and ``subprocess`` (starts a Python, pond or mpiexec child; such a test is slow
# too). A test gets them from its folder (FOLDER_MARKS), from :func:`reference_tool` called at its module's top, or
# from its own decorator or ``pytestmark``; a test that compares with a reference tool or starts such a child
# without the marker fails and says which marker it lacks, so the markers stay true as tests are added.

#: folder below tests/ -> the markers of every test in it
FOLDER_MARKS = {
    "reference": ("reference",),
}
#: the independent implementations pond's results are compared with (top-level module names)
REFERENCE_TOOLS = frozenset({"brian2", "nest", "pyNN", "reservoirpy", "libsonata", "elephant"})
#: a command that starts one of these (by its file name) is a child the ``subprocess`` marker is about
_CHILD_PROGRAMS = re.compile(r"^(python[\d.]*|pond|mpiexec|mpirun|mpiexec\.\w+)$")

_running = None  # the test item being set up, run or torn down (None while collecting)
_reference_files: set[str] = set()  # modules that called reference_tool at their top
_children: list[str] = []  # the children the running test started


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = Path(item.path).resolve()
        parts = path.relative_to(TESTS).parts if path.is_relative_to(TESTS) else ()
        for folder, marks in FOLDER_MARKS.items():
            if parts[:len(folder.split("/"))] == tuple(folder.split("/")):
                for mark in marks:
                    item.add_marker(mark)
        if str(path) in _reference_files and item.get_closest_marker("reference") is None:
            item.add_marker("reference")
        if item.get_closest_marker("subprocess") is not None and item.get_closest_marker("slow") is None:
            item.add_marker("slow")  # a child imports numpy, numba and pond and loads the kernels: seconds each


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    global _running
    _running = item
    _children.clear()
    try:
        return (yield)
    finally:
        _running = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield  # the fixtures are torn down first
    if _children and item.get_closest_marker("subprocess") is None:
        started = "; ".join(dict.fromkeys(_children))
        _children.clear()
        pytest.fail(f"{item.nodeid} started a child process ({started}) but is not marked subprocess: decorate it "
                    f"with @pytest.mark.subprocess (or give its module pytestmark = pytest.mark.subprocess)",
                    pytrace=False)


def _is_child_program(args) -> bool:
    """Whether the command ``args`` runs a Python, pond or mpiexec program (``bash -c "pond ..."`` included; not
    another program that is merely given Python's path, such as ``file -b python3``)."""
    words = os.fsdecode(args).split() if isinstance(args, (str, bytes, os.PathLike)) else \
        [os.fsdecode(a) for a in args]
    if len(words) > 2 and os.path.basename(words[0]) in ("bash", "sh") and words[1] == "-c":
        words = words[2].split()
    return bool(words) and (words[0] == sys.executable or bool(_CHILD_PROGRAMS.match(os.path.basename(words[0]))))


def _record_popen(init):
    def __init__(self, *pos, **kwargs):
        args = pos[0] if pos else kwargs.get("args", ())
        if _running is not None and _is_child_program(args):
            words = [args] if isinstance(args, (str, bytes, os.PathLike)) else list(args)
            _children.append(" ".join(os.path.basename(os.fsdecode(a)) for a in words[:3])[:80])
        init(self, *pos, **kwargs)
    return __init__


def _record_process(start):
    def _start(self):
        if _running is not None:
            _children.append(f"multiprocessing {type(self).__name__}")
        return start(self)
    return _start


subprocess.Popen.__init__ = _record_popen(subprocess.Popen.__init__)
multiprocessing.process.BaseProcess.start = _record_process(multiprocessing.process.BaseProcess.start)


def recurrent_network(seed: int = 3, n_exc: int = 400, n_inh: int = 100, rate: float = 50.0,
                      model: str = "iaf_psc_exp") -> Network:
    """A 500-neuron E/I network with Poisson drive, heterogeneous weights and delays, refractoriness."""
    exp = model == "iaf_psc_exp"
    common = dict(model=model, tau_m=20.0, C_m=250.0, E_L=-65.0, V_th=-50.0, V_reset=-65.0, t_ref=2.0,
                  V_init=(-65.0, -50.0), **(dict(tau_syn_ex=2.0, tau_syn_in=5.0) if exp else {}))
    w_in, w_e, w_i = (Uniform(100.0, 200.0), Uniform(10.0, 40.0), Uniform(-160.0, -40.0)) if exp else \
        (Uniform(0.8, 1.6), Uniform(0.1, 0.3), Uniform(-1.2, -0.3))
    net = Network(dt=0.1, seed=seed)
    net.add(Population("exc", n_exc, **common), Population("inh", n_inh, **common),
            PoissonSource("noise", 200, rate=rate))
    for pre, w in (("noise", w_in), ("exc", w_e), ("inh", w_i)):
        for post in ("exc", "inh"):
            delay = Uniform(0.5, 2.0) if pre == "noise" else Uniform(0.5, 3.0)
            net.add(Projection(pre, post, FixedProbability(0.1), weight=w, delay=delay))
    net.add(SpikeMonitor("exc"), SpikeMonitor("inh"), SpikeMonitor("noise"))
    return net


def poisson_trials(n_trials, n_channels, duration, rate, seed):
    """``n_trials`` LSM inputs: Poisson spike times (ms, on the 0.1 ms grid) on ``n_channels`` channels."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_trials):
        n = rng.poisson(rate * duration * 1e-3 * n_channels)
        out.append((np.round(rng.uniform(0, duration, n), 1), rng.integers(0, n_channels, n)))
    return out


@pytest.fixture
def small_net() -> Network:
    return recurrent_network()


def sorted_spikes(steps: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((ids, steps))
    return steps[order], ids[order]


def one_line_error(proc, rc=1):
    """A CLI failure: exit code ``rc``, one stderr line naming pond and the error, no traceback."""
    assert proc.returncode == rc, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("pond") and "error" in lines[0]
    assert "Traceback" not in proc.stderr
    return lines[0]


def reference_tool(module: str):
    """Import an independent reference (Brian2, NEST, ReservoirPy, libsonata, ...) or another tool of the dev extra.
    Outside CI a missing tool skips the test; in CI (``CI`` set, where the dev extra installs every tool) it is an
    error, so reference checks never skip silently there.

    A test that imports one of :data:`REFERENCE_TOOLS` this way is a reference test: called at a module's top, it
    marks every test of that module ``reference``; called inside a test, that test must carry the marker."""
    if module.split(".")[0] in REFERENCE_TOOLS:
        if _running is None:  # collection: the calling module's tests are reference tests
            _reference_files.add(os.path.realpath(sys._getframe(1).f_code.co_filename))
        elif _running.get_closest_marker("reference") is None:
            pytest.fail(f"{_running.nodeid} compares with {module} but is not marked reference: decorate it with "
                        f"@pytest.mark.reference (or put it under tests/reference/)", pytrace=False)
    if os.environ.get("CI"):
        return importlib.import_module(module)
    return pytest.importorskip(module)


def dump_estimator_file(path):
    """The header and every stored array of a ``readouts.save`` file (npz or HDF5), for tampering tests."""
    if path.suffix == ".npz":
        with np.load(path) as z:
            return json.loads(str(z["__header__"])), {k: z[k] for k in z.files if k != "__header__"}
    import h5py

    with h5py.File(path, "r") as f:
        arrays = {}
        f.visititems(lambda k, d: arrays.__setitem__(k, d[()]) if hasattr(d, "shape") else None)
        return json.loads(f.attrs["header"]), arrays


def write_estimator_file(path, header, arrays):
    """Write ``header`` and ``arrays`` back in the layout :func:`dump_estimator_file` reads."""
    if path.suffix == ".npz":
        np.savez(path, __header__=np.array(json.dumps(header)), **arrays)
        return
    import h5py

    with h5py.File(path, "w") as f:
        f.attrs["header"] = json.dumps(header)
        for k, v in arrays.items():
            f.create_dataset(k, data=v)


def assert_tampered_file_refused(good, bad, tamper, field: str) -> None:
    """Copy the estimator file ``good`` to ``bad`` through ``tamper(header, arrays)``; loading it must raise a
    ValueError that names ``field``."""
    from readouts import load

    header, arrays = dump_estimator_file(good)
    tamper(header, arrays)
    write_estimator_file(bad, header, arrays)
    with pytest.raises(ValueError, match=field):
        load(bad)


@contextmanager
def allocates_at_most(max_bytes: int = 64 * 2**20):
    """Fail the test when what runs inside allocates more than ``max_bytes`` at the peak (numpy's and Python's
    allocations, traced by :mod:`tracemalloc`): a refusal "before allocation" checked by what it did, not by how
    long it took (a timing a busy machine breaks)."""
    tracemalloc.start()
    try:
        yield
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= max_bytes, f"heavy work started: {peak / 2**20:.1f} MiB allocated before the refusal"


@contextmanager
def no_heavy_work(monkeypatch, max_bytes: int = 64 * 2**20):
    """Fail the test when what runs inside starts heavy work: the builder generating synapses (its streaming pass
    fails the test if entered) or more than ``max_bytes`` allocated (:func:`allocates_at_most`)."""
    import engine.build.builder as builder

    def started(*args, **kwargs):
        raise AssertionError("heavy work started: the builder began generating synapses")

    monkeypatch.setattr(builder, "_stream_group", started)
    with allocates_at_most(max_bytes):
        yield
