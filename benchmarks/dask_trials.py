"""Trials per second: one local batch Simulator on all cores against the same trials over a 2-worker Dask
LocalCluster, for several block sizes; and the first kernel call on a fresh worker against a cold compile.

The model is a 1,000-neuron E/I network (80 % excitatory, p = 0.1, about 100,000 synapses, per-synapse delays) driven
by 200 Poisson channels, with one input rate per trial (``set_rates`` locally, ``rates=`` over Dask). Each round runs
``--trials`` trials of ``--duration`` ms locally (``Simulator(net, trials=T)`` built and run, every core through
Numba's ``prange`` over trials) and over the cluster with each block size (``engine.parallel.distributed.run_trials``, one
single-threaded worker process per core), interleaved; every Dask run's spikes are compared with the local ones.

On one machine the Dask cluster does the local batch's work through processes, plus scheduling and transfers: the
figure to look for is how little that costs (``dask_vs_local`` close to 1), not a speed-up; the gain is that the same
code then runs on a cluster of many machines. The workers keep the network built between calls (the local batch
builds it every time, as a user's script would); the build is a small part of a run of this model.

The compile check: a child process with an empty Numba cache directory compiles the serial kernel a worker uses
(``compile_s`` of ``Simulator(..., n_jobs=1).compile()``); a fresh LocalCluster's first block reports how long the
same kernel took to load on its worker (``TrialBatch.blocks[k]["compile_s"]``).

Goals (``goals`` in the JSON): ``dask_vs_local`` (trials/s over Dask with the best block size / local) >= 0.8,
``identical_spikes`` true, ``fresh_worker_load_vs_compile`` (first call on a fresh worker / cold compile) <= 0.1.

Usage::

    python benchmarks/dask_trials.py [--trials 24] [--duration 500] [--reps 3] [--block-sizes 1 4 12] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from _common import fmt_summary, goal, interleave, machine, summary


def network(seed: int = 5):
    from engine import Network, PoissonSource, Population, Projection, SpikeMonitor
    from engine.network.connectivity import FixedProbability
    from engine.network.distributions import Uniform

    kw = dict(tau_m=20.0, C_m=250.0, E_L=-65.0, V_th=-50.0, V_reset=-65.0, t_ref=2.0, tau_syn_ex=2.0, tau_syn_in=5.0,
              V_init=(-65.0, -50.0))
    net = Network(dt=0.1, seed=seed)
    net.add(Population("exc", 800, **kw), Population("inh", 200, **kw), PoissonSource("noise", 200, rate=40.0))
    for pre, w in (("noise", Uniform(100.0, 200.0)), ("exc", Uniform(10.0, 40.0)), ("inh", Uniform(-160.0, -40.0))):
        for post in ("exc", "inh"):
            net.add(Projection(pre, post, FixedProbability(0.1), weight=w, delay=Uniform(0.5, 3.0)))
    net.add(SpikeMonitor("exc"), SpikeMonitor("inh"))
    return net


def _rates(n: int) -> np.ndarray:
    return 30.0 + 20.0 * np.arange(n) / max(n - 1, 1)


def local_runner(net, trials: int, duration: float, reference: dict):
    from engine import Simulator

    def run() -> dict:
        t0 = time.perf_counter()
        sim = Simulator(net, trials=trials)
        sim.set_rates("noise", _rates(trials))
        sim.run(duration)
        wall = time.perf_counter() - t0
        reference.setdefault("spikes", {(n, k): sim.spike_steps(n, k) for n in ("exc", "inh") for k in range(trials)})
        return {"wall_s": wall, "spikes": sim.last_run.spikes}
    return run


def dask_runner(client, net, trials: int, duration: float, block_size: int, reference: dict, same: list):
    from engine.parallel.distributed import run_trials

    def run() -> dict:
        t0 = time.perf_counter()
        batch = run_trials(net, duration, trials, client=client, block_size=block_size,
                           rates={"noise": _rates(trials)}, progress=False)
        wall = time.perf_counter() - t0
        if "spikes" in reference:
            same.append(all(np.array_equal(a, b) for key, ref in reference["spikes"].items()
                            for a, b in zip(ref, batch.spike_steps(*key))))
        return {"wall_s": wall, "blocks": len(batch.blocks)}
    return run


_COLD_COMPILE = """
import json, sys
sys.path.insert(0, {bench!r})
from dask_trials import network
from engine import Simulator
sim = Simulator(network(), trials=[0], n_jobs=1)
sim.compile()
print(json.dumps({{"compile_s": sim.compile_s}}))
"""


def cold_compile_s() -> float:
    """Seconds a process with an empty Numba cache takes to compile the serial kernel (the one workers run)."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        code = _COLD_COMPILE.format(bench=os.path.dirname(os.path.abspath(__file__)))
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=1800)
        if out.returncode != 0:
            raise RuntimeError(out.stderr.strip().splitlines()[-1])
        return json.loads(out.stdout.strip().splitlines()[-1])["compile_s"]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=24, help="trials per run (default 24)")
    ap.add_argument("--duration", type=float, default=500.0, help="simulated ms per trial (default 500)")
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions (default 3)")
    ap.add_argument("--block-sizes", type=int, nargs="+", default=[1, 4, 12], help="trials per block (default 1 4 12)")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default 2)")
    ap.add_argument("--no-compile-check", action="store_true", help="skip the cold compile (minutes)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    from distributed import Client, LocalCluster

    from engine import Simulator

    net = network()
    Simulator(net, trials=2).run(1.0)  # the local batch kernel in this process, compiled or loaded once
    cold = None if args.no_compile_check else cold_compile_s()
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster)
    try:
        from engine.parallel.distributed import run_trials

        t0 = time.perf_counter()
        first = run_trials(net, 1.0, args.workers, client=client, block_size=1, progress=False)
        fresh = {"first_call_s": time.perf_counter() - t0,
                 "block_wall_s_per_worker": [b["wall_s"] for b in first.blocks],
                 "compile_s_per_worker": [b["compile_s"] for b in first.blocks]}
        reference: dict = {}
        same: list = []
        runners = {"local": local_runner(net, args.trials, args.duration, reference)}
        for bs in args.block_sizes:
            runners[f"dask bs={bs}"] = dask_runner(client, net, args.trials, args.duration, bs, reference, same)
        runs = interleave(runners, args.reps, progress=not args.json)
    finally:
        client.close()
        cluster.close()
    tools = {}
    for name, rs in runs.items():
        if "error" in rs[0]:
            tools[name] = {"error": rs[0]["error"]}
            continue
        tools[name] = {"trials_per_s": summary([args.trials / r["wall_s"] for r in rs]),
                       "wall_s": summary([r["wall_s"] for r in rs])}
    local = tools["local"]["trials_per_s"]["median"]
    best = max((t["trials_per_s"]["median"] for n, t in tools.items() if n != "local" and "trials_per_s" in t),
               default=None)
    load = max(fresh["compile_s_per_worker"])
    report = {"model": "1,000 iaf_psc_exp (800 E / 200 I), p = 0.1, 200 Poisson channels, per-trial rates",
              "trials": args.trials, "duration_ms": args.duration, "reps": args.reps, "machine": machine(),
              "threads": {"local": "all cores (prange over trials)", "dask": f"{args.workers} workers x 1 thread"},
              "tools": tools, "fresh_worker": fresh, "cold_compile_s": cold,
              "goals": {"dask_vs_local": goal(None if best is None else best / local, 0.8),
                        "identical_spikes": {"value": all(same) and bool(same), "goal": True,
                                             "met": all(same) and bool(same)},
                        "fresh_worker_load_vs_compile": goal(None if cold is None else load / cold, 0.1,
                                                             higher_is_better=False)}}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        m = report["machine"]
        print(f"{args.trials} trials x {args.duration:g} ms, {args.reps} interleaved repetitions; {m['cpu']}, "
              f"{m['cores']} cores")
        for name, t in tools.items():
            print(f"{name:12s} " + (f"{fmt_summary(t['trials_per_s'], ' trials/s', 3)}" if "trials_per_s" in t
                                    else t["error"]))
        print(f"fresh worker: first run {fresh['first_call_s']:.2f} s (blocks "
              f"{', '.join(f'{s:.2f}' for s in fresh['block_wall_s_per_worker'])} s with the build), kernel load "
              f"{', '.join(f'{s:.3f}' for s in fresh['compile_s_per_worker'])} s; cold compile "
              + ("skipped" if cold is None else f"{cold:.1f} s"))
        for name, g in report["goals"].items():
            print(f"goal {name}: {g['value']} (goal {g['goal']}) met={g['met']}")
    return report


if __name__ == "__main__":
    main()
