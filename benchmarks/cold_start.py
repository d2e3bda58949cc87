"""Cold start: how long a new user waits while Numba compiles pond's kernels on a fresh cache.

A new virtual environment, a new machine and every pip upgrade start with an empty Numba cache, and every kernel a
job uses compiles on its first call. Each measurement here runs in a child process with its own empty
``NUMBA_CACHE_DIR`` (``NUMBA_NUM_THREADS=2``), importing pond from ``--tree`` (default: this checkout):

- ``network``: in one child, one step after the other, each timed alone (wall seconds, and the compile seconds the
  Simulator reports): importing the engine, the **first CUBA run** (4000 LIF, build + compile + 100 ms, one trial on
  one thread), the **first batch** (trials=2 on two threads: a further kernel variant), the **first block-parallel
  run** (one trial on two threads); then the same three steps again in a second child on the cache the first one
  filled (``warm``), the figure a returning user sees;
- ``lsm``: the first ``LSM().fit(X).transform(X)`` (the Maass column, 8 trials of 200 ms);
- ``esn``: the first fit of an ESN -> Ridge pipeline (200 units, NARMA-10, 500 steps);
- ``demo``: ``python -m pond demo --quiet`` (what ``pond demo`` runs right after ``pip install``), in an empty folder.

Scenarios alternate within each of ``--reps`` rounds; every figure is the median with min and max over the rounds.
Goals (``goals`` in the JSON; issue 25): the first run of a network (CUBA, LSM, ESN) <= 15 s on two cores and each
further kernel variant (the batch, the block-parallel run) <= 5 s. The demo has no goal of its own: most of its
time is the job itself.

``--breakdown`` runs one more cold ``network`` child that reports, after each step, every compiled kernel of
engine/reservoirs/readouts: its signatures, cache hits and misses, and numba's own timers per compiled signature
(``compiler_lock``: the whole compilation, nested compilations of the kernels it calls included; ``llvm_lock``: the
LLVM part, optimisation and code generation). ``--numba-opt 0,3`` repeats the cold ``network`` child at those
``NUMBA_OPT`` levels (numba's default is 3), to see how much of the time is LLVM's optimiser.

Usage::

    python benchmarks/cold_start.py [--reps 2] [--scenarios network,lsm,esn,demo] [--breakdown]
                                    [--numba-opt 0,3] [--tree DIR] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _common import goal, machine, summary

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ("network", "lsm", "esn", "demo")

PRELUDE = textwrap.dedent("""
    import json, os, sys, time
    t_start = time.perf_counter()
    # an editable install of pond would answer for modules this tree lacks: import from this tree only
    sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
    timings = {}

    def step(name, fn):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        timings[name] = {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}
        return out

    def kernels():
        import numba
        from numba.core.registry import CPUDispatcher
        out = {}
        for mod_name, mod in list(sys.modules.items()):
            if mod is None or not mod_name.split(".")[0] in ("engine", "reservoirs", "readouts"):
                continue
            for name, obj in list(vars(mod).items()):
                if isinstance(obj, CPUDispatcher) and obj.overloads and obj.py_func.__module__ == mod_name:
                    timers = [res.metadata["timers"] for res in obj.overloads.values()
                              if res.metadata and "timers" in res.metadata]
                    out[f"{mod_name}.{name}"] = {
                        "signatures": len(obj.overloads),
                        "cache_hits": sum(obj.stats.cache_hits.values()),
                        "cache_misses": sum(obj.stats.cache_misses.values()),
                        "compile_s": [t.get("compiler_lock", 0.0) for t in timers],
                        "llvm_s": [t.get("llvm_lock", 0.0) for t in timers]}
        return out
""")

NETWORK = PRELUDE + textwrap.dedent("""
    breakdown = "--breakdown" in sys.argv
    snapshots = {}
    Simulator = step("import", lambda: __import__("engine").Simulator)
    from engine.network.library import cuba
    net = cuba(1)

    def first(**kw):
        sim = Simulator(net, **kw)
        sim.run(100.0)
        return sim

    for name, kw in (("first_run", {"n_jobs": 1}), ("first_batch", {"trials": 2, "n_jobs": 2}),
                     ("first_blocks", {"n_jobs": 2})):
        sim = step(name, lambda: first(**kw))
        timings[name].update(compile_s=sim.compile_s, plan=list(sim.last_plan))
        if breakdown:
            snapshots[name] = kernels()
    print(json.dumps({"timings": timings, "process_s": time.perf_counter() - t_start, "kernels": snapshots}))
""")

LSM = PRELUDE + textwrap.dedent("""
    import numpy as np
    rng = np.random.default_rng(0)
    X = [(np.sort(np.round(rng.uniform(0, 199.9, 40), 1)), rng.integers(0, 4, 40)) for _ in range(8)]
    LSM = step("import", lambda: __import__("reservoirs").LSM)
    step("first_transform", lambda: LSM(duration=200.0, sample_times=[100.0, 200.0], seed=1).fit(X).transform(X))
    print(json.dumps({"timings": timings, "process_s": time.perf_counter() - t_start}))
""")

ESN = PRELUDE + textwrap.dedent("""
    def imports():
        from sklearn.pipeline import Pipeline
        from readouts import Ridge
        from reservoirs import ESN
        from reservoirs.datasets import narma10
        return Pipeline, Ridge, ESN, narma10

    Pipeline, Ridge, ESN, narma10 = step("import", imports)
    u, y = narma10(500, seed=1)
    step("first_fit", lambda: Pipeline([("esn", ESN(units=200, washout=20, seed=0)), ("ridge", Ridge())]).fit(u, y))
    print(json.dumps({"timings": timings, "process_s": time.perf_counter() - t_start}))
""")


def _env(tree: Path, cache: str, opt: str | None = None) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, NUMBA_NUM_THREADS="2", PYTHONPATH=str(tree), MPLBACKEND="Agg")
    env.pop("NUMBA_OPT", None)
    if opt is not None:
        env["NUMBA_OPT"] = opt
    return env


def _child(code: str, tree: Path, cache: str, args: tuple = (), opt: str | None = None) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=tree, env=_env(tree, cache, opt),
                          capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[-2000:] or f"exit status {proc.returncode}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["child_wall_s"] = wall
    return out


def _demo(tree: Path, cache: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="pond-demo-") as outdir:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "pond", "demo", "--quiet", "--outdir", outdir], cwd=outdir,
                              env=_env(tree, cache), capture_output=True, text=True, timeout=1800)
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip()[-2000:] or f"exit status {proc.returncode}")
    return {"timings": {"demo": {"wall_s": wall}}, "child_wall_s": wall}


def measure(scenario: str, tree: Path) -> dict:
    """One cold measurement of ``scenario`` (and, for ``network``, a warm one on the cache it filled)."""
    with tempfile.TemporaryDirectory(prefix="pond-numba-cache-") as cache:
        if scenario == "network":
            cold = _child(NETWORK, tree, cache)
            warm = _child(NETWORK, tree, cache)
            return {"cold": cold, "warm": warm}
        if scenario == "lsm":
            return {"cold": _child(LSM, tree, cache)}
        if scenario == "esn":
            return {"cold": _child(ESN, tree, cache)}
        if scenario == "demo":
            return {"cold": _demo(tree, cache)}
    raise ValueError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")


def _series(runs: list[dict], phase: str, step: str, key: str = "wall_s") -> dict | None:
    values = [r[phase]["timings"][step][key] for r in runs if phase in r and step in r[phase]["timings"]
              and r[phase]["timings"][step].get(key) is not None]
    return summary(values) if values else None


def _breakdown_table(kernels: dict) -> list[dict]:
    """Kernels by compile time (the sum over their signatures), largest first."""
    rows = []
    for name, k in kernels.items():
        rows.append({"kernel": name, "signatures": k["signatures"], "cache_hits": k["cache_hits"],
                     "cache_misses": k["cache_misses"], "compile_s": sum(k["compile_s"]), "llvm_s": sum(k["llvm_s"])})
    return sorted(rows, key=lambda r: -r["compile_s"])


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=2, help="rounds of every scenario (default 2)")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated, from {', '.join(SCENARIOS)}")
    ap.add_argument("--breakdown", action="store_true", help="one more cold network child reporting every kernel")
    ap.add_argument("--numba-opt", default="", metavar="LEVELS",
                    help="also time the cold network child at these NUMBA_OPT levels, e.g. 0,3")
    ap.add_argument("--tree", type=Path, default=ROOT, help="the pond tree to import (default: this checkout)")
    ap.add_argument("--json", action="store_true", help="print the report as JSON only")
    args = ap.parse_args(argv)
    scenarios = [s for s in args.scenarios.split(",") if s]
    for s in scenarios:
        if s not in SCENARIOS:
            ap.error(f"--scenarios: {s!r} is not a scenario; choose from {', '.join(SCENARIOS)}")
    if args.reps < 1:
        ap.error(f"--reps = {args.reps} is not allowed; it must be >= 1")
    tree = args.tree.resolve()

    runs: dict[str, list[dict]] = {s: [] for s in scenarios}
    errors: dict[str, str] = {}
    for rep in range(args.reps):
        for s in scenarios:
            if s in errors:
                continue
            try:
                runs[s].append(measure(s, tree))
            except Exception as exc:  # one scenario failing (no onnxruntime for the demo) must not hide the others
                errors[s] = f"{type(exc).__name__}: {exc}"
            done = runs[s][-1] if runs[s] and s not in errors else {}
            steps = ", ".join(f"{phase} {k} {v['wall_s']:.1f} s" for phase in ("cold", "warm")
                              for k, v in done.get(phase, {}).get("timings", {}).items())
            print(f"  [{rep + 1}/{args.reps}] {s}: {errors.get(s) or steps}", file=sys.stderr, flush=True)

    figures: dict[str, dict | None] = {}
    if runs.get("network"):
        for step in ("import", "first_run", "first_batch", "first_blocks"):
            figures[f"network.{step}"] = _series(runs["network"], "cold", step)
            figures[f"network.{step}.compile"] = _series(runs["network"], "cold", step, "compile_s")
            figures[f"network.{step}.cpu"] = _series(runs["network"], "cold", step, "cpu_s")
            figures[f"network.{step}.warm"] = _series(runs["network"], "warm", step)
        figures["network.process"] = summary([r["cold"]["child_wall_s"] for r in runs["network"]])
    for s, step in (("lsm", "first_transform"), ("esn", "first_fit"), ("demo", "demo")):
        if runs.get(s):
            figures[f"{s}.{step}"] = _series(runs[s], "cold", step)
            figures[f"{s}.process"] = summary([r["cold"]["child_wall_s"] for r in runs[s]])

    def med(key):
        return figures[key]["median"] if figures.get(key) else None

    goals = {"first_cuba_run_s": goal(med("network.first_run"), 15.0, higher_is_better=False),
             "first_batch_s": goal(med("network.first_batch"), 5.0, higher_is_better=False),
             "first_block_parallel_s": goal(med("network.first_blocks"), 5.0, higher_is_better=False),
             "first_lsm_transform_s": goal(med("lsm.first_transform"), 15.0, higher_is_better=False),
             "first_esn_fit_s": goal(med("esn.first_fit"), 15.0, higher_is_better=False)}
    report = {"benchmark": "cold_start", "reps": args.reps, "tree": str(tree), "machine": machine(),
              "load_average": os.getloadavg(), "figures": {k: v for k, v in figures.items() if v},
              "plans": {step: r["cold"]["timings"][step].get("plan") for r in runs.get("network", [])[:1]
                        for step in ("first_run", "first_batch", "first_blocks")},
              "errors": errors, "goals": goals}

    if args.breakdown:
        with tempfile.TemporaryDirectory(prefix="pond-numba-cache-") as cache:
            out = _child(NETWORK, tree, cache, ("--breakdown",))
        report["breakdown"] = {step: _breakdown_table(k) for step, k in out["kernels"].items()}
        report["breakdown_timings"] = out["timings"]
        print(f"  breakdown: {json.dumps(out['timings'])}", file=sys.stderr, flush=True)
    if args.numba_opt:
        report["numba_opt"] = {}
        for level in args.numba_opt.split(","):
            with tempfile.TemporaryDirectory(prefix="pond-numba-cache-") as cache:
                out = _child(NETWORK, tree, cache, opt=level.strip())
            report["numba_opt"][level.strip()] = {k: v["wall_s"] for k, v in out["timings"].items()}

    if args.json:
        print(json.dumps(report, indent=1))
        return report
    m = report["machine"]
    print(f"cold start on a fresh Numba cache, {args.reps} rounds; {m['cpu']}, {m['cores']} cores, numba threads 2, "
          f"load average {report['load_average'][0]:.1f}")
    for key, s in report["figures"].items():
        print(f"  {key:34s} {s['median']:8.2f} s  [{s['min']:.2f}, {s['max']:.2f}]")
    for name, err in errors.items():
        print(f"  {name}: {err}")
    for step, rows in report.get("breakdown", {}).items():
        print(f"breakdown after {step} (compile s = numba's compiler_lock timer, nested compilations included):")
        for r in rows:
            if r["compile_s"] > 0.05 or r["cache_hits"]:
                print(f"  {r['kernel']:55s} sigs {r['signatures']:2d}  compile {r['compile_s']:7.2f} s  "
                      f"llvm {r['llvm_s']:7.2f} s  hits {r['cache_hits']}")
    for level, t in report.get("numba_opt", {}).items():
        print(f"NUMBA_OPT={level}: " + ", ".join(f"{k} {v:.2f} s" for k, v in t.items()))
    for name, g in goals.items():
        value = "n/a" if g["value"] is None else f"{g['value']:.3g}"
        print(f"goal {name}: {value} (goal <= {g['goal']:g}) met={g['met']}")
    return report


if __name__ == "__main__":
    main()
