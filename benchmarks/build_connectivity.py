"""Build time and memory per synapse of pond's connectivity generation at 1e8 synapses.

Usage: python benchmarks/build_connectivity.py [--scale 1.0] [--threads N]

Each case is built twice (the first call includes Numba's compilation or cache load); the second time is reported,
together with the bytes per synapse of the returned CSR arrays (int64 ``indptr`` + int32 ``targets``).
"""
import argparse
import time

import numba

from engine.network.connectivity import (AllToAll, FixedInDegree, FixedOutDegree, FixedProbability, FixedTotalNumber,
                                 build_connectivity)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the 1e8-synapse size (default 1.0)")
    ap.add_argument("--threads", type=int, default=numba.config.NUMBA_NUM_THREADS)
    args = ap.parse_args()
    numba.set_num_threads(args.threads)
    s = args.scale
    n_sq = int(10_000 * s ** 0.5)
    n_big = int(100_000 * s)
    cases = [
        (f"FixedProbability(1.0) {n_sq} x {n_sq}", FixedProbability(1.0), n_sq, n_sq),
        (f"FixedProbability(0.01) {n_big} x {n_big}", FixedProbability(0.01), n_big, n_big),
        (f"FixedProbability(0.5) {int(n_sq * 2 ** 0.5)} x {int(n_sq * 2 ** 0.5)}", FixedProbability(0.5),
         int(n_sq * 2 ** 0.5), int(n_sq * 2 ** 0.5)),
        (f"FixedInDegree(1000) {n_big} x {n_big}", FixedInDegree(1000), n_big, n_big),
        (f"FixedOutDegree(1000) {n_big} x {n_big}", FixedOutDegree(1000), n_big, n_big),
        (f"FixedTotalNumber({n_big * 1000}) {n_big} x {n_big}", FixedTotalNumber(n_big * 1000), n_big, n_big),
        (f"AllToAll {n_sq} x {n_sq}", AllToAll(), n_sq, n_sq),
    ]
    print(f"threads: {numba.get_num_threads()}")
    print(f"{'rule':48s} {'synapses':>12s} {'build s':>9s} {'bytes/syn':>10s}")
    for label, rule, n_pre, n_post in cases:
        build_connectivity(rule, min(n_pre, 100), min(n_post, 100), seed=0, stream=0)  # compile / load cache
        t0 = time.perf_counter()
        indptr, targets = build_connectivity(rule, n_pre, n_post, seed=1, stream=0)
        dt = time.perf_counter() - t0
        nnz = targets.size
        print(f"{label:48s} {nnz:12d} {dt:9.2f} {(indptr.nbytes + targets.nbytes) / max(nnz, 1):10.2f}", flush=True)
        del indptr, targets


if __name__ == "__main__":
    main()
