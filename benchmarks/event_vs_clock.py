"""Exact event-driven mode against the clock-driven mode: where sparse activity makes events cheaper than steps.

For each network size N (default 1e4, 1e5, 1e6 neurons) a network of iaf_psc_delta neurons, each with K = 50 random
outgoing synapses (0.1 mV, delay 1.5 ms: they deliver events but hardly change the activity), is driven one to one by
Poisson trains whose every spike fires its neuron (25 mV), so the population rate follows the drive's rate. For each
rate (default 0.1 to 30 Hz) both modes run the same network on one thread, repetitions interleaved (event, clock,
event, ...); the figure is seconds per simulated second and their ratio. The clock mode's cost grows with N × steps,
the event mode's with the number of spikes and synaptic events: the *crossover* is the rate below which the event
mode is faster (interpolated on log-log axes between the two measured rates around it).

Goals (``goals`` in the JSON): at 1e6 neurons and 0.1 Hz the event mode is at least 10x faster
(``speedup_1e6_0.1Hz``); the crossover at 1e5 neurons is at least 1 Hz (``crossover_1e5_hz``).

Usage::

    python benchmarks/event_vs_clock.py [--sizes 1e4 1e5 1e6] [--rates 0.1 0.3 1 3 10 30] [--reps 3] [--json]
"""
from __future__ import annotations

import argparse
import json
import math
import time

from _common import fmt_summary, goal, interleave, machine, ratio_summary, summary

K = 50  # outgoing synapses per neuron


def network(n: int, rate: float, seed: int = 1):
    from engine import Network, PoissonSource, Population, Projection, SpikeMonitor
    from engine.network.connectivity import FixedOutDegree, OneToOne

    net = Network(dt=0.1, seed=seed)
    net.add(Population("n", n, model="iaf_psc_delta", E_L=0.0, V_reset=0.0, V_th=20.0, V_init=(0.0, 10.0),
                       tau_m=20.0, t_ref=2.0),
            PoissonSource("drive", n, rate=rate), Projection("drive", "n", OneToOne(), weight=25.0, delay=1.0),
            Projection("n", "n", FixedOutDegree(K), weight=0.1, delay=1.5), SpikeMonitor("n"))
    return net


def runner(method: str, n: int, rate: float, duration_s: float, warm_ms: float = 50.0):
    """Build (untimed), compile, run past the start, then time ``duration_s`` of simulated time per call (spikes
    are recorded, not kept, in both modes)."""
    from engine import Simulator

    t0 = time.perf_counter()
    sim = Simulator(network(n, rate), n_jobs=1, method=method)
    sim.run(warm_ms, keep=False)
    build_s = time.perf_counter() - t0

    def run() -> dict:
        sim.run(duration_s * 1000.0, keep=False)
        st = sim.last_run
        return {"loop_s": st.wall_s, "spikes": st.spikes, "events": st.synaptic_events, "build_s": build_s}
    return run


def crossover(rates: list[float], ratios: list[float]) -> float | None:
    """The rate where event/clock time crosses 1 (log-log interpolation); None when it never does in range."""
    for (r0, q0), (r1, q1) in zip(zip(rates, ratios), zip(rates[1:], ratios[1:])):
        if q0 < 1.0 <= q1:
            f = (0.0 - math.log(q0)) / (math.log(q1) - math.log(q0))
            return math.exp(math.log(r0) + f * (math.log(r1) - math.log(r0)))
    return None


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=float, nargs="+", default=[1e4, 1e5, 1e6], help="neurons (default 1e4 1e5 1e6)")
    ap.add_argument("--rates", type=float, nargs="+", default=[0.1, 0.3, 1.0, 3.0, 10.0, 30.0],
                    help="drive and population rates in Hz (default 0.1 0.3 1 3 10 30)")
    ap.add_argument("--duration", type=float, default=None,
                    help="simulated seconds per repetition (default 2e4 / N, at least 0.05: 2 s at 1e4, 0.05 s at 1e6)")
    ap.add_argument("--reps", type=int, default=3, help="interleaved repetitions (default 3)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    results, crossings = {}, {}
    for n in (int(s) for s in args.sizes):
        duration = args.duration or max(0.05, min(2.0, 2e4 / n))
        rows = []
        for rate in sorted(args.rates):
            modes = {m: runner(m, n, rate, duration) for m in ("event", "clock")}
            runs = interleave(modes, args.reps, progress=not args.json)
            per = {m: summary([r["loop_s"] / duration for r in rs]) for m, rs in runs.items()}
            ratio = ratio_summary([r["loop_s"] for r in runs["event"]], [r["loop_s"] for r in runs["clock"]])
            rows.append({"rate_hz": rate, "measured_rate_hz": runs["event"][-1]["spikes"] / n / duration,
                         "events_per_sim_s": runs["event"][-1]["events"] / duration,
                         "event_s_per_sim_s": per["event"], "clock_s_per_sim_s": per["clock"],
                         "event_over_clock": ratio, "build_s": {m: rs[0]["build_s"] for m, rs in runs.items()}})
            if not args.json:
                print(f"N={n:.0e} {rate:5g} Hz: event {fmt_summary(per['event'], ' s/sim-s')}  "
                      f"clock {fmt_summary(per['clock'], ' s/sim-s')}  event/clock {fmt_summary(ratio, 'x', 3)}",
                      flush=True)
        results[f"{n:.0e}"] = {"duration_s": duration, "rows": rows}
        crossings[f"{n:.0e}"] = crossover([r["rate_hz"] for r in rows], [r["event_over_clock"]["median"] for r in rows])
    speedup = None
    for r in results.get("1e+06", {}).get("rows", []):
        if r["rate_hz"] == 0.1:
            speedup = 1.0 / r["event_over_clock"]["median"]
    report = {"model": f"iaf_psc_delta, one Poisson drive per neuron (every spike fires it), {K} outgoing synapses of "
                       "0.1 mV per neuron, delay 1.5 ms; one thread per mode",
              "reps": args.reps, "machine": machine(), "threads": {"event": 1, "clock": 1}, "sizes": results,
              "crossover_hz": crossings,
              "goals": {"speedup_1e6_0.1Hz": goal(speedup, 10.0),
                        "crossover_1e5_hz": goal(crossings.get("1e+05"), 1.0)}}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(f"crossover (event faster below): {crossings}; {report['machine']['cpu']}")
        for name, g in report["goals"].items():
            print(f"goal {name}: {g['value']} (goal >= {g['goal']}) met={g['met']}")
    return report


if __name__ == "__main__":
    main()
