"""Under ``mpiexec -n 2``: Ctrl-C (SIGINT) sent to one rank stops every rank at the same chunk, again and again.

Usage (from tests/engine/parallel/test_mpi.py)::

    mpiexec -n 2 python interrupt_one_rank.py OUT_DIR ROUNDS

Each rank writes its pid to ``OUT_DIR/pid<rank>``. In each of ``ROUNDS`` rounds the ranks continue one long run
of the same Simulator (1 ms chunks); rank 0 writes ``OUT_DIR/running<k>`` once round ``k`` has simulated a chunk,
and the test then sends SIGINT to rank 1 alone. Every rank catches :class:`engine.Interrupted`, notes the signal,
the time reached and the spikes recorded, and meets the other rank in a collective before the next round; at the
end each rank writes ``OUT_DIR/rank<rank>.json``. A rank that stopped alone would leave the other waiting in the
spike exchange (issue 25, major 13: the test hung).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_network import NETWORKS  # noqa: E402  (the shared test networks)

from engine import Simulator  # noqa: E402
from engine.interrupt import Interrupted  # noqa: E402


class Started:
    """A sink on rank 0 whose ``advance`` marks the first chunk simulated in a round."""

    def __init__(self, path: Path, t0: float):
        self.path, self.t0 = path, t0

    def write(self, population, trial, times, ids) -> None:
        pass

    def advance(self, t_ms: float) -> None:
        if t_ms > self.t0 and not self.path.exists():
            self.path.write_text(str(t_ms))


def main(out: Path, rounds: int) -> None:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    (out / f"pid{comm.rank}").write_text(str(os.getpid()))
    sim = Simulator(NETWORKS["brunel"](), comm=comm, chunk_ms=1.0)
    result = []
    for k in range(rounds):
        sinks = [Started(out / f"running{k}", sim.t)] if comm.rank == 0 else []
        got = {"interrupted": None}
        try:
            sim.run(100_000.0, sinks=sinks, progress=False)  # far longer than the test waits
        except Interrupted as e:
            got["interrupted"] = e.signum
        got["t"] = sim.t
        got["spikes"] = int(sim.spike_steps("exc")[0].size)
        got["same_t_everywhere"] = len(set(comm.allgather(sim.t))) == 1  # the ranks still meet in a collective
        result.append(got)
    (out / f"rank{comm.rank}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
