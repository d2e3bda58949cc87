"""Brunel (2000) benchmark: 12,500 iaf_psc_delta neurons, 15.6 million synapses, regime AI, in pond and NEST.

The model is NEST's ``examples/brunel_delta_nest.py`` (N_E = 10,000, N_I = 2,500, C_E = 1000 and C_I = 250 fixed
in-degree, J = 0.1 mV, g = 5, D = 1.5 ms, eta = 2: a 20 kHz Poisson drive per neuron), as shipped in
``pond/examples/brunel.toml``. pond runs in this process on one thread and on two (one trial split over both
threads, exchanging spikes every minimum delay); NEST runs in child processes on two threads (and on one with
``nest-1thread``). Both record every spike. Each figure is the median of ``--reps`` repetitions interleaved in time,
with min and max: wall seconds per simulated second, synaptic events per second (spikes times out-degree, plus the
Poisson drive's events), spikes and mean rate.

Goals (``goals`` in the JSON): ``brunel_vs_nest`` >= 6 (both on two threads), ``brunel_2threads_vs_1`` >= 1.6,
``brunel_events_per_s`` >= 1e9 (pond on two threads).

Usage::

    python benchmarks/brunel.py [--duration 1] [--reps 5] [--tools pond,pond-2threads,nest] [--json]
"""
from __future__ import annotations

import argparse
import json
import textwrap
import time
from pathlib import Path

from _common import goal, machine, measure_tools, median_of, print_report, ratio_summary, run_child

EXAMPLE = Path(__file__).resolve().parents[1] / "pond" / "examples" / "brunel.toml"

NEST_CODE = textwrap.dedent("""
    import json, sys, time
    duration, seed = float(sys.argv[1]), int(sys.argv[2])
    import nest
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    threads = int(sys.argv[3])
    nest.SetKernelStatus({"resolution": 0.1, "local_num_threads": threads, "rng_seed": seed + 1,
                          "print_time": False})
    t0 = time.perf_counter()
    NE, NI, CE, CI, J, g, D = 10000, 2500, 1000, 250, 0.1, 5.0, 1.5
    params = {"C_m": 1.0, "tau_m": 20.0, "t_ref": 2.0, "E_L": 0.0, "V_reset": 0.0, "V_m": 0.0, "V_th": 20.0}
    exc = nest.Create("iaf_psc_delta", NE, params=params)
    inh = nest.Create("iaf_psc_delta", NI, params=params)
    noise = nest.Create("poisson_generator", params={"rate": 20000.0})
    rec = nest.Create("spike_recorder")
    nest.CopyModel("static_synapse", "excitatory", {"weight": J, "delay": D})
    nest.CopyModel("static_synapse", "inhibitory", {"weight": -g * J, "delay": D})
    nest.Connect(noise, exc, syn_spec="excitatory")
    nest.Connect(noise, inh, syn_spec="excitatory")
    nest.Connect(exc, exc + inh, {"rule": "fixed_indegree", "indegree": CE}, "excitatory")
    nest.Connect(inh, exc + inh, {"rule": "fixed_indegree", "indegree": CI}, "inhibitory")
    nest.Connect(exc + inh, rec)
    nest.Simulate(0.1)
    build_s = time.perf_counter() - t0
    n0 = rec.n_events
    t1 = time.perf_counter()
    nest.Simulate(duration * 1000.0)
    loop_s = time.perf_counter() - t1
    print(json.dumps({"build_s": build_s, "loop_s": loop_s, "spikes": int(rec.n_events - n0),
                      "synapses": int(nest.GetKernelStatus("num_connections"))}))
""")


def pond_runner(duration: float, threads: int):
    """Build the shipped example once (compilation not counted) and return a function that times one run."""
    from engine import Simulator
    from engine.modelfile import load_model

    net, _ = load_model(EXAMPLE)
    t0 = time.perf_counter()
    sim = Simulator(net, n_jobs=threads)
    sim.compile()
    sim.run(0.1)
    build_s = time.perf_counter() - t0
    drive = sum(sim.built.proj_slices[p.name][3] for p in net.projections if p.source.startswith("drive"))

    def run() -> dict:
        sim.run(duration * 1000.0, keep=False)
        st = sim.last_run
        return {"loop_s": st.wall_s, "spikes": st.spikes, "events_per_s": st.events_per_second, "build_s": build_s,
                "synapses": sim.built.n_synapses - drive, "plan": list(sim.last_plan),
                "bytes_per_synapse": sim.built.bytes_per_synapse()}
    return run


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=1.0, help="simulated seconds per repetition (default 1)")
    ap.add_argument("--reps", type=int, default=5, help="interleaved repetitions (default 5)")
    ap.add_argument("--seed", type=int, default=1, help="NEST's seed (pond's is in the model file)")
    ap.add_argument("--tools", default="pond,pond-2threads,nest",
                    help="any of pond, pond-2threads, nest (two threads), nest-1thread")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    makers = {"pond": lambda: pond_runner(args.duration, 1), "pond-2threads": lambda: pond_runner(args.duration, 2),
              "nest": lambda: (lambda: run_child([NEST_CODE, str(args.duration), str(args.seed), "2"],
                                                 timeout=3600, threads=2)),
              "nest-1thread": lambda: (lambda: run_child([NEST_CODE, str(args.duration), str(args.seed), "1"],
                                                         timeout=3600))}
    results, loops = measure_tools(makers, args.tools.split(","), args.reps, args.duration, 12500,
                                   progress=not args.json)
    ratios = {}
    for ref, fast in (("nest", "pond-2threads"), ("nest-1thread", "pond"), ("pond", "pond-2threads")):
        if ref in loops and fast in loops:
            ratios[f"{ref}/{fast}"] = ratio_summary(loops[ref], loops[fast])

    ev = results.get("pond-2threads", {}).get("events_per_s")
    report = {"model": "Brunel 2000 AI (NEST brunel_delta_nest.py)", "duration_s": args.duration, "neurons": 12500,
              "reps": args.reps, "machine": machine(),
              "threads": {"pond": 1, "pond-2threads": 2, "nest": 2, "nest-1thread": 1},
              "tools": results, "ratios": ratios,
              "goals": {"brunel_vs_nest": goal(median_of(ratios, "nest/pond-2threads"), 6.0),
                        "brunel_2threads_vs_1": goal(median_of(ratios, "pond/pond-2threads"), 1.6),
                        "brunel_events_per_s": goal(ev["median"] if ev else None, 1e9)}}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print_report("Brunel AI, 12,500 LIF", report, 12500)
    return report


if __name__ == "__main__":
    main()
