"""Short-term plasticity overhead: the same random network with Tsodyks–Markram synapses and with static ones.

A network of 10,000 iaf_psc_exp neurons (80 % excitatory, connection probability 2 %, 2 million synapses, one
delay per projection) driven by Poisson input at a few Hz; in the dynamic variant every excitatory synapse is a
Tsodyks–Markram synapse with U, tau_rec and tau_fac drawn per synapse (Maass et al. 2002's E→E means, SD 50 %).
Weights are scaled so both variants fire at similar rates. Both run on one thread in this process, repetitions
interleaved; the figure is the run-time ratio dynamic / static per simulated second (and per synaptic event).

Goal (``goals`` in the JSON): ``stp_overhead`` <= 1.3.

Usage::

    python benchmarks/stp.py [--duration 1] [--reps 5] [--json]
"""
from __future__ import annotations

import argparse
import json
import time

from _common import fmt_summary, goal, interleave, machine, ratio_summary, summary


def network(dynamic: bool, seed: int = 1):
    from engine import Network, PoissonSource, Population, Projection
    from engine.network.connectivity import FixedProbability
    from engine.network.distributions import Normal
    from engine.models.synapses import StaticSynapse, TsodyksMarkram

    kw = dict(tau_m=20.0, V_th=-50.0, V_reset=-60.0, E_L=-60.0, t_ref=2.0, tau_syn_ex=5.0, tau_syn_in=10.0,
              V_init=(-60.0, -50.0))
    syn = TsodyksMarkram(U=Normal(0.5, 0.25), tau_rec=Normal(1100.0, 550.0), tau_fac=Normal(50.0, 25.0)) \
        if dynamic else StaticSynapse()
    w_e = 40.0 if dynamic else 15.0  # a depressed dynamic synapse delivers about a third of its weight
    net = Network(dt=0.1, seed=seed)
    net.add(Population("exc", 8000, **kw), Population("inh", 2000, **kw), PoissonSource("drive", 1000, rate=10.0),
            Projection("drive", "exc", FixedProbability(0.05), weight=60.0, delay=1.0),
            Projection("drive", "inh", FixedProbability(0.05), weight=60.0, delay=1.0),
            Projection("exc", "exc", FixedProbability(0.02), weight=w_e, delay=1.5, synapse=syn),
            Projection("exc", "inh", FixedProbability(0.02), weight=w_e, delay=1.5, synapse=syn),
            Projection("inh", "exc", FixedProbability(0.02), weight=-60.0, delay=1.5),
            Projection("inh", "inh", FixedProbability(0.02), weight=-60.0, delay=1.5))
    return net


def runner(dynamic: bool, duration: float):
    from engine import Simulator

    t0 = time.perf_counter()
    sim = Simulator(network(dynamic), n_jobs=1)
    sim.compile()
    sim.run(100.0)  # past the onset transient
    build_s = time.perf_counter() - t0

    def run() -> dict:
        sim.run(duration * 1000.0, keep=False)
        st = sim.last_run
        return {"loop_s": st.wall_s, "spikes": st.spikes, "events": st.synaptic_events, "build_s": build_s,
                "synapses": sim.built.n_synapses}
    return run


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=1.0, help="simulated seconds per repetition (default 1)")
    ap.add_argument("--reps", type=int, default=5, help="interleaved repetitions (default 5)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    runs = interleave({"static": runner(False, args.duration), "dynamic": runner(True, args.duration)}, args.reps,
                      progress=not args.json)
    results = {}
    for name, rs in runs.items():
        results[name] = {"run_s_per_sim_s": summary([r["loop_s"] / args.duration for r in rs]),
                         "ns_per_event": summary([r["loop_s"] / max(r["events"], 1) * 1e9 for r in rs]),
                         "rate_hz": rs[-1]["spikes"] / 10_000 / args.duration, "synapses": rs[0]["synapses"],
                         "build_s": rs[0]["build_s"]}
    per_time = ratio_summary([r["loop_s"] for r in runs["dynamic"]], [r["loop_s"] for r in runs["static"]])
    per_event = ratio_summary([r["loop_s"] / max(r["events"], 1) for r in runs["dynamic"]],
                              [r["loop_s"] / max(r["events"], 1) for r in runs["static"]])
    report = {"model": "random network, 10,000 iaf_psc_exp, p = 0.02; Tsodyks-Markram vs static E synapses",
              "duration_s": args.duration, "reps": args.reps, "machine": machine(), "threads": {"pond": 1},
              "tools": results, "ratios": {"dynamic/static": per_time, "dynamic/static per event": per_event},
              "goals": {"stp_overhead": goal(per_time["median"], 1.3, higher_is_better=False)}}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        m = report["machine"]
        print(f"STP overhead, {args.reps} interleaved repetitions of {args.duration:g} s; {m['cpu']}")
        for name, r in results.items():
            print(f"{name:8s} {fmt_summary(r['run_s_per_sim_s'], ' s/sim-s')}  "
                  f"{fmt_summary(r['ns_per_event'], ' ns/event')}  rate {r['rate_hz']:.2f} Hz")
        print(f"dynamic / static: {fmt_summary(per_time, 'x', 3)} per simulated second, "
              f"{fmt_summary(per_event, 'x', 3)} per event")
        g = report["goals"]["stp_overhead"]
        print(f"goal stp_overhead: {g['value']:.3g} (goal <= {g['goal']}) met={g['met']}")
    return report


if __name__ == "__main__":
    main()
