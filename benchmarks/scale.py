"""Scale on one machine: a billion synapses built and simulated; at 1e8 synapses beside Brian2 and NEST.

The network (:func:`scale_network`): ``N`` iaf_psc_delta neurons (tau_m 20 ms, C_m 1 pF, E_L 0, theta 20 mV,
V_reset 10 mV, t_ref 2 ms, dt 0.1 ms), 80 % excitatory and 20 % inhibitory; every neuron sends ``K`` synapses to
targets drawn at random among all ``N`` (fixed out-degree, multapses allowed, as NEST's ``fixed_outdegree``), with
per-synapse weights ``Normal(J, 0.1 J)`` (excitatory, J = 0.1 mV) or ``Normal(-g J, 0.1 g J)`` (inhibitory, g = 8)
and per-synapse delays ``Uniform(0.5, 3.0)`` ms rounded to the step. A constant drive ``I_e = 1.2 pA`` (a free
membrane potential of 24 mV) and V uniform on [0, 20) mV make an inhibition-dominated network that fires at about
5 Hz (5.3 Hz at N = 20,000), with a weakly oscillating population rate. Brian2 (``cpp_standalone``, OpenMP) and
NEST run the same model in child processes, with the same thread count; Brian2's ``sample(N_post, size=K)`` draws
targets without replacement (at K/N = 1 % the two rules differ by about K²/2N = 5 repeated pairs per source).

Every tool runs in its own child process, so the peak resident memory it reports (``ru_maxrss``) is its own:
interpreter, libraries, network and simulation. pond also reports its connectivity arrays' bytes per synapse and
the process's resident memory just before the build (the baseline).

Parts: ``billion`` (pond, N = 1e6, K = 1000: build time, peak RSS, bytes per synapse, run time per simulated second,
synaptic events per second) and ``e8`` (N = 1e5, K = 1000: pond, Brian2 cpp_standalone and NEST interleaved
``--reps`` times). Goals (``goals`` in the JSON): ``billion_build_s`` <= 60, ``billion_bytes_per_synapse`` <= 9,
``e8_build_vs_brian2`` >= 10, ``e8_run_vs_brian2_cpp`` >= 3, ``e8_run_vs_nest`` >= 30.

Usage::

    python benchmarks/scale.py [--parts billion,e8] [--duration 1] [--reps 1] [--threads 2] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _common import available, fmt_summary, goal, interleave, machine, ratio_summary, summary

HERE = Path(__file__).resolve().parent
#: tau_m (ms), C_m (pF), theta and V_reset (mV), t_ref (ms), I_e (pA), J (mV), g, excitatory fraction, delays (ms)
MODEL = {"tau_m": 20.0, "C_m": 1.0, "theta": 20.0, "v_reset": 10.0, "t_ref": 2.0, "I_e": 1.2, "J": 0.1, "g": 8.0,
         "frac_exc": 0.8, "d_low": 0.5, "d_high": 3.0, "dt": 0.1}


def scale_network(n: int, k: int, seed: int = 1):
    """The benchmark's network as a pond :class:`engine.Network` (see the module docstring); spikes are counted,
    not stored."""
    from engine import Network, Population, Projection
    from engine.network.connectivity import FixedOutDegree
    from engine.network.distributions import Normal, Uniform

    m = MODEL
    n_e = int(round(m["frac_exc"] * n))
    params = dict(model="iaf_psc_delta", tau_m=m["tau_m"], C_m=m["C_m"], E_L=0.0, V_th=m["theta"],
                  V_reset=m["v_reset"], t_ref=m["t_ref"], I_e=m["I_e"], V_init=(0.0, m["theta"]))
    net = Network(dt=m["dt"], seed=seed)
    net.add(Population("exc", n_e, **params), Population("inh", n - n_e, **params))
    J, g = m["J"], m["g"]
    delay = Uniform(m["d_low"], m["d_high"])
    for post in ("exc", "inh"):  # K targets among all N: split over the two target populations in expectation
        share = (n_e if post == "exc" else n - n_e) / n
        kk = int(round(k * share))
        net.add(Projection("exc", post, FixedOutDegree(kk), weight=Normal(J, 0.1 * J), delay=delay),
                Projection("inh", post, FixedOutDegree(kk), weight=Normal(-g * J, 0.1 * g * J), delay=delay))
    return net


def _maxrss_bytes() -> int:
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def child_pond(n: int, k: int, duration_s: float, threads: int, seed: int) -> dict:
    """Build and run :func:`scale_network` in this (child) process; the figures of one pond run."""
    import numba

    numba.set_num_threads(threads)
    from engine import Simulator
    from engine.kernels import csr  # noqa: F401  (compiled kernels load before the baseline is taken)

    from engine import RateMonitor

    base = _maxrss_bytes()
    net = scale_network(n, k, seed).add(RateMonitor("exc"), RateMonitor("inh"))
    t0 = time.perf_counter()
    sim = Simulator(net, n_jobs=threads)
    build_s = time.perf_counter() - t0
    peak_build = _maxrss_bytes()
    b = sim.built
    sim.compile()
    sim.run(1.0)  # compiled kernels and queues warm
    sim.run(duration_s * 1000.0, keep=False)
    st = sim.last_run
    steps = int(round(duration_s * 1000.0 / net.dt))
    spikes = sum(int(sim.spike_counts(name)[:, -steps:].sum()) for name in ("exc", "inh"))
    return {"build_s": build_s, "run_s": st.wall_s, "spikes": spikes, "synapses": int(b.n_synapses),
            "bytes_per_synapse": b.bytes_per_synapse(), "connectivity_gib": b.connectivity_bytes() / 2**30,
            "baseline_rss_gib": base / 2**30, "peak_rss_build_gib": peak_build / 2**30,
            "peak_rss_gib": _maxrss_bytes() / 2**30, "events_per_s": st.events_per_second,
            "plan": list(sim.last_plan)}


BRIAN2_CODE = textwrap.dedent("""
    import json, sys, time, resource
    p = json.loads(sys.argv[1])
    from brian2 import *
    set_device("cpp_standalone", directory=p["workdir"], build_on_run=False)
    prefs.devices.cpp_standalone.openmp_threads = p["threads"]
    seed(p["seed"])
    defaultclock.dt = p["dt"] * ms
    t0 = time.perf_counter()
    N, K, NE = p["n"], p["k"], int(round(p["frac_exc"] * p["n"]))
    tau, theta, Vr, J, g = p["tau_m"] * ms, p["theta"] * mV, p["v_reset"] * mV, p["J"] * mV, p["g"]
    d_low, d_high = p["d_low"], p["d_high"]
    mu = p["I_e"] / p["C_m"] * p["tau_m"] * mV  # I_e tau / C_m: the free membrane potential
    G = NeuronGroup(N, "dv/dt = (mu - v) / tau : volt (unless refractory)", threshold="v > theta",
                    reset="v = Vr", refractory=p["t_ref"] * ms, method="exact")
    G.v = "rand() * theta"
    # delta synapses; input arriving while refractory is dropped, as in NEST's iaf_psc_delta and pond
    S = Synapses(G, G, "w : volt", on_pre="v_post += w * int(not_refractory_post)")
    S.connect(j="k for k in sample(N_post, size=K)")
    S.w["i < NE"] = "J * (1 + 0.1 * randn())"
    S.w["i >= NE"] = "-g * J * (1 + 0.1 * randn())"
    S.delay = "(d_low + (d_high - d_low) * rand()) * ms"
    mon = SpikeMonitor(G, record=False)
    namespace = {"mu": mu, "tau": tau, "theta": theta, "Vr": Vr, "J": J, "g": g, "NE": NE, "K": K,
                 "d_low": d_low, "d_high": d_high}
    run(p["duration"] * second, namespace=namespace)
    device.build(directory=p["workdir"], compile=True, run=True)
    total = time.perf_counter() - t0
    run_s = device._last_run_time
    print(json.dumps({"build_s": total - run_s, "run_s": run_s, "spikes": int(mon.num_spikes),
                      "synapses": int(len(S)), "peak_rss_gib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
                      / 2**20}))
""")

NEST_CODE = textwrap.dedent("""
    import json, sys, time, resource
    p = json.loads(sys.argv[1])
    import nest
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": p["dt"], "local_num_threads": p["threads"], "rng_seed": p["seed"] + 1,
                          "print_time": False})
    t0 = time.perf_counter()
    N, K, NE = p["n"], p["k"], int(round(p["frac_exc"] * p["n"]))
    params = {"C_m": p["C_m"], "tau_m": p["tau_m"], "t_ref": p["t_ref"], "E_L": 0.0, "V_reset": p["v_reset"],
              "V_th": p["theta"], "I_e": p["I_e"]}
    pop = nest.Create("iaf_psc_delta", N, params=params)
    pop.V_m = nest.random.uniform(0.0, p["theta"])
    J, g = p["J"], p["g"]
    delay = nest.random.uniform(p["d_low"], p["d_high"])
    conn = {"rule": "fixed_outdegree", "outdegree": K}
    nest.Connect(pop[:NE], pop, conn, {"weight": nest.random.normal(J, 0.1 * J), "delay": delay})
    nest.Connect(pop[NE:], pop, conn, {"weight": nest.random.normal(-g * J, 0.1 * g * J), "delay": delay})
    rec = nest.Create("spike_recorder", params={"record_to": "memory"})
    nest.Connect(pop, rec)
    nest.Simulate(p["dt"])
    build_s = time.perf_counter() - t0
    n0 = rec.n_events
    t1 = time.perf_counter()
    nest.Simulate(p["duration"] * 1000.0)
    run_s = time.perf_counter() - t1
    print(json.dumps({"build_s": build_s, "run_s": run_s, "spikes": int(rec.n_events - n0),
                      "synapses": int(nest.GetKernelStatus("num_connections")),
                      "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
""")


def _child(code: str, params: dict, threads: int, timeout: float = 3600.0) -> dict:
    """Run ``code`` (or, for pond, :func:`child_pond`) in a child process with ``params`` as its JSON argument."""
    import subprocess

    env = dict(os.environ, OMP_NUM_THREADS=str(threads), NUMBA_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", code, json.dumps(params)], capture_output=True, text=True,
                         timeout=timeout, env=env, cwd=str(HERE))
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


POND_CODE = textwrap.dedent("""
    import json, sys
    p = json.loads(sys.argv[1])
    sys.path.insert(0, p["here"])
    import scale
    print(json.dumps(scale.child_pond(p["n"], p["k"], p["duration"], p["threads"], p["seed"])))
""")


def runners(n: int, k: int, duration_s: float, threads: int, seed: int, tools: list[str], workdir: str) -> dict:
    """One function per tool that runs the network once in a child process and returns its figures."""
    params = dict(MODEL, n=n, k=k, duration=duration_s, threads=threads, seed=seed, here=str(HERE),
                  workdir=workdir)
    code = {"pond": POND_CODE, "brian2-cpp": BRIAN2_CODE, "nest": NEST_CODE}
    return {tool: (lambda tool=tool: _child(code[tool], params, threads)) for tool in tools}


def _summarise(runs: list[dict], duration_s: float, n: int) -> dict:
    out = {key: summary([r[key] for r in runs]) for key in ("build_s", "run_s", "peak_rss_gib")}
    out["run_s_per_sim_s"] = summary([r["run_s"] / duration_s for r in runs])
    out["rate_hz"] = runs[-1]["spikes"] / n / duration_s
    out["synapses"] = runs[-1]["synapses"]
    for key in ("bytes_per_synapse", "connectivity_gib", "baseline_rss_gib", "peak_rss_build_gib", "plan"):
        if key in runs[-1]:
            out[key] = runs[-1][key]
    if "events_per_s" in runs[0]:
        out["events_per_s"] = summary([r["events_per_s"] for r in runs])
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", default="billion,e8", help="comma-separated: billion, e8")
    ap.add_argument("--duration", type=float, default=1.0, help="simulated seconds per run")
    ap.add_argument("--reps", type=int, default=1, help="interleaved repetitions of the 1e8 comparison")
    ap.add_argument("--billion-reps", type=int, default=1, help="repetitions of the billion-synapse run")
    ap.add_argument("--threads", type=int, default=2, help="threads of every tool")
    ap.add_argument("--neurons", type=float, default=1e6, help="neurons of the large network")
    ap.add_argument("--e8-neurons", type=float, default=1e5, help="neurons of the compared network")
    ap.add_argument("--out-degree", type=int, default=1000, help="synapses per neuron")
    ap.add_argument("--tools", default="pond,brian2-cpp,nest", help="tools of the 1e8 comparison")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    bad = sorted(set(parts) - {"billion", "e8"})
    if bad:
        ap.error(f"--parts: {bad} not allowed; choose from billion, e8")
    report = {"machine": machine(), "threads": args.threads, "duration_s": args.duration, "model": MODEL,
              "out_degree": args.out_degree, "parts": {}}
    k = args.out_degree
    with tempfile.TemporaryDirectory() as workdir:
        if "billion" in parts:
            n = int(args.neurons)
            run = runners(n, k, args.duration, args.threads, args.seed, ["pond"], workdir)["pond"]
            runs = interleave({"pond": run}, args.billion_reps)["pond"]
            report["parts"]["billion"] = {"neurons": n, "pond": runs[0] if "error" in runs[0]
                                          else _summarise(runs, args.duration, n)}
        if "e8" in parts:
            n = int(args.e8_neurons)
            tools = [t for t in args.tools.split(",") if t]
            skipped = {t: available(t) for t in tools if available(t)}
            runs = interleave(runners(n, k, args.duration, args.threads, args.seed,
                                      [t for t in tools if t not in skipped], workdir), args.reps)
            res = {t: {"skipped": why} for t, why in skipped.items()}
            res.update({t: rs[0] if "error" in rs[0] else _summarise(rs, args.duration, n) for t, rs in runs.items()})
            ratios = {}
            ok = {t: rs for t, rs in runs.items() if "error" not in rs[0]}
            if "pond" in ok:
                for t in ("brian2-cpp", "nest"):
                    if t in ok:
                        ratios[f"run_vs_{t}"] = ratio_summary([r["run_s"] for r in ok[t]],
                                                              [r["run_s"] for r in ok["pond"]])
                        ratios[f"build_vs_{t}"] = ratio_summary([r["build_s"] for r in ok[t]],
                                                                [r["build_s"] for r in ok["pond"]])
            report["parts"]["e8"] = {"neurons": n, "tools": res, "ratios": ratios}
    report["goals"] = _goals(report)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        _print(report)
    return report


def _goals(report: dict) -> dict:
    big = report["parts"].get("billion", {}).get("pond", {})
    ratios = report["parts"].get("e8", {}).get("ratios", {})

    def med(d: dict, key: str):
        return d[key]["median"] if key in d else None
    return {"billion_build_s": goal(med(big, "build_s"), 60.0, higher_is_better=False),
            "billion_bytes_per_synapse": goal(big.get("bytes_per_synapse"), 9.0, higher_is_better=False),
            "e8_build_vs_brian2": goal(med(ratios, "build_vs_brian2-cpp"), 10.0),
            "e8_run_vs_brian2_cpp": goal(med(ratios, "run_vs_brian2-cpp"), 3.0),
            "e8_run_vs_nest": goal(med(ratios, "run_vs_nest"), 30.0)}


def _print(report: dict) -> None:
    def f(summ: dict) -> str:
        return fmt_summary(summ, digits=3)
    m = report["machine"]
    print(f"scale benchmark, {report['duration_s']:g} s simulated, {report['threads']} threads; {m['cpu']}, "
          f"{m['cores']} cores")
    big = report["parts"].get("billion")
    if big:
        p = big["pond"]
        if "error" in p:
            print(f"billion ({big['neurons']} neurons): {p['error']}")
        else:
            print(f"billion: {p['synapses']:.3g} synapses, build {f(p['build_s'])} s, peak RSS "
                  f"{f(p['peak_rss_gib'])} GiB (baseline {p['baseline_rss_gib']:.2f}, connectivity "
                  f"{p['connectivity_gib']:.2f} GiB, {p['bytes_per_synapse']:.3f} B/synapse), run "
                  f"{f(p['run_s_per_sim_s'])} s/sim-s, {p['rate_hz']:.2f} Hz, events/s {f(p['events_per_s'])}")
    e8 = report["parts"].get("e8")
    if e8:
        for tool, r in e8["tools"].items():
            if "build_s" not in r:
                print(f"e8 {tool}: {r.get('skipped') or r.get('error')}")
                continue
            print(f"e8 {tool:11s} build {f(r['build_s'])} s, run {f(r['run_s_per_sim_s'])} s/sim-s, "
                  f"{r['rate_hz']:.2f} Hz, {r['synapses']:.3g} synapses, peak RSS {f(r['peak_rss_gib'])} GiB")
        for key, summ in e8["ratios"].items():
            print(f"ratio {key}: {f(summ)}x")
    for name, g in report["goals"].items():
        value = "n/a" if g["value"] is None else f"{g['value']:.3g}"
        print(f"goal {name}: {value} (goal {g['goal']:g}) met={g['met']}")


if __name__ == "__main__":
    main()
