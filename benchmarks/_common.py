"""Helpers shared by the benchmark scripts: running a reference tool in a child process, checking it is there."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys


def run_child(args: list[str], timeout: float, env: dict | None = None) -> dict:
    """Run ``python -c args...`` with one OpenMP thread; return the JSON object its last output line holds."""
    env = dict(os.environ, OMP_NUM_THREADS="1", **(env or {}))
    out = subprocess.run([sys.executable, "-c", *args], capture_output=True, text=True, timeout=timeout, env=env)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(runners: dict, tools: list[str], duration_s: float, n_neurons: int) -> dict:
    """Run each requested tool (``runners[name]()`` returns build_s, loop_s, spikes, synapses, ...), derive
    seconds per simulated second and mean rate, and pond's speed-up over every other tool that ran."""
    results: dict = {}
    for tool in tools:
        reason = available(tool) if tool in runners else f"unknown tool; choose from {sorted(runners)}"
        if reason:
            results[tool] = {"skipped": reason}
            continue
        try:
            r = runners[tool]()
        except Exception as exc:  # a reference tool failing must not hide the others' figures
            results[tool] = {"error": str(exc)}
            continue
        r["run_s_per_sim_s"] = r["loop_s"] / duration_s
        r["rate_hz"] = r["spikes"] / n_neurons / duration_s
        results[tool] = r
    if "run_s_per_sim_s" in results.get("pond", {}):
        p = results["pond"]["run_s_per_sim_s"]
        results["pond"]["speedup"] = {t: r["run_s_per_sim_s"] / p for t, r in results.items()
                                      if t != "pond" and "run_s_per_sim_s" in r}
    return results


def available(tool: str) -> str | None:
    """None when ``tool`` can run here, else the reason it cannot."""
    import importlib.util

    if tool.startswith("brian2") and importlib.util.find_spec("brian2") is None:
        return "brian2 is not installed"
    if tool == "brian2-cpp" and shutil.which(os.environ.get("CXX", "g++")) is None:
        return "no C++ compiler"
    if tool == "nest" and importlib.util.find_spec("nest") is None:
        return "nest is not installed"
    return None
