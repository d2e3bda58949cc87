"""pond.pynn against pyNN.nest on the same PyNN scripts: build and run times, and their ratios, in one job.

The scripts are ``benchmarks/pynn_scripts/vogels_abbott_cuba.py`` (PyNN's Vogels–Abbott CUBA example, 4000 cells,
p = 0.02) and ``brunel_delta.py`` (PyNN's Brunel example with delta synapses); the simulator module is their only
difference. Every run is a child process (NEST and Numba-threaded pond do not share a process here), on one thread,
that runs its script twice for the same seed and reports the second (warm: pond's kernels loaded from Numba's cache,
NEST's modules initialised); the first, cold run of each child is reported too. Times are PyNN's own ``Timer``
readings in the script: *build* is populations, initial values, projections and recording set-up; *run* is
``sim.run``. pond builds its engine network at the first ``run()``, so its run time includes that build;
``pond_loop_s`` is its simulation loop alone. Repetitions are interleaved (pond, NEST, pond, ...); each figure is the
median with min and max, each ratio is NEST's time over pond's, round by round.

Goals (``goals`` in the JSON): ``cuba_run_vs_nest`` >= 10 and ``cuba_build_vs_nest`` >= 5.

Usage::

    python benchmarks/pynn.py [--reps 3] [--cuba-n 4000] [--tstop 1000] [--brunel-order 500] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

from _common import available, fmt_summary, goal, interleave, machine, ratio_summary, run_child, summary

SCRIPTS = Path(__file__).resolve().parent / "pynn_scripts"

#: Runs a script as ``__main__`` (argv given), then adds pond's engine figures when the backend is pond.pynn.
CHILD = textwrap.dedent("""
    import contextlib, io, json, runpy, sys
    script, *argv = sys.argv[1:]
    sys.argv = [script, *argv]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(script, run_name="__main__")
    report = json.loads(out.getvalue().strip().splitlines()[-1])
    if argv[0] == "pond.pynn":
        from pond.pynn.simulator import state
        report["pond_loop_s"] = state.sim.last_run.wall_s
    print(json.dumps(report))
""")


def runner(script: str, simulator: str, args: list[str]):
    def run() -> dict:
        rep = run_child([CHILD, str(SCRIPTS / script), simulator, *args], timeout=3600)
        cold, warm = rep["runs"]
        return {"build_s": warm["build_s"], "run_s": warm["run_s"], "cold_build_s": cold["build_s"],
                "cold_run_s": cold["run_s"], "exc_rate": warm["exc_rate"], "inh_rate": warm["inh_rate"],
                "synapses": warm["synapses"], "pond_loop_s": rep.get("pond_loop_s")}
    return run


def measure(name: str, script: str, args: list[str], reps: int, progress: bool) -> dict:
    tools = {"pond": "pond.pynn", "nest": "pyNN.nest"}
    skipped = {t: available("nest") for t in tools if t == "nest" and available("nest")}
    runners = {t: runner(script, mod, args) for t, mod in tools.items() if t not in skipped}
    if progress:
        print(f"{name}: {script} {' '.join(args)}", file=sys.stderr)
    results = interleave(runners, reps, progress)
    out = {"script": script, "args": args, "tools": {}, "ratios": {}}
    for tool, runs in results.items():
        if "error" in runs[0]:
            out["tools"][tool] = {"error": runs[0]["error"]}
            continue
        entry = {k: summary([r[k] for r in runs]) for k in ("build_s", "run_s", "cold_build_s", "cold_run_s",
                                                             "exc_rate", "inh_rate")}
        if tool == "pond":
            entry["pond_loop_s"] = summary([r["pond_loop_s"] for r in runs])
        entry["synapses"] = runs[0]["synapses"]
        out["tools"][tool] = entry
    for tool, reason in skipped.items():
        out["tools"][tool] = {"skipped": reason}
    if "build_s" in out["tools"].get("pond", {}) and "build_s" in out["tools"].get("nest", {}):
        for key in ("build_s", "run_s"):
            out["ratios"][f"nest/pond {key[:-2]}"] = ratio_summary(
                [r[key] for r in results["nest"]], [r[key] for r in results["pond"]])
        out["ratios"]["nest run/pond loop"] = ratio_summary(
            [r["run_s"] for r in results["nest"]], [r["pond_loop_s"] for r in results["pond"]])
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions (default 3)")
    ap.add_argument("--cuba-n", type=int, default=4000, help="CUBA cells (default 4000, PyNN's)")
    ap.add_argument("--tstop", type=float, default=1000.0, help="simulated ms of each script (default 1000)")
    ap.add_argument("--brunel-order", type=int, default=500, help="Brunel order: 5 order cells (default 500)")
    ap.add_argument("--seed", type=int, default=98765)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    seeds = f"{args.seed},{args.seed}"
    report = {"machine": {**machine(), "pond_threads": 1, "nest_threads": 1}, "reps": args.reps, "models": {}}
    report["models"]["cuba"] = measure("CUBA", "vogels_abbott_cuba.py",
                                       ["--n", str(args.cuba_n), "--pconn", str(0.02 * 4000 / args.cuba_n),
                                        "--tstop", str(args.tstop), "--seeds", seeds], args.reps, not args.json)
    report["models"]["brunel"] = measure("Brunel", "brunel_delta.py",
                                         ["--order", str(args.brunel_order), "--simtime", str(args.tstop),
                                          "--warmup", str(min(200.0, args.tstop / 5)), "--seeds", seeds],
                                         args.reps, not args.json)
    cuba = report["models"]["cuba"]["ratios"]
    report["goals"] = {
        "cuba_run_vs_nest": goal(cuba["nest/pond run"]["median"] if cuba else None, 10.0),
        "cuba_build_vs_nest": goal(cuba["nest/pond build"]["median"] if cuba else None, 5.0),
    }
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print_text(report)
    return report


def print_text(report: dict) -> None:
    m = report["machine"]
    print(f"pond.pynn vs pyNN.nest, {report['reps']} interleaved repetitions, one thread each; {m['cpu']}, "
          f"{m['cores']} cores")
    for name, res in report["models"].items():
        print(f"{name}: {res['script']} {' '.join(res['args'])}")
        for tool, r in res["tools"].items():
            if "build_s" not in r:
                print(f"  {tool:5s} {r.get('skipped') or r.get('error')}")
                continue
            loop = f", loop {fmt_summary(r['pond_loop_s'], ' s', 3)}" if "pond_loop_s" in r else ""
            print(f"  {tool:5s} build {fmt_summary(r['build_s'], ' s', 3)}, run {fmt_summary(r['run_s'], ' s', 3)}"
                  f"{loop}; rates {r['exc_rate']['median']:.2f} / {r['inh_rate']['median']:.2f} Hz, "
                  f"{r['synapses']} synapses")
        for key, rs in res["ratios"].items():
            print(f"  ratio {key}: {fmt_summary(rs, 'x', 3)}")
    for name, g in report["goals"].items():
        value = "n/a" if g["value"] is None else f"{g['value']:.3g}"
        print(f"goal {name}: {value} (goal {g['goal']:g}) met={g['met']}")


if __name__ == "__main__":
    main()
