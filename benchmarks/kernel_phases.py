"""The network kernel by phase against the kernel before it: CUBA and Brunel, old and new side by side in one job.

The old side is pond at commit ``--old`` (default 53b104d, the last commit with ``_work`` written as one function),
exported with ``git archive`` into a directory kept between runs (its Numba cache stays warm there); the new side is
this working tree (or ``--new``). Each side runs in its own long-lived child process with ``PYTHONPATH`` (and the
working directory) pointing at its tree: it builds every network once, runs ``--check-ms`` of each with an extra
StateMonitor (all kernels compiled before any timing), hashes the recorded spikes, rate counts and state samples,
and then times one :meth:`Simulator.run` of its ``--duration`` per request. Requests alternate old, new, old, new, ...
(``--reps`` rounds); each figure is the median of the rounds with min and max, and the ratio ``old / new`` of loop
times is taken round by round (above 1: the new kernel is faster).

Goals (``goals`` in the JSON): ``<network>_new_vs_old`` >= 0.97 for each network and thread count (not slower,
within the noise of a shared machine), and ``identical_results``: every network's hash equal on both sides.

Usage::

    python benchmarks/kernel_phases.py [--duration cuba=4,brunel=0.4] [--reps 5] [--networks cuba,brunel]
                                       [--threads 1] [--old 53b104d] [--new DIR] [--json]
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

from _common import goal, interleave, machine, ratio_summary, summary

ROOT = Path(__file__).resolve().parents[1]
OLD_COMMIT = "53b104d"

CHILD_CODE = textwrap.dedent("""
    import hashlib, json, os, sys, time
    # an editable install of pond would answer for modules this tree lacks: import from this tree only
    sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
    import numpy as np
    networks, threads, check_ms, seed = sys.argv[1].split(","), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    import engine
    assert engine.__file__.startswith(os.getcwd()), engine.__file__
    from engine import Simulator, StateMonitor, SpikeMonitor, RateMonitor
    try:  # the layout after the move into subpackages, else the one before
        from engine.network.library import cuba
    except ImportError:
        from engine.standard_models import cuba
    try:
        from engine.io.modelfile import load_model
    except ImportError:
        from engine.modelfile import load_model

    def network(name):
        if name == "cuba":
            return cuba(seed)
        if name == "brunel":
            return load_model("pond/examples/brunel.toml")[0]
        raise ValueError(f"unknown network {name!r}; choose from cuba, brunel")

    def digest(sim, net):
        h = hashlib.sha256()
        n = 0
        for m in net.monitors:
            if isinstance(m, SpikeMonitor):
                arrays = sim.spike_steps(m.source)
                n += arrays[0].size
            elif isinstance(m, RateMonitor):
                arrays = (sim.spike_counts(m.target),)
            else:
                arrays = tuple(sim.state(m.target, v)[1] for v in m.variables)
            for a in arrays:
                a = np.ascontiguousarray(a)
                h.update(str((type(m).__name__, a.dtype.str, a.shape)).encode())
                h.update(a.tobytes())
        return h.hexdigest(), n

    ready, sims = {}, {}
    for name in networks:
        net = network(name)
        pop = net.populations[0].name
        variables = ("V", "I_ex", "I_in") if name == "cuba" else ("V",)
        net.add(StateMonitor(pop, variables=variables, indices=list(range(0, 400, 25)), every=3))
        check = Simulator(net, n_jobs=threads)
        check.run(check_ms)
        h, n = digest(check, net)
        del check
        t0 = time.perf_counter()
        sim = Simulator(network(name), n_jobs=threads)
        sim.run(0.1)  # build and first call (the kernels are compiled by now)
        sims[name] = sim
        ready[name] = {"hash": h, "check_spikes": n, "build_s": time.perf_counter() - t0,
                       "plan": [str(p) for p in sim.last_plan]}
    print(json.dumps(ready), flush=True)
    for line in sys.stdin:
        name, ms = line.split()
        sim = sims[name]
        t0 = time.perf_counter()
        sim.run(float(ms), keep=False)
        loop_s = time.perf_counter() - t0
        print(json.dumps({"loop_s": loop_s, "spikes": int(sim.last_run.spikes)}), flush=True)
""")


def export_old(commit: str, where: Path) -> Path:
    """The tree of ``commit`` under ``where`` (exported once with ``git archive``; kept, with its Numba cache)."""
    full = subprocess.run(["git", "rev-parse", "--verify", f"{commit}^{{commit}}"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()
    tree = where / f"pond-{full[:12]}"
    if not (tree / ".exported").exists():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", full], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
        (tree / ".exported").write_text(full + "\n")
    return tree


class Side:
    """One tree's child process: builds the networks and checks them on start, then times runs on request."""

    def __init__(self, tree: Path, networks: list[str], threads: int, check_ms: float, seed: int):
        env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads))
        env.pop("NUMBA_CACHE_DIR", None)  # each tree keeps its own kernels' cache beside its sources
        self.proc = subprocess.Popen([sys.executable, "-c", CHILD_CODE, ",".join(networks), str(threads),
                                      str(check_ms), str(seed)], cwd=tree, env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.ready = self._reply()

    def _reply(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"child exited with status {self.proc.wait()}")
        return json.loads(line)

    def run(self, name: str, ms: float) -> dict:
        self.proc.stdin.write(f"{name} {ms!r}\n")
        self.proc.stdin.flush()
        return self._reply()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", default="cuba=4,brunel=0.4",
                    help="simulated seconds per timed run, per network (default cuba=4,brunel=0.4)")
    ap.add_argument("--reps", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("--networks", default="cuba,brunel", help="any of cuba, brunel (default both)")
    ap.add_argument("--threads", default="1", help="thread counts, comma-separated (default 1)")
    ap.add_argument("--check-ms", type=float, default=300.0,
                    help="simulated ms of the run whose records are compared (default 300)")
    ap.add_argument("--seed", type=int, default=1, help="CUBA's seed (Brunel's is in its model file)")
    ap.add_argument("--old", default=OLD_COMMIT, help=f"the commit to compare with (default {OLD_COMMIT})")
    ap.add_argument("--old-dir", default=os.path.join(tempfile.gettempdir(), "pond_kernel_phases"),
                    help="where the old tree is exported and kept")
    ap.add_argument("--new", default=str(ROOT), help="the tree to measure (default: this working tree)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    new_tree = Path(args.new).resolve()
    networks = args.networks.split(",")
    durations = {k: float(v) for k, v in (item.split("=") for item in args.duration.split(","))}
    for name in networks:
        if name not in durations:
            ap.error(f"--duration names no duration for {name!r}: {args.duration!r}")
    threads = [int(t) for t in args.threads.split(",")]
    old_tree = export_old(args.old, Path(args.old_dir))
    report = {"old": {"commit": (old_tree / ".exported").read_text().strip(), "tree": str(old_tree)},
              "new": {"tree": str(new_tree)}, "networks": networks, "duration_s": durations, "reps": args.reps,
              "check_ms": args.check_ms, "machine": machine(), "threads": threads, "results": {}, "goals": {}}
    identical = True
    for th in threads:
        progress = not args.json
        if progress:
            print(f"threads {th}: starting both sides (build, check run, compile)", file=sys.stderr, flush=True)
        sides = {"old": Side(old_tree, networks, th, args.check_ms, args.seed),
                 "new": Side(new_tree, networks, th, args.check_ms, args.seed)}
        try:
            for name in networks:
                runners = {side: (lambda s=s, name=name: s.run(name, durations[name] * 1000.0))
                           for side, s in sides.items()}
                runs = interleave(runners, args.reps, progress=progress)
                key = f"{name}_{th}thread{'s' * (th != 1)}"
                res = {"hash_old": sides["old"].ready[name]["hash"], "hash_new": sides["new"].ready[name]["hash"],
                       "check_spikes": sides["new"].ready[name]["check_spikes"],
                       "plan": sides["new"].ready[name]["plan"]}
                res["identical"] = res["hash_old"] == res["hash_new"]
                identical &= res["identical"]
                if any("error" in runs[s][0] for s in runs):
                    res["error"] = {s: runs[s][0].get("error") for s in runs}
                else:
                    loops = {s: [r["loop_s"] / durations[name] for r in runs[s]] for s in runs}
                    res.update({f"{s}_s_per_sim_s": summary(loops[s]) for s in loops})
                    res["spikes_per_run"] = {s: [r["spikes"] for r in runs[s]] for s in runs}
                    res["new_vs_old"] = ratio_summary(loops["old"], loops["new"])
                report["results"][key] = res
                report["goals"][f"{key}_new_vs_old"] = goal(res.get("new_vs_old", {}).get("median"), 0.97)
        finally:
            for s in sides.values():
                s.close()
    report["goals"]["identical_results"] = {"value": identical, "goal": True, "met": identical}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        m = report["machine"]
        print(f"kernel by phase vs {report['old']['commit'][:10]}: {args.reps} interleaved rounds; {m['cpu']}, "
              f"{m['cores']} cores")
        for key, r in report["results"].items():
            print(f"{key} ({durations[key.split('_')[0]]:g} s simulated per run): results "
                  f"{'identical' if r['identical'] else 'DIFFER'} (sha256 {r['hash_new'][:16]}, "
                  f"{r['check_spikes']} spikes in {args.check_ms:g} ms)")
            if "new_vs_old" in r:
                print(f"  old {fmt(r['old_s_per_sim_s'], ' s/sim-s')}  new {fmt(r['new_s_per_sim_s'], ' s/sim-s')}  "
                      f"old/new {fmt(r['new_vs_old'], 'x')}")
            else:
                print(f"  failed: {r['error']}")
        for name, g in report["goals"].items():
            print(f"goal {name}: {g['value'] if not isinstance(g['value'], float) else round(g['value'], 3)} "
                  f"(goal {g['goal']}) met={g['met']}")
    return report


def fmt(s: dict, unit: str) -> str:
    return f"{s['median']:.4g}{unit} [{s['min']:.4g}, {s['max']:.4g}]"


if __name__ == "__main__":
    main()
