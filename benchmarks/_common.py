"""Helpers shared by the benchmark scripts: interleaved repetitions, their summaries, the machine's description,
the ``goals`` block, and running a reference tool in a child process.

These machines are shared and noisy (one ratio can move 2x between runs), so every figure is the median of
repetitions interleaved in time (pond, reference, pond, reference, ...), reported with its min and max; the ratio
measured in one job is the figure that counts.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
from typing import Callable


def run_child(args: list[str], timeout: float, env: dict | None = None, threads: int = 1) -> dict:
    """Run ``python -c args...`` with ``threads`` OpenMP threads; return the JSON object its last output line holds."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), **(env or {}))
    out = subprocess.run([sys.executable, "-c", *args], capture_output=True, text=True, timeout=timeout, env=env)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def interleave(runners: dict[str, Callable[[], dict]], reps: int, progress: bool = True) -> dict[str, list[dict]]:
    """Run every runner ``reps`` times, round-robin (a, b, c, a, b, c, ...); a runner that fails is dropped from
    later rounds and its error kept as ``[{"error": ...}]``."""
    out: dict[str, list[dict]] = {name: [] for name in runners}
    failed: dict[str, str] = {}
    for rep in range(reps):
        for name, fn in runners.items():
            if name in failed:
                continue
            try:
                out[name].append(fn())
            except Exception as exc:  # a reference tool failing must not hide the others' figures
                failed[name] = f"{type(exc).__name__}: {exc}"
            if progress:
                print(f"  [{rep + 1}/{reps}] {name} done", file=sys.stderr, flush=True)
    for name, err in failed.items():
        out[name] = [{"error": err}]
    return out


def summary(values: list[float]) -> dict:
    """Median, min and max of ``values`` (and the values themselves)."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": list(values)}


def ratio_summary(num: list[float], den: list[float]) -> dict:
    """The ratio of two interleaved series, round by round (so each ratio compares runs made side by side)."""
    return summary([a / b for a, b in zip(num, den)])


def measure_tools(makers: dict, tools: list[str], reps: int, duration_s: float, n_neurons: int,
                  progress: bool = True) -> tuple[dict, dict]:
    """Set up every requested tool that can run here (``makers[tool]()`` returns a function timing one run:
    ``loop_s``, ``spikes``, ...), run them interleaved ``reps`` times, and summarise each: seconds per simulated
    second, spikes and rate, build time and synapses, and pond's events per second and thread plan. Returns the
    per-tool results (skipped and failed tools say why) and each tool's series of seconds per simulated second."""
    runners, results = {}, {}
    for tool in tools:
        reason = available(tool) if tool in makers else f"unknown tool; choose from {sorted(makers)}"
        if reason:
            results[tool] = {"skipped": reason}
        else:
            runners[tool] = makers[tool]()
    runs = interleave(runners, reps, progress=progress)
    loops = {}
    for tool, rs in runs.items():
        if "error" in rs[0]:
            results[tool] = rs[0]
            continue
        loops[tool] = [r["loop_s"] / duration_s for r in rs]
        results[tool] = {"run_s_per_sim_s": summary(loops[tool]), "spikes": rs[-1]["spikes"],
                         "rate_hz": rs[-1]["spikes"] / n_neurons / duration_s,
                         "build_s": rs[0].get("build_s"), "synapses": rs[0].get("synapses")}
        if "events_per_s" in rs[0]:
            results[tool]["events_per_s"] = summary([r["events_per_s"] for r in rs])
        for key in ("plan", "bytes_per_synapse"):
            if key in rs[-1]:
                results[tool][key] = rs[-1][key]
    return results, loops


def median_of(ratios: dict, key: str) -> float | None:
    """The median of ratio ``key``, or None when one of its tools did not run."""
    return ratios[key]["median"] if key in ratios else None


def goal(value: float | None, target: float, higher_is_better: bool = True) -> dict:
    """One entry of a script's ``goals`` block."""
    met = None if value is None else (value >= target if higher_is_better else value <= target)
    return {"value": value, "goal": target, "met": met}


def machine() -> dict:
    """CPU model, cores and the thread settings the figures were measured with."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import numba

    return {"cpu": cpu, "cores": os.cpu_count(), "numba_threads": numba.config.NUMBA_NUM_THREADS,
            "numba_threading_layer": numba.config.THREADING_LAYER, "python": platform.python_version()}


def available(tool: str) -> str | None:
    """None when ``tool`` can run here, else the reason it cannot."""
    import importlib.util

    if tool.startswith("brian2") and importlib.util.find_spec("brian2") is None:
        return "brian2 is not installed"
    if tool == "brian2-cpp" and shutil.which(os.environ.get("CXX", "g++")) is None:
        return "no C++ compiler"
    if tool.startswith("nest") and importlib.util.find_spec("nest") is None:
        return "nest is not installed"
    return None


def fmt_summary(s: dict, unit: str = "", digits: int = 4) -> str:
    return f"{s['median']:.{digits}g}{unit} [{s['min']:.{digits}g}, {s['max']:.{digits}g}]"


def print_report(title: str, report: dict, n_neurons: int) -> None:
    """The human-readable form of a report: each tool's seconds per simulated second (median [min, max]), spikes and
    rate, then the ratios and the goals."""
    m = report["machine"]
    print(f"{title}, {report['duration_s']:g} s simulated, {report['reps']} interleaved repetitions; {m['cpu']}, "
          f"{m['cores']} cores")
    print(f"{'tool':15s} {'s/sim-s median [min, max]':>30s} {'spikes':>9s} {'rate Hz':>8s}")
    for tool, r in report["tools"].items():
        if "run_s_per_sim_s" in r:
            print(f"{tool:15s} {fmt_summary(r['run_s_per_sim_s']):>30s} {r['spikes']:9d} "
                  f"{r['spikes'] / n_neurons / report['duration_s']:8.2f}")
        else:
            print(f"{tool:15s} {r.get('skipped') or r.get('error')}")
    for key, rs in report["ratios"].items():
        print(f"ratio {key}: {fmt_summary(rs, 'x', 3)}")
    for name, g in report["goals"].items():
        value = "n/a" if g["value"] is None else f"{g['value']:.3g}"
        print(f"goal {name}: {value} (goal {g['goal']:g}) met={g['met']}")
