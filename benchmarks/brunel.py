"""Brunel (2000) benchmark: 12,500 iaf_psc_delta neurons, 15.6 million synapses, regime AI, in pond and NEST.

The model is NEST's ``examples/brunel_delta_nest.py`` (N_E = 10,000, N_I = 2,500, C_E = 1000 and C_I = 250 fixed
in-degree, J = 0.1 mV, g = 5, D = 1.5 ms, eta = 2: a 20 kHz Poisson drive per neuron), as shipped in
``pond/examples/brunel.toml``. pond runs in this process on one thread; NEST runs in a child process with one
thread. Both record every spike. The figures: build seconds, wall seconds per simulated second, synaptic events per
second (spikes times out-degree, plus the Poisson drive's events), spikes and mean rate.

Usage::

    python benchmarks/brunel.py [--duration 1] [--tools pond,nest] [--json]
"""
from __future__ import annotations

import argparse
import json
import textwrap
import time
from pathlib import Path

from _common import compare, run_child

EXAMPLE = Path(__file__).resolve().parents[1] / "pond" / "examples" / "brunel.toml"

NEST_CODE = textwrap.dedent("""
    import json, sys, time
    duration, seed = float(sys.argv[1]), int(sys.argv[2])
    import nest
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": 0.1, "local_num_threads": 1, "rng_seed": seed + 1, "print_time": False})
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


def run_pond(duration: float) -> dict:
    """Build the shipped example and run it on one thread (compilation is not counted in the loop)."""
    from engine import Simulator
    from engine.modelfile import load_model

    net, _ = load_model(EXAMPLE)
    t0 = time.perf_counter()
    sim = Simulator(net, n_jobs=1)
    sim.compile()
    sim.run(0.1)
    build_s = time.perf_counter() - t0
    sim.run(duration * 1000.0)
    st = sim.last_run
    drive = sum(sim.built.proj_slices[p.name][3] for p in net.projections if p.source.startswith("drive"))
    return {"build_s": build_s, "loop_s": st.wall_s, "spikes": st.spikes, "synapses": sim.built.n_synapses - drive,
            "bytes_per_synapse": sim.built.bytes_per_synapse(), "events_per_s": st.events_per_second}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=1.0, help="simulated seconds (default 1)")
    ap.add_argument("--seed", type=int, default=1, help="NEST's seed (pond's is in the model file)")
    ap.add_argument("--tools", default="pond,nest")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    runners = {"pond": lambda: run_pond(args.duration),
               "nest": lambda: run_child([NEST_CODE, str(args.duration), str(args.seed)], timeout=3600)}
    results = compare(runners, args.tools.split(","), args.duration, 12500)
    report = {"model": "Brunel 2000 AI (NEST brunel_delta_nest.py)", "duration_s": args.duration, "neurons": 12500,
              "tools": results}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(f"Brunel AI, 12,500 LIF, {args.duration:g} s simulated, one thread each")
        print(f"{'tool':6s} {'build s':>8s} {'s/sim-s':>9s} {'spikes':>9s} {'rate Hz':>8s} {'synapses':>11s}")
        for tool, r in results.items():
            if "run_s_per_sim_s" in r:
                print(f"{tool:6s} {r['build_s']:8.2f} {r['run_s_per_sim_s']:9.3f} {r['spikes']:9d} {r['rate_hz']:8.2f} "
                      f"{r['synapses']:11,d}")
            else:
                print(f"{tool:6s} {r.get('skipped') or r.get('error')}")
        for tool, ratio in results.get("pond", {}).get("speedup", {}).items():
            print(f"pond is {ratio:.1f}x faster than {tool}")
    return report


if __name__ == "__main__":
    main()
