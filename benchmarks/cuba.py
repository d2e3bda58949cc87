"""CUBA benchmark: the Vogels–Abbott network of Brian2's ``examples/CUBA.py`` in pond, Brian2 and NEST, one job.

pond runs in this process, on one thread and on two (one trial: the network's neurons and synapses split over both
threads); Brian2 cpp_standalone (one thread), Brian2 runtime cython and NEST (``iaf_psc_exp``, one thread) run in
subprocesses, so device state and thread settings cannot leak between tools. Every tool builds the same model (4000
LIF, p = 0.02, dt = 0.1 ms) and simulates ``--duration`` seconds; each figure is the simulation loop's wall time per
simulated second, the median of ``--reps`` repetitions interleaved in time (pond, pond on two threads, Brian2,
NEST, pond, ...), with min and max. Brian2 cpp_standalone compiles once; its repetitions re-run the compiled
binary and read its own run time. pond's ratio to each tool is that tool's loop time over pond's, round by round.

Goals (``goals`` in the JSON): ``cuba_vs_brian2_cpp`` >= 4 (pond on one thread), ``cuba_2threads_vs_1`` >= 1.6,
``cuba_2threads_vs_brian2_cpp`` >= 6.

Usage::

    python benchmarks/cuba.py [--duration 2] [--reps 5] [--tools pond,pond-2threads,brian2-cpp,nest] [--json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import textwrap
import time

from _common import goal, machine, measure_tools, median_of, print_report, ratio_summary, run_child

BRIAN2_CODE = textwrap.dedent("""
    import json, sys, time
    from brian2 import *
    mode, duration, seed, workdir = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    if mode == "cpp":
        set_device("cpp_standalone", directory=workdir, build_on_run=False)
    else:
        prefs.codegen.target = "cython"
    seed_value = seed
    import numpy as np
    np.random.seed(seed_value)
    defaultclock.dt = 0.1 * ms
    t0 = time.perf_counter()
    # --- verbatim model of brian2/examples/CUBA.py ---
    taum = 20*ms
    taue = 5*ms
    taui = 10*ms
    Vt = -50*mV
    Vr = -60*mV
    El = -49*mV
    eqs = '''
    dv/dt  = (ge+gi-(v-El))/taum : volt (unless refractory)
    dge/dt = -ge/taue : volt
    dgi/dt = -gi/taui : volt
    '''
    P = NeuronGroup(4000, eqs, threshold='v>Vt', reset='v = Vr', refractory=5*ms, method='exact')
    P.v = 'Vr + rand() * (Vt - Vr)'
    P.ge = 0*mV
    P.gi = 0*mV
    we = (60*0.27/10)*mV
    wi = (-20*4.5/10)*mV
    Ce = Synapses(P, P, on_pre='ge += we')
    Ci = Synapses(P, P, on_pre='gi += wi')
    Ce.connect('i<3200', p=0.02)
    Ci.connect('i>=3200', p=0.02)
    s_mon = SpikeMonitor(P)
    # --- end of the example ---
    if mode == "cpp":
        run(duration * second)
        t1 = time.perf_counter()
        device.build(directory=workdir, compile=True, run=True)
        build_s = time.perf_counter() - t1  # includes the C++ compilation
        loop_s = device._last_run_time
        synapses = int(len(Ce) + len(Ci))
    else:
        net = Network(collect())
        net.run(0.1 * ms)  # compile the code objects (cached by cython) before timing
        build_s = time.perf_counter() - t0
        synapses = int(len(Ce) + len(Ci))
        t1 = time.perf_counter()
        net.run(duration * second)
        loop_s = time.perf_counter() - t1
    n = int(s_mon.num_spikes)
    print(json.dumps({"build_s": build_s, "loop_s": loop_s, "spikes": n, "synapses": synapses}))
""")

NEST_CODE = textwrap.dedent("""
    import json, sys, time
    duration, seed = float(sys.argv[1]), int(sys.argv[2])
    import nest
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": 0.1, "local_num_threads": 1, "rng_seed": seed + 1, "print_time": False})
    t0 = time.perf_counter()
    C, taum = 250.0, 20.0
    params = {"C_m": C, "tau_m": taum, "E_L": -49.0, "V_th": -50.0, "V_reset": -60.0, "t_ref": 5.0,
              "tau_syn_ex": 5.0, "tau_syn_in": 10.0, "I_e": 0.0}
    pop = nest.Create("iaf_psc_exp", 4000, params=params)
    pop.V_m = nest.random.uniform(-60.0, -50.0)
    conn = {"rule": "pairwise_bernoulli", "p": 0.02}
    nest.Connect(pop[:3200], pop, conn, {"weight": 1.62 * C / taum, "delay": 0.1})
    nest.Connect(pop[3200:], pop, conn, {"weight": -9.0 * C / taum, "delay": 0.1})
    rec = nest.Create("spike_recorder")
    nest.Connect(pop, rec)
    nest.Simulate(0.1)
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    nest.Simulate(duration * 1000.0)
    loop_s = time.perf_counter() - t1
    print(json.dumps({"build_s": build_s, "loop_s": loop_s, "spikes": int(rec.n_events),
                      "synapses": int(nest.GetKernelStatus("num_connections"))}))
""")


def pond_runner(duration: float, seed: int, threads: int):
    """Build CUBA in pond once (compilation not counted) and return a function that times one run of it."""
    from engine import Simulator
    from engine.network.library import cuba

    t0 = time.perf_counter()
    sim = Simulator(cuba(seed), n_jobs=threads)
    sim.run(0.1)
    build_s = time.perf_counter() - t0

    def run() -> dict:
        sim.run(duration * 1000.0, keep=False)
        st = sim.last_run
        return {"loop_s": st.wall_s, "spikes": st.spikes, "events_per_s": st.events_per_second,
                "build_s": build_s, "synapses": sim.built.n_synapses, "plan": list(sim.last_plan),
                "bytes_per_synapse": sim.built.bytes_per_synapse()}
    return run


POND_STARTUP_CODE = textwrap.dedent("""
    import json, time
    t0 = time.perf_counter()
    from engine import Simulator
    from engine.network.library import cuba
    sim = Simulator(cuba(1), n_jobs=1)
    sim.run(1.0)
    print(json.dumps({"startup_s": time.perf_counter() - t0}))
""")


def pond_compile_times() -> dict:
    """Import + build + first 1 ms of CUBA in a fresh process, with an empty Numba cache and then a warm one."""
    with tempfile.TemporaryDirectory() as cache:
        cold = run_child([POND_STARTUP_CODE], timeout=600, env={"NUMBA_CACHE_DIR": cache})["startup_s"]
        warm = run_child([POND_STARTUP_CODE], timeout=600, env={"NUMBA_CACHE_DIR": cache})["startup_s"]
    return {"first_call_s_cold_cache": cold, "first_call_s_cached": warm}


def brian2_runner(mode: str, duration: float, seed: int, workdir: str):
    """Brian2 in a child process. cpp_standalone builds (compiles) once, in ``workdir``; each later call re-runs the
    compiled binary and reads the loop time it reports. Runtime (cython) mode runs a fresh child each time."""
    first = {}

    def run() -> dict:
        if mode != "cpp":
            return run_child([BRIAN2_CODE, mode, str(duration), str(seed), workdir], timeout=3600)
        if not first:
            first.update(run_child([BRIAN2_CODE, mode, str(duration), str(seed), workdir], timeout=3600))
            return dict(first)
        subprocess.run(["./main"], cwd=workdir, check=True, capture_output=True, timeout=3600,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
        with open(os.path.join(workdir, "results", "last_run_info.txt")) as f:
            loop_s = float(f.read().split()[0])
        return dict(first, loop_s=loop_s)
    return run


def run_nest(duration: float, seed: int) -> dict:
    return run_child([NEST_CODE, str(duration), str(seed)], timeout=3600)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=2.0, help="simulated seconds per repetition (default 2)")
    ap.add_argument("--reps", type=int, default=5, help="interleaved repetitions (default 5)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tools", default="pond,pond-2threads,brian2-cpp,nest",
                    help="any of pond, pond-2threads, brian2-cpp, brian2-cython, nest")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--no-compile-times", action="store_true",
                    help="skip measuring pond's first-call compile time (cold and cached Numba cache)")
    args = ap.parse_args(argv)
    tools = args.tools.split(",")
    report = {"model": "CUBA (Vogels & Abbott 2005; brian2/examples/CUBA.py)", "duration_s": args.duration,
              "neurons": 4000, "reps": args.reps, "machine": machine(),
              "threads": {"pond": 1, "pond-2threads": 2, "brian2-cpp": 1, "brian2-cython": 1, "nest": 1}}
    with tempfile.TemporaryDirectory() as workdir:
        makers = {"pond": lambda: pond_runner(args.duration, args.seed, 1),
                  "pond-2threads": lambda: pond_runner(args.duration, args.seed, 2),
                  "brian2-cpp": lambda: brian2_runner("cpp", args.duration, args.seed, workdir),
                  "brian2-cython": lambda: brian2_runner("cython", args.duration, args.seed, workdir),
                  "nest": lambda: (lambda: run_nest(args.duration, args.seed))}
        results, loops = measure_tools(makers, tools, args.reps, args.duration, 4000, progress=not args.json)
    ratios = {}
    for fast in ("pond", "pond-2threads"):
        for ref in loops:
            if ref != fast and fast in loops and not (fast == "pond" and ref == "pond-2threads"):
                ratios[f"{ref}/{fast}"] = ratio_summary(loops[ref], loops[fast])
    report["tools"] = results
    report["ratios"] = ratios
    if "pond" in results and not args.no_compile_times and "error" not in results["pond"]:
        results["pond"].update(pond_compile_times())
    report["goals"] = {"cuba_vs_brian2_cpp": goal(median_of(ratios, "brian2-cpp/pond"), 4.0),
                       "cuba_2threads_vs_1": goal(median_of(ratios, "pond/pond-2threads"), 1.6),
                       "cuba_2threads_vs_brian2_cpp": goal(median_of(ratios, "brian2-cpp/pond-2threads"), 6.0)}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print_report("CUBA, 4000 LIF", report, 4000)
        pond = results.get("pond", {})
        if "first_call_s_cold_cache" in pond:
            print(f"pond first call (import, build, compile, 1 ms): {pond['first_call_s_cold_cache']:.1f} s with an "
                  f"empty Numba cache, {pond['first_call_s_cached']:.2f} s cached")
    return report


if __name__ == "__main__":
    main()
