"""Liquid state machine throughput: trials per second of the Maass 2002 column and of a 10,000-neuron liquid.

The same liquid (``reservoirs.LSM``: grid, distance-dependent connectivity, gamma weights, Tsodyks-Markram synapses
with drawn U, D, F, per-type delays, background current) with ``--inputs`` Poisson input channels (20 Hz), trials of
``--duration`` ms, liquid-state features at 10 sample times, runs in

- **pond**: ``LSM.transform`` on a batch of trials (trials in parallel on ``--threads`` threads; features computed
  during the run);
- **brian2-copies**: Brian2 cpp_standalone, all trials as independent copies of the liquid side by side in one
  network (the connectivity, weights and synapse parameters come from pond's build through
  :mod:`engine.io.brian2_bridge`, so both tools simulate the very same synapses); one compilation, one run;
- **brian2-rerun**: Brian2 cpp_standalone, one liquid built and compiled once, its binary re-run once per trial (the
  time counted is Brian2's own loop time per run plus the process start; writing new input files per trial is not
  counted, so this is a lower bound for "one build with inputs changed per trial");
- **nest**: NEST with ``tsodyks2_synapse`` (per-synapse U, tau_rec, tau_fac, weights and delays from pond's build),
  trials simulated one after another in one kernel, each trial's spike generators and V_m set before it (synaptic
  state carries over between trials: NEST has no per-trial reset short of rebuilding).

Spike recording is on in the reference tools (Brian2 and NEST users compute liquid states from recorded spikes);
pond records nothing but the features. Every figure is the median of interleaved repetitions with min and max.
Ratios are pond's trials per second over the faster Brian2 way (and over NEST).

Goals (``goals`` in the JSON): ``column_trials_per_s_vs_brian2`` >= 20, ``column_trials_per_s_vs_nest`` >= 50,
``liquid10k_vs_brian2`` >= 5.

Usage::

    python benchmarks/lsm.py [--trials 1000] [--trials10k 50] [--duration 500] [--reps 3] [--threads 2] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import textwrap
import time

from _common import available, fmt_summary, goal, interleave, machine, ratio_summary, run_child, summary

GRIDS = {"column": (15, 3, 3), "liquid10k": (40, 25, 10)}


def make_inputs(trials: int, inputs: int, duration: float, seed: int = 0) -> list:
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(trials):
        n = rng.poisson(20.0 * duration * 1e-3 * inputs)
        out.append((np.round(rng.uniform(0, duration, n), 1), rng.integers(0, inputs, n)))
    return out


def fitted_lsm(grid, inputs: int, duration: float, threads: int | None = None):
    import numpy as np
    from reservoirs import LSM

    return LSM(grid=grid, duration=duration, sample_times=np.linspace(duration / 10, duration, 10).round(1),
               n_inputs=inputs, seed=1, n_jobs=threads, batch_size=256).fit()


def pond_runner(grid, trials: int, inputs: int, duration: float, threads: int):
    lsm = fitted_lsm(grid, inputs, duration, threads)
    X = make_inputs(trials, inputs, duration)
    lsm.transform(X[:2])  # compile (or load the cached kernels)

    def run() -> dict:
        t0 = time.perf_counter()
        F = lsm.transform(X)
        wall = time.perf_counter() - t0
        return {"wall_s": wall, "trials_per_s": trials / wall, "mean_trace": float(F.mean())}
    return run


BRIAN2_CODE = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, sys.argv[7])
    import numpy as np
    import brian2 as b2
    from engine.io.brian2_bridge import build_brian2
    from engine.build.builder import build
    from engine.network.connectivity import Explicit
    from engine.network.description import Network, Population, Projection, SpikeSource
    from lsm import fitted_lsm, make_inputs
    grid, trials, inputs, duration = eval(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    copies, workdir = sys.argv[5] == "copies", sys.argv[6]
    b2.set_device("cpp_standalone", directory=workdir, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0
    lsm = fitted_lsm(grid, inputs, duration)
    net1 = lsm.network("spikes")
    X = make_inputs(trials if copies else 1, inputs, duration)
    B = trials if copies else 1
    if copies:  # B independent copies of the liquid side by side, each with its own input channels
        net = Network(dt=net1.dt, seed=net1.seed)
        for p in net1.populations:
            net.add(p.replace(size=p.size * B, I_e=np.tile(p.I_e, B), positions=None))
        net.add(SpikeSource("input", inputs * B))
        for pr in net1.projections:
            ns = net1.get(pr.source).size
            nt = net1.get(pr.target).size
            s, t = pr.rule.sources, pr.rule.targets
            rule = Explicit(np.concatenate([s + b * ns for b in range(B)]),
                            np.concatenate([t + b * nt for b in range(B)]))
            order = np.argsort(rule.sources, kind="stable")
            w = np.tile(pr.weight, B)[order]
            net.add(pr.replace(rule=rule, weight=w))
        spikes = (np.concatenate([x[0] for x in X]), np.concatenate([x[1] + b * inputs for b, x in enumerate(X)]))
    else:
        net = net1
        spikes = X[0]
    built = build(net)
    V0 = np.random.default_rng(0).uniform(13.5, 15.0, built.n_neurons)
    objs = build_brian2(net, V0, {"input": spikes}, built)
    objs["network"].run(duration * b2.ms)
    t1 = time.perf_counter()
    b2.device.build(directory=workdir, compile=True, run=True)
    build_s = time.perf_counter() - t1
    n = sum(int(m.num_spikes) for m in objs["monitors"].values())
    print(json.dumps({"build_s": build_s, "loop_s": b2.device._last_run_time, "spikes": n, "trials": B}))
""")

NEST_CODE = textwrap.dedent("""
    import json, sys, time
    sys.path.insert(0, sys.argv[5])
    import numpy as np
    from engine.build.builder import build
    from lsm import fitted_lsm, make_inputs
    grid, trials, inputs, duration = eval(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    lsm = fitted_lsm(grid, inputs, duration)
    net = lsm.network("spikes")
    built = build(net)
    import nest
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": net.dt, "local_num_threads": 1, "print_time": False})
    t0 = time.perf_counter()
    pops = {}
    for k, p in enumerate(net.populations):
        g = nest.Create("iaf_psc_exp", p.size, params={"tau_m": p.tau_m, "C_m": p.C_m, "E_L": 0.0, "V_th": p.V_th,
                        "V_reset": p.V_reset, "t_ref": p.t_ref, "tau_syn_ex": p.tau_syn_ex,
                        "tau_syn_in": p.tau_syn_in})
        g.I_e = list(p.I_e)
        pops[p.name] = (g, int(built.pop_lo[k]))
    gens = nest.Create("spike_generator", inputs)
    parrots = nest.Create("parrot_neuron", inputs)
    nest.Connect(gens, parrots, "one_to_one")
    rec = nest.Create("spike_recorder")
    for g, _ in pops.values():
        nest.Connect(g, rec)
    st = built.stp
    rows = np.repeat(np.arange(st["indptr"].size - 1), np.diff(st["indptr"]))
    d = (st["d_syn"] if st["d_syn"].size else st["d_row"][rows]) * net.dt
    bounds = built.pre_bounds()
    names = built.names_pre()
    pre_nodes = {}
    for name in names:
        if name in pops:
            pre_nodes[name] = pops[name][0]
        elif name == "input":
            pre_nodes[name] = parrots
    for k, name in enumerate(names):
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        sel = (rows >= lo) & (rows < hi)
        for pname, (g, plo) in pops.items():
            m = sel & (st["targets"] >= plo) & (st["targets"] < plo + len(g))
            if not m.any():
                continue
            src = np.asarray(pre_nodes[name].tolist())[rows[m] - lo]
            tgt = np.asarray(g.tolist())[st["targets"][m] - plo]
            nest.Connect(src, tgt, "one_to_one", {"synapse_model": "tsodyks2_synapse", "weight": st["w"][m],
                         "delay": d[m], "U": st["U"][m], "tau_rec": st["tau_rec"][m], "tau_fac": st["tau_fac"][m],
                         "u": st["u0"][m], "x": st["x0"][m]})
    build_s = time.perf_counter() - t0
    X = make_inputs(trials, inputs, duration)
    rng = np.random.default_rng(0)
    t1 = time.perf_counter()
    for b, (t, c) in enumerate(X):
        t_off = nest.biological_time
        for ch in range(inputs):
            ts = np.unique(np.round(t[c == ch] + t_off + net.dt, 1))
            gens[ch].spike_times = ts.tolist()
        for g, _ in pops.values():
            g.V_m = rng.uniform(13.5, 15.0, len(g)).tolist()
        nest.Simulate(duration)
    loop_s = time.perf_counter() - t1
    print(json.dumps({"build_s": build_s, "loop_s": loop_s, "spikes": int(rec.n_events), "trials": trials}))
""")


def brian2_runner(way: str, grid, trials: int, inputs: int, duration: float, workdir: str):
    """``copies``: one child builds and runs all trials side by side (compilation counted separately);
    ``rerun``: one child builds a single liquid, later calls re-run its binary ``trials`` times."""
    here = os.path.dirname(os.path.abspath(__file__))
    env = {"PYTHONPATH": os.pathsep.join([os.path.dirname(here), here])}
    first = {}

    def run() -> dict:
        if way == "copies":
            r = run_child([BRIAN2_CODE, repr(tuple(grid)), str(trials), str(inputs), str(duration), way, workdir,
                           here], timeout=7200, env=env)
            return dict(r, trials_per_s=trials / r["loop_s"])
        if not first:
            first.update(run_child([BRIAN2_CODE, repr(tuple(grid)), "1", str(inputs), str(duration), way, workdir,
                                    here], timeout=7200, env=env))
        t0 = time.perf_counter()
        loop = 0.0
        for _ in range(trials):
            subprocess.run(["./main"], cwd=workdir, check=True, capture_output=True, timeout=3600,
                           env=dict(os.environ, OMP_NUM_THREADS="1"))
            with open(os.path.join(workdir, "results", "last_run_info.txt")) as f:
                loop += float(f.read().split()[0])
        wall = time.perf_counter() - t0
        return dict(first, loop_s=loop, wall_s=wall, trials_per_s=trials / wall, loop_trials_per_s=trials / loop)
    return run


def nest_runner(grid, trials: int, inputs: int, duration: float):
    here = os.path.dirname(os.path.abspath(__file__))
    env = {"PYTHONPATH": os.pathsep.join([os.path.dirname(here), here])}

    def run() -> dict:
        r = run_child([NEST_CODE, repr(tuple(grid)), str(trials), str(inputs), str(duration), here], timeout=7200,
                      env=env)
        return dict(r, trials_per_s=trials / r["loop_s"])
    return run


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000, help="trials of the column (default 1000)")
    ap.add_argument("--trials10k", type=int, default=50, help="trials of the 10,000-neuron liquid (default 50)")
    ap.add_argument("--rerun-trials", type=int, default=20,
                    help="trials timed for brian2-rerun (one process start each; default 20)")
    ap.add_argument("--duration", type=float, default=500.0, help="ms per trial (default 500)")
    ap.add_argument("--inputs", type=int, default=40, help="Poisson input channels (default 40)")
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="pond threads (default 2)")
    ap.add_argument("--tools", default="pond,brian2-copies,brian2-rerun,nest")
    ap.add_argument("--models", default="column,liquid10k")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    tools = args.tools.split(",")
    report = {"duration_ms": args.duration, "inputs": args.inputs, "reps": args.reps, "machine": machine(),
              "threads": {"pond": args.threads, "brian2-copies": 1, "brian2-rerun": 1, "nest": 1},
              "models": {}, "skipped": {}}
    goals = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            grid = GRIDS[model]
            trials = args.trials if model == "column" else args.trials10k
            runners = {}
            if "pond" in tools:
                runners["pond"] = pond_runner(grid, trials, args.inputs, args.duration, args.threads)
            for tool in ("brian2-copies", "brian2-rerun"):
                why = available("brian2-cpp")
                if tool in tools and why is None:
                    n = trials if tool == "brian2-copies" else min(trials, args.rerun_trials)
                    runners[tool] = brian2_runner(tool.split("-")[1], grid, n, args.inputs, args.duration,
                                                  os.path.join(tmp, f"{model}_{tool}"))
                elif tool in tools:
                    report["skipped"][tool] = why
            if "nest" in tools and model == "column":
                why = available("nest")
                if why is None:
                    runners["nest"] = nest_runner(grid, trials, args.inputs, args.duration)
                else:
                    report["skipped"]["nest"] = why
            runs = interleave(runners, args.reps, progress=not args.json)
            res = {}
            for name, rs in runs.items():
                if "error" in rs[0]:
                    res[name] = rs[0]
                    continue
                res[name] = {"trials_per_s": summary([r["trials_per_s"] for r in rs]),
                             **{k: rs[0][k] for k in ("build_s", "spikes", "trials") if k in rs[0]}}
            ratios = {}
            pond = [r["trials_per_s"] for r in runs.get("pond", [])] if "pond" in res and "error" not in res["pond"] \
                else None
            brian = [name for name in ("brian2-copies", "brian2-rerun") if name in res and "error" not in res[name]]
            if pond and brian:
                best = max(brian, key=lambda n: res[n]["trials_per_s"]["median"])
                ratios["vs_brian2"] = dict(ratio_summary(pond, [r["trials_per_s"] for r in runs[best]]),
                                           against=best)
            if pond and "nest" in res and "error" not in res["nest"]:
                ratios["vs_nest"] = ratio_summary(pond, [r["trials_per_s"] for r in runs["nest"]])
            report["models"][model] = {"grid": list(grid), "neurons": int(grid[0] * grid[1] * grid[2]),
                                       "trials": trials, "tools": res, "ratios": ratios}
            if model == "column":
                goals["column_trials_per_s_vs_brian2"] = goal(ratios.get("vs_brian2", {}).get("median"), 20)
                goals["column_trials_per_s_vs_nest"] = goal(ratios.get("vs_nest", {}).get("median"), 50)
            else:
                goals["liquid10k_vs_brian2"] = goal(ratios.get("vs_brian2", {}).get("median"), 5)
    report["goals"] = goals
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for model, m in report["models"].items():
            print(f"{model} ({m['neurons']} neurons, {m['trials']} trials of {args.duration:g} ms)")
            for name, r in m["tools"].items():
                print(f"  {name:14s} " + (r["error"] if "error" in r else fmt_summary(r["trials_per_s"],
                                                                                      " trials/s")))
            for name, r in m["ratios"].items():
                print(f"  pond {name}: {fmt_summary(r, 'x', 3)}")
        for name, g in goals.items():
            print(f"goal {name}: {g['value']} (goal >= {g['goal']}) met={g['met']}")
    return report


if __name__ == "__main__":
    main()
