"""One network over MPI ranks: the scale benchmark's network on one process and on 2 ranks of this machine, and a
model of larger runs.

The network is :func:`scale.scale_network` (iaf_psc_delta, fixed out-degree ``K`` = 1000, per-synapse Normal weights
and Uniform(0.5, 3) ms delays, about 5 Hz); ``--synapses`` sets its size (``N = synapses / K`` neurons; 1e8 is the
issue's figure and takes about 1 GiB per 1e8 synapses, 1e7 the quick default). Each measurement is a child process:
``1-process`` is a plain ``Simulator`` on one thread, ``2-ranks`` is ``mpiexec -n 2`` with ``Simulator(net,
comm=MPI.COMM_WORLD)``, one thread per rank; they alternate ``--reps`` times. Every child records every spike and
reports a SHA-256 of them, so the spikes of the two are compared exactly; and the time in the spike exchange (pack,
two collectives, unpack) and the bytes exchanged per interval of ``L`` = min delay steps.

**Model** (``model`` in the JSON). Time per simulated second on ``P`` = 16, 64, 256 ranks, one thread each, from what
the 2-rank run measured:

* weak scaling (each rank keeps the 2-rank run's share: ``N/2`` neurons, ``S/2`` synapses, the same rates):
  ``T(P) = C + x · o + 2 c · (X(P) - X(2)) + x · [2 log2(P) α + (P - 1)/P · B(P) / β]``, where ``C`` is a rank's
  compute time (run time minus exchange time: it includes walking the 2-rank run's spikes), ``x`` the exchanges
  per simulated second, ``o`` the measured local cost of one exchange (packing, unpacking, the Python round trip),
  ``X(P) = P/2 · X(2)`` the spikes every rank receives per simulated second, ``c`` the seconds per received spike
  of unpacking (timed on a synthetic message), doubled for phase 2's walk of the same spike (an assumption),
  ``B(P)`` the bytes of one joined message (8 per spike, 12 per step and rank) and the bracket the usual
  Allgather(v) cost (recursive doubling: ``log2 P`` latencies ``α`` each, the data once over the link bandwidth
  ``β``; one Allgather of the sizes, one Allgatherv of the spikes);
* strong scaling of the measured network: ``C_1 / P`` (``C_1`` the one-process run time) plus the same overhead,
  spike-walk and exchange terms.

Assumptions: ``α`` = 2 µs, ``β`` = 100 Gb/s (InfiniBand EDR), the same per-core speed as here, and perfect load
balance: waiting for the slowest rank, which the measured 2-rank times include, is not modelled.
Per-rank memory (``memory_per_rank_gib``): the synapses divide by ``P``; every rank keeps a few pointers per
presynaptic row of the whole network (its own blocks' segment starts, the row's start, per-row weight and delay:
about 32 bytes a row with one thread per rank), which grow with the network in weak scaling, as NEST's per-rank
tables of all neurons did before Jordan et al. (2018).

**NEST's published weak scaling** (the same kind of network, NEST's ``hpc_benchmark``: a balanced random network of
iaf_psc_alpha neurons with STDP, min delay 1.5 ms): Jordan et al. (2018), "Extremely scalable spiking neuronal
network simulation code: from laptops to exascale computers", Front. Neuroinform. 12:2, doi:10.3389/fninf.2018.00002,
and NEST's benchmark page (NEST 3.8 on JURECA-DC: weak scaling up to ~5.8 million neurons and ~65 billion synapses,
2 MPI processes per node, 64 threads each). Their times are given in figures only, which we could not read here, so
``nest_reference`` cites the set-ups and quotes no time.

Usage::

    python benchmarks/mpi_scale.py [--synapses 1e7] [--duration 0.5] [--reps 3] [--json]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import fmt_summary, goal, machine, ratio_summary, summary

HERE = Path(__file__).resolve().parent
ALPHA_S = 2e-6  # MPI latency per message step (InfiniBand, typical)
BETA_BPS = 100e9 / 8  # link bandwidth, bytes per second (100 Gb/s)
MODEL_RANKS = (16, 64, 256)
NEST_REFERENCE = {
    "paper": "Jordan J, Ippen T, Helias M, Kitayama I, Sato M, Igarashi J, Diesmann M, Kunkel S (2018). Extremely "
             "scalable spiking neuronal network simulation code: from laptops to exascale computers. Front. "
             "Neuroinform. 12:2. doi:10.3389/fninf.2018.00002",
    "also": "NEST performance benchmarks (NEST 3.8, JURECA-DC): weak scaling of the HPC benchmark model up to ~5.8 "
            "million neurons and ~65 billion synapses, min delay 1.5 ms, 2 MPI processes per node, 64 threads per "
            "process; https://nest-simulator.readthedocs.io/en/latest/benchmark_results.html",
    "times_quoted": None,
    "note": "the papers give their weak-scaling times in figures only; no number is quoted here because none could "
            "be attributed from the text",
}


def child(params: dict) -> dict:
    """Build and run the network in this process, over MPI ranks when ``params["mpi"]``; rank 0 returns the
    figures (the other ranks return None)."""
    import resource

    import numba

    numba.set_num_threads(1)
    sys.path.insert(0, str(HERE))
    from scale import scale_network

    from engine import Simulator, SpikeMonitor

    comm = None
    if params["mpi"]:
        from mpi4py import MPI

        comm = MPI.COMM_WORLD
    net = scale_network(params["n"], params["k"], params["seed"]).add(SpikeMonitor("exc"), SpikeMonitor("inh"))
    t0 = time.perf_counter()
    sim = Simulator(net, n_jobs=1, comm=comm)
    build_s = time.perf_counter() - t0
    sim.run(5.0)  # compiled kernels and queues warm
    x = sim.exchange
    base = (x.seconds, x.collective_seconds, x.calls, x.bytes_received) if x is not None else (0.0, 0.0, 0, 0)
    sim.run(params["duration"] * 1000.0)
    run_s = sim.last_run.wall_s
    digest = hashlib.sha256()
    spikes = 0
    for name in ("exc", "inh"):
        steps, ids = sim.spike_steps(name)
        digest.update(steps.tobytes())
        digest.update(ids.tobytes())
        spikes += steps.size
    mem = sim.memory_report()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    mine = {"build_s": build_s, "run_s": run_s, "maxrss_gib": rss,
            "connectivity_gib": mem["connectivity_bytes"] / 2**30, "synapses": mem["synapses"],
            "per_row_gib": sum(a.nbytes for a in (sim.built.indptr, sim.built.row_ptr, sim.built.w_row,
                                                  sim.built.d_row)) / 2**30}
    if x is not None:
        mine.update(exchange_s=x.seconds - base[0], collective_s=x.collective_seconds - base[1],
                    exchanges=x.calls - base[2], bytes_received=x.bytes_received - base[3])
    ranks = comm.gather(mine) if comm is not None else [mine]
    if comm is not None and comm.rank != 0:
        return None
    return {"ranks": ranks, "spikes": spikes, "sha256": digest.hexdigest(),
            "synaptic_events": sim.last_run.synaptic_events,
            "interval_steps": sim.last_plan[2] if comm is not None else int(sim.built.min_delay),
            "run_s": max(r["run_s"] for r in ranks), "build_s": max(r["build_s"] for r in ranks)}


def _launch(params: dict, ranks: int, timeout: float) -> dict:
    env = dict(os.environ, NUMBA_NUM_THREADS="1", OMP_NUM_THREADS="1")
    cmd = [sys.executable, str(HERE / "mpi_scale.py"), "--child", json.dumps(dict(params, mpi=ranks > 0))]
    if ranks > 0:
        cmd = [str(Path(sys.executable).parent / "mpiexec"), "-n", str(ranks)] + cmd
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip()[-2000:] or "failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def spike_cost(n_spikes: int = 200_000, reps: int = 5) -> float:
    """Seconds per received spike of unpacking another rank's block (the copy and this rank's queue counts), timed
    on a synthetic message of ``n_spikes`` spikes; phase 2's walk of the same spike is assumed to cost as much."""
    import numpy as np

    from engine.kernels.exchange import unpack

    L, NB, n_rows = 4, 2, 1_000_000
    rng = np.random.default_rng(0)
    ids = rng.integers(0, n_rows, n_spikes).astype(np.int32)
    ends = np.zeros((L, 3), np.int32)
    ends[:, :] = np.linspace(n_spikes / L, n_spikes, L).astype(np.int32)[:, None]
    block = np.concatenate([ends.ravel(), ids, np.ones(n_spikes, np.int32)])
    msg = np.concatenate([np.zeros(3 * L, np.int32), block])  # this rank's own (empty) block comes first
    row_ptr = np.zeros((n_rows, NB + 1), np.int64)
    row_ptr[:, 1:] = np.arange(n_rows)[:, None] * 500
    shape = (1, 2, NB)
    args = (np.zeros((1, 2, NB, n_spikes), np.int32), np.zeros((1, 2, NB, n_spikes), np.int32),
            np.zeros((1, 2, NB, L, 3), np.int64), row_ptr, np.zeros((0, NB + 1), np.int64),
            np.zeros(n_rows, np.uint8), 31, True, np.zeros(shape, np.int64), np.zeros(shape, np.int64),
            np.zeros(shape, np.int64), np.zeros(shape, np.int64))
    unpack(0, 0, 0, 1, L, msg, *args)  # compiled or loaded first
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        unpack(0, 0, 0, 1, L, msg, *args)
        best = min(best, time.perf_counter() - t0)
    return best / n_spikes


def model(two: dict, one: dict, duration_s: float, dt_ms: float, n: int, c_spk: float) -> dict:
    """Time per simulated second on :data:`MODEL_RANKS` ranks (see the module docstring)."""
    r0 = two["ranks"]
    L = two["interval_steps"]
    x = 1000.0 / (L * dt_ms)  # exchanges per simulated second
    compute = statistics.median([(r["run_s"] - r["exchange_s"]) / duration_s for r in r0])
    overhead = statistics.median([(r["exchange_s"] - r["collective_s"]) / r["exchanges"] for r in r0])
    spikes_2 = two["spikes"] / duration_s  # spikes every rank receives per simulated second at P = 2
    conn_rank = statistics.median([r["connectivity_gib"] - r["per_row_gib"] for r in r0])  # the synapses' part
    per_row = statistics.median([r["per_row_gib"] for r in r0]) / n  # every rank holds every row's pointers

    def comm_s(P: int, spikes_per_s: float) -> float:
        bytes_joined = 8.0 * spikes_per_s / x + 12.0 * L * P
        return x * (2.0 * math.log2(P) * ALPHA_S + (P - 1) / P * bytes_joined / BETA_BPS)

    out = {"assumptions": {"latency_s": ALPHA_S, "bandwidth_bytes_per_s": BETA_BPS, "threads_per_rank": 1,
                           "exchanges_per_sim_s": x, "compute_per_rank_s": compute,
                           "local_overhead_per_exchange_s": overhead, "seconds_per_received_spike": c_spk,
                           "waiting_for_slower_ranks": "not modelled (perfect balance)"},
           "weak": {}, "strong": {}}
    one_s = one["run_s"] / duration_s
    for P in MODEL_RANKS:
        X = P / 2 * spikes_2  # the 2-rank run's rate on P / 2 times the neurons: every rank walks all their spikes
        walk = 2.0 * c_spk * (X - spikes_2)  # beyond what the measured compute already walked
        out["weak"][str(P)] = {"neurons": n * P / 2, "s_per_sim_s": compute + x * overhead + walk + comm_s(P, X),
                               "exchange_s_per_sim_s": comm_s(P, X), "extra_spike_walk_s_per_sim_s": walk,
                               "memory_per_rank_gib": conn_rank + per_row * n * P / 2}
        strong = one_s / P + x * overhead + 2.0 * c_spk * spikes_2 * (1 - 1 / P) + comm_s(P, spikes_2)
        out["strong"][str(P)] = {"neurons": n, "s_per_sim_s": strong, "speedup_vs_one_process": one_s / strong}
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--synapses", type=float, default=1e7, help="synapses of the network (default 1e7; 1e8: ~1 GiB)")
    ap.add_argument("--out-degree", type=int, default=1000, help="synapses per neuron (default 1000)")
    ap.add_argument("--duration", type=float, default=0.5, help="simulated seconds per run (default 0.5)")
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions (default 3)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per child run")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        res = child(json.loads(args.child))
        if res is not None:
            print(json.dumps(res))
        return res
    k = args.out_degree
    n = int(round(args.synapses / k))
    params = {"n": n, "k": k, "duration": args.duration, "seed": args.seed}
    runs = {"1-process": [], "2-ranks": []}
    for rep in range(args.reps):  # interleaved: 1-process, 2-ranks, 1-process, ...
        for name, ranks in (("1-process", 0), ("2-ranks", 2)):
            runs[name].append(_launch(params, ranks, args.timeout))
            print(f"  [{rep + 1}/{args.reps}] {name}: {runs[name][-1]['run_s']:.2f} s", file=sys.stderr, flush=True)
    one, two = runs["1-process"], runs["2-ranks"]
    identical = all(r["sha256"] == one[0]["sha256"] for r in one + two)
    speedup = ratio_summary([r["run_s"] for r in one], [r["run_s"] for r in two])
    last = two[-1]
    L = last["interval_steps"]
    exchanges = statistics.median([r["exchanges"] for r in last["ranks"]])
    per_exchange = last["ranks"][0]["bytes_received"] / max(exchanges, 1)
    dt = 0.1
    report = {
        "machine": machine(), "threads_per_rank": 1, "ranks": 2, "synapses": one[-1]["ranks"][0]["synapses"],
        "neurons": n, "out_degree": k, "duration_s": args.duration, "reps": args.reps,
        "tools": {name: {"run_s_per_sim_s": summary([r["run_s"] / args.duration for r in rs]),
                         "build_s": summary([r["build_s"] for r in rs]), "spikes": rs[-1]["spikes"],
                         "rate_hz": rs[-1]["spikes"] / n / args.duration, "per_rank": rs[-1]["ranks"]}
                  for name, rs in runs.items()},
        "identical_spikes": identical,
        "speedup_2_ranks": speedup,
        "exchange": {"interval_steps": L, "interval_ms": L * dt, "exchanges": exchanges,
                     "bytes_per_exchange_all_ranks": per_exchange,
                     "spikes_per_exchange": last["spikes"] / max(exchanges, 1),
                     "share_of_run_time": statistics.median([r["exchange_s"] / r["run_s"] for r in last["ranks"]]),
                     "seconds_per_exchange": statistics.median([r["exchange_s"] / max(r["exchanges"], 1)
                                                                for r in last["ranks"]])},
        "memory_per_rank_gib": {name: [r["connectivity_gib"] for r in rs[-1]["ranks"]] for name, rs in runs.items()},
        "maxrss_per_rank_gib": {name: [r["maxrss_gib"] for r in rs[-1]["ranks"]] for name, rs in runs.items()},
        "model": model(last, one[-1], args.duration, dt, n, spike_cost()),
        "nest_reference": NEST_REFERENCE,
    }
    report["goals"] = {"speedup_2_ranks": goal(speedup["median"], 1.6),
                       "identical_spikes": {"value": identical, "goal": True, "met": identical}}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        _print(report)
    return report


def _print(report: dict) -> None:
    m = report["machine"]
    print(f"MPI scale benchmark: {report['synapses']:.3g} synapses per process view, {report['neurons']} neurons, "
          f"{report['duration_s']:g} s simulated, {report['reps']} interleaved repetitions; {m['cpu']}, "
          f"{m['cores']} cores, 1 thread per rank")
    for name, r in report["tools"].items():
        print(f"{name:10s} run {fmt_summary(r['run_s_per_sim_s'], digits=3)} s/sim-s, build "
              f"{fmt_summary(r['build_s'], digits=3)} s, {r['spikes']} spikes ({r['rate_hz']:.2f} Hz), "
              f"connectivity per rank {report['memory_per_rank_gib'][name]} GiB")
    x = report["exchange"]
    print(f"2 ranks vs 1 process: {fmt_summary(report['speedup_2_ranks'], 'x', 3)}; identical spikes: "
          f"{report['identical_spikes']}")
    print(f"exchange every {x['interval_ms']:g} ms: {x['bytes_per_exchange_all_ranks']:.0f} bytes, "
          f"{x['spikes_per_exchange']:.1f} spikes, {x['seconds_per_exchange'] * 1e6:.0f} us each, "
          f"{100 * x['share_of_run_time']:.1f} % of the run")
    for kind in ("weak", "strong"):
        for P, v in report["model"][kind].items():
            print(f"model {kind:6s} P={P:>3s}: {v['s_per_sim_s']:.3g} s/sim-s, {v['neurons']:.3g} neurons"
                  + (f", {v['memory_per_rank_gib']:.2f} GiB/rank" if "memory_per_rank_gib" in v else ""))
    for name, g in report["goals"].items():
        print(f"goal {name}: {g['value']} (goal {g['goal']}) met={g['met']}")


if __name__ == "__main__":
    main()
