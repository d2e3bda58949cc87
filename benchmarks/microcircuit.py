"""Potjans & Diesmann (2014) microcircuit benchmark: the full-scale model in pond, and a down-scaled one in pond and
NEST, one job.

Full scale (``pond.microcircuit.microcircuit()``, as shipped in ``pond/examples/microcircuit.toml``: 77,169
``iaf_psc_exp`` neurons, 0.3 billion synapses, Poisson background): pond builds it in this process, runs a
``--transient`` (default 0.5 s) and then ``--duration`` (default 10 s) on ``--threads`` threads (default 2: one
trial split over both), and reports the build time (network description to built arrays, kernel compilation
apart), the peak resident memory of the process (measured: ``getrusage`` ``ru_maxrss``), bytes per synapse, the
real-time factor (wall seconds per simulated second over ``--duration``) and each population's mean rate over
``--duration`` beside NEST 3's published full-scale rates (``pond.microcircuit.REFERENCE_RATES``). Spikes are counted
by a rate monitor per population (counts per step), the cheapest record that gives population rates.

Down-scaled (default ``--ref-scale 0.1``: 10 % of the neurons and 10 % of the in-degrees, weights times
``1/sqrt(0.1)`` and DC compensation, NEST's ``N_scaling = K_scaling = 0.1``): the same parameters
(``pond.microcircuit.microcircuit_parameters``) run in pond (this process) and in NEST 3 (a child process: NEST never
shares a process with pond's Numba threads), both on ``--threads`` threads, ``--reps`` times interleaved (pond, NEST,
pond, ...), each a fresh build, a ``--transient`` and ``--ref-duration`` (default 2 s) timed. The ratio NEST/pond of
the timed loops, round by round, is the figure that counts; each tool's rates on the down-scaled model are reported
too (the two should agree within the seed-to-seed spread: the random streams differ).

Goals (``goals`` in the JSON): ``microcircuit_rtf`` <= 3 (full scale, pond on two threads; NEST needs a compute
node to approach 1, GeNN on a V100 about 2), ``microcircuit_rates_within_10pct`` true when every population's rate
lies within 10 % of the reference.

Usage::

    python benchmarks/microcircuit.py [--duration 10] [--transient 0.5] [--ref-scale 0.1] [--ref-duration 2]
                                      [--reps 3] [--threads 2] [--seed 55] [--tools pond-full,pond,nest] [--json]
"""
from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import textwrap
import time

from _common import available, fmt_summary, goal, interleave, machine, ratio_summary, run_child, summary

NEST_CODE = textwrap.dedent("""
    import json, sys, time
    p = json.loads(sys.argv[1])
    transient, duration, seed, threads = float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    import nest
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": p["dt"], "local_num_threads": threads, "rng_seed": seed + 1,
                          "print_time": False})
    t0 = time.perf_counter()
    names = p["populations"]
    pops = []
    for i in range(len(names)):
        pop = nest.Create("iaf_psc_exp", p["sizes"][i])
        pop.set(I_e=p["dc"][i], **p["neuron"])
        pop.set(V_m=nest.random.normal(p["v0_mean"][i], p["v0_std"][i]))
        pops.append(pop)
    # counts from the end of the transient on (NEST's recorder keeps spikes in (start, stop])
    recs = nest.Create("spike_recorder", len(names), params={"start": transient})
    inf = float("inf")
    for i in range(len(names)):
        for j in range(len(names)):
            n = p["synapses"][i][j]
            if n == 0:
                continue
            w = p["weight_mean"][i][j]
            weight = nest.math.redraw(nest.random.normal(mean=w, std=p["weight_std"][i][j]),
                                      min=-inf if w < 0 else 0.0, max=0.0 if w < 0 else inf)
            # redrawn below dt, as pond's Normal(..., low=dt) does (NEST's example redraws below dt / 2)
            delay = nest.math.redraw(nest.random.normal(mean=p["delay_mean"][i][j], std=p["delay_std"][i][j]),
                                     min=p["dt"], max=inf)
            nest.Connect(pops[j], pops[i], {"rule": "fixed_total_number", "N": n},
                         {"synapse_model": "static_synapse", "weight": weight, "delay": delay})
    if p["poisson_input"]:
        bg = nest.Create("poisson_generator", len(names))
        bg.rate = [p["bg_rate"] * k for k in p["k_ext"]]
        for i in range(len(names)):
            nest.Connect(bg[i], pops[i], "all_to_all", {"weight": p["weight_ext"], "delay": p["delay_ext"]})
    for i in range(len(names)):
        nest.Connect(pops[i], recs[i])
    nest.Prepare()
    nest.Cleanup()
    build_s = time.perf_counter() - t0
    nest.Simulate(transient)
    t1 = time.perf_counter()
    nest.Simulate(duration)
    loop_s = time.perf_counter() - t1
    counts = [int(r.n_events) for r in recs]
    print(json.dumps({"build_s": build_s, "loop_s": loop_s, "spikes": sum(counts),
                      "rates": {names[i]: counts[i] / p["sizes"][i] / (duration * 1e-3) for i in range(len(names))},
                      "synapses": int(nest.GetKernelStatus("num_connections"))}))
""")


def _peak_rss_gib() -> float:
    """Peak resident memory of this process so far (GiB); Linux reports ``ru_maxrss`` in KiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


def _rates(sim, net, transient_ms: float, duration_ms: float) -> dict:
    """Mean rate (Hz) of every population over ``duration_ms`` after ``transient_ms``, from the rate monitors."""
    from pond.microcircuit import POPULATIONS

    k0 = int(round(transient_ms / net.dt))
    return {name: float(sim.spike_counts(name)[0, k0:].sum()) / net.get(name).size / (duration_ms * 1e-3)
            for name in POPULATIONS}


def run_full(args) -> dict:
    """The full-scale model in pond: build, compile, transient, timed run; rates and memory."""
    from engine import Simulator
    from pond.microcircuit import REFERENCE_RATES, microcircuit

    transient, duration = args.transient * 1e3, args.duration * 1e3
    rss0 = _peak_rss_gib()
    t0 = time.perf_counter()
    net = microcircuit(1.0, 1.0, args.seed, record="rates")
    sim = Simulator(net, n_jobs=args.threads)
    build_s = time.perf_counter() - t0
    rss_build = _peak_rss_gib()
    compile_s = sim.compile()
    sim.run(transient)
    sim.run(duration)
    st = sim.last_run
    rates = _rates(sim, net, transient, duration)
    dev = {n: r / REFERENCE_RATES[n] - 1.0 for n, r in rates.items()}
    out = {"neurons": net.size, "synapses": int(sim.built.n_synapses - sum(p.size for p in net.populations)),
           "build_s": build_s, "compile_s": compile_s, "bytes_per_synapse": sim.built.bytes_per_synapse(),
           "peak_rss_gib": _peak_rss_gib(), "peak_rss_build_gib": rss_build, "rss_before_gib": rss0,
           "run_wall_s": st.wall_s, "rtf": st.wall_s / args.duration, "events_per_s": st.events_per_second,
           "plan": list(sim.last_plan), "rates_hz": rates, "reference_hz": dict(REFERENCE_RATES),
           "rel_deviation": dev, "max_abs_rel_deviation": max(abs(d) for d in dev.values())}
    del sim, net
    gc.collect()
    return out


def pond_scaled_runner(args):
    """A function timing pond on the down-scaled model: a fresh build each call (compilation done once here)."""
    from engine import Simulator
    from pond.microcircuit import microcircuit

    transient, duration = args.transient * 1e3, args.ref_duration * 1e3
    Simulator(microcircuit(args.ref_scale, args.ref_scale, args.seed, record="rates"), n_jobs=args.threads).compile()

    def run() -> dict:
        t0 = time.perf_counter()
        net = microcircuit(args.ref_scale, args.ref_scale, args.seed, record="rates")
        sim = Simulator(net, n_jobs=args.threads)
        build_s = time.perf_counter() - t0
        sim.compile()
        sim.run(transient)
        sim.run(duration)
        return {"build_s": build_s, "loop_s": sim.last_run.wall_s, "spikes": sim.last_run.spikes,
                "rates": _rates(sim, net, transient, duration), "plan": list(sim.last_plan),
                "synapses": int(sim.built.n_synapses - net.size)}
    return run


def nest_scaled_runner(args):
    """A function timing NEST 3 on the same down-scaled model in a child process."""
    from pond.microcircuit import POPULATIONS, microcircuit_parameters

    params = microcircuit_parameters(args.ref_scale, args.ref_scale).to_dict()
    params.update(populations=list(POPULATIONS), dt=0.1,
                  neuron={"C_m": 250.0, "tau_m": 10.0, "tau_syn_ex": 0.5, "tau_syn_in": 0.5, "E_L": -65.0,
                          "V_th": -50.0, "V_reset": -65.0, "t_ref": 2.0})
    argv = [NEST_CODE, json.dumps(params), str(args.transient * 1e3), str(args.ref_duration * 1e3), str(args.seed),
            str(args.threads)]
    return lambda: run_child(argv, timeout=3600, threads=args.threads)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=10.0, help="full scale: timed seconds after the transient")
    ap.add_argument("--transient", type=float, default=0.5, help="seconds simulated before counting (default 0.5)")
    ap.add_argument("--ref-scale", type=float, default=0.1, help="neuron and in-degree scale of the pond/NEST runs")
    ap.add_argument("--ref-duration", type=float, default=2.0, help="down-scaled runs: timed seconds (default 2)")
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions of the down-scaled runs")
    ap.add_argument("--threads", type=int, default=2, help="threads of pond and NEST (default 2)")
    ap.add_argument("--seed", type=int, default=55, help="seed of pond's networks (NEST's rng_seed is seed + 1)")
    ap.add_argument("--tools", default="pond-full,pond,nest",
                    help="any of pond-full (full scale), pond and nest (down-scaled)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    tools = args.tools.split(",")
    for name, v, ok in (("duration", args.duration, args.duration > 0), ("transient", args.transient,
                        args.transient >= 0), ("ref-duration", args.ref_duration, args.ref_duration > 0),
                        ("ref-scale", args.ref_scale, 0 < args.ref_scale <= 1), ("reps", args.reps, args.reps >= 1),
                        ("threads", args.threads, args.threads >= 1)):
        if not ok:
            ap.error(f"--{name} = {v} is not allowed")
    log = (lambda *a: None) if args.json else (lambda *a: print(*a, file=sys.stderr, flush=True))

    full = None
    if "pond-full" in tools:
        log(f"full scale: building, then {args.transient:g} s + {args.duration:g} s on {args.threads} threads")
        full = run_full(args)
    runners, skipped = {}, {}
    if "pond" in tools:
        runners["pond"] = pond_scaled_runner(args)
    if "nest" in tools:
        reason = available("nest")
        if reason:
            skipped["nest"] = reason
        else:
            runners["nest"] = nest_scaled_runner(args)
    log(f"scale {args.ref_scale:g}: {list(runners)} x {args.reps}, interleaved")
    runs = interleave(runners, args.reps, progress=not args.json)
    scaled = {}
    for tool, rs in runs.items():
        if "error" in rs[0]:
            scaled[tool] = rs[0]
            continue
        scaled[tool] = {"run_s_per_sim_s": summary([r["loop_s"] / args.ref_duration for r in rs]),
                        "build_s": summary([r["build_s"] for r in rs]), "rates_hz": rs[-1]["rates"],
                        "synapses": rs[-1]["synapses"], **({"plan": rs[-1]["plan"]} if "plan" in rs[-1] else {})}
    scaled.update({tool: {"skipped": why} for tool, why in skipped.items()})
    ratios = {}
    if "error" not in runs.get("pond", [{"error": 1}])[0] and "error" not in runs.get("nest", [{"error": 1}])[0]:
        ratios["nest/pond"] = ratio_summary([r["loop_s"] for r in runs["nest"]], [r["loop_s"] for r in runs["pond"]])

    report = {"model": "Potjans & Diesmann 2014 microcircuit (NEST 3 Potjans_2014 example conventions)",
              "machine": machine(), "threads": args.threads, "seed": args.seed,
              "transient_s": args.transient, "duration_s": args.duration, "full_scale": full,
              "scaled": {"scale": args.ref_scale, "k_scale": args.ref_scale, "duration_s": args.ref_duration,
                         "reps": args.reps, "tools": scaled},
              "ratios": ratios,
              "goals": {"microcircuit_rtf": goal(full["rtf"] if full else None, 3.0, higher_is_better=False),
                        "microcircuit_rates_within_10pct": goal(
                            None if full is None else bool(full["max_abs_rel_deviation"] <= 0.10), True)}}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print_report(report)
    return report


def print_report(report: dict) -> None:
    m = report["machine"]
    print(f"Potjans-Diesmann microcircuit; {m['cpu']}, {m['cores']} cores, {report['threads']} threads")
    full = report["full_scale"]
    if full:
        print(f"full scale: {full['neurons']:,} neurons, {full['synapses']:,} synapses, build {full['build_s']:.1f} s "
              f"(+ compile {full['compile_s']:.1f} s), peak RSS {full['peak_rss_gib']:.2f} GiB "
              f"({full['bytes_per_synapse']:.2f} B/synapse stored)")
        print(f"  {report['transient_s']:g} s transient, then {report['duration_s']:g} s in {full['run_wall_s']:.1f} s:"
              f" real-time factor {full['rtf']:.2f} (wall s per simulated s), {full['events_per_s']:.3g} events/s")
        print(f"  {'population':10s} {'pond Hz':>8s} {'NEST ref':>8s} {'dev':>7s}")
        for name, r in full["rates_hz"].items():
            dev = 100 * full["rel_deviation"][name]
            print(f"  {name:10s} {r:8.3f} {full['reference_hz'][name]:8.3f} {dev:+6.1f} %")
    sc = report["scaled"]
    print(f"scale {sc['scale']:g} (k_scale {sc['k_scale']:g}), {report['transient_s']:g} s + {sc['duration_s']:g} s, "
          f"{sc['reps']} interleaved repetitions")
    for tool, r in sc["tools"].items():
        if "run_s_per_sim_s" not in r:
            print(f"  {tool:6s} {r.get('skipped') or r.get('error')}")
            continue
        rates = " ".join(f"{v:.2f}" for v in r["rates_hz"].values())
        print(f"  {tool:6s} {fmt_summary(r['run_s_per_sim_s'])} s/sim-s, rates {rates} Hz")
    for key, rs in report["ratios"].items():
        print(f"ratio {key}: {fmt_summary(rs, 'x', 3)}")
    for name, g in report["goals"].items():
        print(f"goal {name}: {g['value']} (goal {g['goal']}) met={g['met']}")


if __name__ == "__main__":
    main()
