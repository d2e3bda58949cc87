"""Under ``mpiexec -n 2``: the errors of communicators that do not fit the model, as JSON on rank 0's stdout.

Each case must raise the same error class on every rank (no rank may hang in a collective the other skipped); rank
0 prints ``{case: [error class, message]}`` of every rank. One more case runs a network on ``MPI.COMM_SELF`` (the
exchange path on one rank) against a plain Simulator; it lives here so that the test process never initialises MPI.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

from engine import Network, Population, Simulator, SpikeMonitor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_network import NETWORKS, results  # noqa: E402  (the shared test networks)


def tiny(n: int) -> Network:
    net = Network(dt=0.1, seed=1)
    net.add(Population("n", n, I_e=400.0), SpikeMonitor("n"))
    return net


def main() -> None:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    out = {}

    def attempt(case, fn):
        try:
            fn()
            out[case] = [None, ""]
        except Exception as e:  # the class and message are what the test checks
            out[case] = [type(e).__name__, str(e)]

    attempt("too_many_ranks", lambda: Simulator(tiny(50), comm=comm))
    attempt("too_many_threads", lambda: Simulator(tiny(100), comm=comm, n_jobs=2))
    attempt("threads_none_fit", lambda: Simulator(tiny(100), comm=comm, n_jobs=3))
    attempt("trials", lambda: Simulator(tiny(200), comm=comm, trials=2))
    attempt("not_a_comm", lambda: Simulator(tiny(200), comm="world"))

    def sinks_off_rank0():
        from engine.io.spikefile import SpikeFileWriter

        sim = Simulator(tiny(200), comm=comm)
        path = f"{tempfile.mkdtemp()}/rank{comm.rank}.h5"
        with SpikeFileWriter(path, {"n": 200}, dt_ms=0.1, duration_ms=1.0, seed=1) as w:
            sim.run(1.0, sinks=[w] if comm.rank == 1 else [])
    attempt("sinks_on_rank1", sinks_off_rank0)

    def comm_self():
        alone = Simulator(NETWORKS["brunel"](), comm=MPI.COMM_SELF)
        plain = Simulator(NETWORKS["brunel"]())
        for sim in (alone, plain):
            sim.run(20.0)
            sim.run(20.0)
        a, b = results(alone), results(plain)
        differ = [k for k in b if not np.array_equal(a[k], b[k])]
        if differ or sum(v.size for k, v in b.items() if k.startswith("steps_")) < 100:
            raise AssertionError(f"COMM_SELF differs from one process in {differ}")
        if alone.memory_report()["ranks"] != 1:
            raise AssertionError("memory_report does not name one rank")
    attempt("comm_self_equals_one_process", comm_self)
    per_rank = comm.gather(out)
    if comm.rank == 0:
        print(json.dumps(per_rank))


if __name__ == "__main__":
    main()
