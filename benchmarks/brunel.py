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

With ``--regimes`` it runs Brunel's four regimes instead (Brunel 2000, Fig. 8): the same network with
V_reset = 10 mV in SR (g = 3, nu_ext/nu_thr = 2), AI (5, 2), SI fast (6, 4) and SI slow (4.5, 0.9), in pond and in
NEST (two threads each), and reports per regime and tool the mean rate, the CV of inter-spike intervals, Golomb's
synchrony chi^2 and the population rate's main frequency (see :func:`spike_stats`), as medians over ``--seeds``
seeds (pond's network seed and NEST's rng_seed: the same distributions, not the same draws). Initial potentials are
uniform on [0, theta) mV in both tools; the first ``--transient`` ms (200) are discarded and the next ``--duration``
s (1) analysed. Checks (``goals``): per regime, pond's class (:func:`classify`) equals NEST's, and pond's rate, CV,
chi^2 (and, in the SI states, the main frequency) lie within NEST's seed range widened by ``TOLERANCES``. chi^2 on
1 ms bins is about 0.25 in SR, 0.01 in AI and 0.02-0.05 in the SI states, whose neurons skip most cycles of the
population oscillation: by chi^2 and CV alone the SI states read as AI, and their main frequency (about 180 and
20 Hz) is what tells them apart. In this model the AI state's CV is about 0.43, not 1: its mean input lies just above
threshold.

Usage::

    python benchmarks/brunel.py [--duration 1] [--reps 5] [--tools pond,pond-2threads,nest] [--json]
    python benchmarks/brunel.py --regimes [SR,AI,SI-fast,SI-slow] [--duration 1] [--seeds 2] [--json]
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

import numpy as np

from _common import available, goal, machine, measure_tools, median_of, print_report, ratio_summary, run_child, summary

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
    from engine.io.modelfile import load_model

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


# ---------------------------------------------------------------------------------------------- Brunel's regimes
# Brunel N (2000) Dynamics of sparsely connected networks of excitatory and inhibitory spiking neurons. J Comput
# Neurosci 8:183-208, Fig. 8. g is the relative inhibitory weight, eta = nu_ext / nu_thr the external drive.
REGIMES = {"SR": (3.0, 2.0), "AI": (5.0, 2.0), "SI-fast": (6.0, 4.0), "SI-slow": (4.5, 0.9)}
# N_E, N_I, C_E = eps N_E, C_I = eps N_I (eps = 0.1), J (mV), D (ms), theta, V_r (mV), tau, tau_rp (ms), dt (ms)
REGIME_MODEL = {"n_e": 10000, "n_i": 2500, "c_e": 1000, "c_i": 250, "j": 0.1, "delay": 1.5, "theta": 20.0,
                "v_reset": 10.0, "tau_m": 20.0, "t_ref": 2.0, "dt": 0.1}
# Initial membrane potentials, in pond and NEST alike: uniform on [V_LOW, theta) mV, drawn per neuron.
V_LOW = 0.0
# Classification thresholds (on the figures of spike_stats with 1 ms bins): synchronous when chi^2 >= CHI2_SYNC,
# regular when CV < CV_REGULAR.
CHI2_SYNC, CV_REGULAR = 0.1, 0.2


def nu_thr(c_e: int, j: float, theta: float, tau_m: float) -> float:
    """The external rate (Hz) per synapse that brings the mean free membrane potential to threshold:
    theta / (J C_E tau)."""
    return theta / (j * c_e * tau_m) * 1000.0


def _model(model: dict) -> dict:
    """REGIME_MODEL with the given entries replaced (a size, an in-degree, ...); unknown names are refused."""
    unknown = sorted(set(model) - set(REGIME_MODEL))
    if unknown:
        raise TypeError(f"unknown model parameters {unknown}; choose from {sorted(REGIME_MODEL)}")
    return dict(REGIME_MODEL, **model)


def regime_network(g: float, eta: float, seed: int, **model):
    """Brunel's network as a pond :class:`engine.Network`, with REGIME_MODEL's parameters unless ``model`` replaces
    some: ``exc`` (n_e) and ``inh`` (n_i) iaf_psc_delta neurons (E_L = 0, C_m = 1, V uniform on [V_LOW, theta)),
    fixed in-degree c_e from ``exc`` and c_i from ``inh`` onto every neuron (weights j and -g j mV, delay
    ``delay``), and one independent Poisson train of rate eta nu_thr c_e per neuron (weight j), as one_to_one sources
    ``drive_exc`` and ``drive_inh``. Every spike of ``exc`` and ``inh`` is recorded."""
    from engine import Network, PoissonSource, Population, Projection, SpikeMonitor
    from engine.network.connectivity import FixedInDegree, OneToOne

    m = _model(model)
    n_e, n_i, c_e, c_i, j, delay, theta = (m[k] for k in ("n_e", "n_i", "c_e", "c_i", "j", "delay", "theta"))
    rate = eta * nu_thr(c_e, j, theta, m["tau_m"]) * c_e
    params = dict(model="iaf_psc_delta", tau_m=m["tau_m"], C_m=1.0, E_L=0.0, V_th=theta, V_reset=m["v_reset"],
                  t_ref=m["t_ref"], V_init=(V_LOW, theta))
    net = Network(dt=m["dt"], seed=seed)
    net.add(Population("exc", n_e, **params), Population("inh", n_i, **params),
            PoissonSource("drive_exc", n_e, rate=rate), PoissonSource("drive_inh", n_i, rate=rate))
    for post in ("exc", "inh"):
        net.add(Projection(f"drive_{post}", post, OneToOne(), weight=j, delay=delay),
                Projection("exc", post, FixedInDegree(c_e), weight=j, delay=delay),
                Projection("inh", post, FixedInDegree(c_i), weight=-g * j, delay=delay))
    net.add(SpikeMonitor("exc"), SpikeMonitor("inh"))
    return net


def run_pond_regime(g: float, eta: float, seed: int, t_ms: float, threads: int | None = 2, **model) -> dict:
    """Simulate :func:`regime_network` for ``t_ms``; spike times (ms) and neuron ids (exc 0..n_e-1, then inh)."""
    from engine import Simulator

    t0 = time.perf_counter()
    sim = Simulator(regime_network(g, eta, seed, **model), n_jobs=threads)
    sim.compile()
    build_s = time.perf_counter() - t0
    sim.run(t_ms)
    te, ie = sim.spikes("exc")
    ti, ii = sim.spikes("inh")
    n_e = _model(model)["n_e"]
    return {"times": np.concatenate([te, ti]), "ids": np.concatenate([ie, ii + n_e]), "build_s": build_s,
            "run_s": sim.last_run.wall_s}


NEST_REGIME_CODE = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    p = json.loads(sys.argv[1])
    import nest
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": p["dt"], "local_num_threads": p["threads"], "rng_seed": p["seed"],
                          "print_time": False})
    t0 = time.perf_counter()
    rate = p["eta"] * p["theta"] / (p["j"] * p["c_e"] * p["tau_m"]) * 1000.0 * p["c_e"]
    params = {"C_m": 1.0, "tau_m": p["tau_m"], "t_ref": p["t_ref"], "E_L": 0.0, "V_reset": p["v_reset"],
              "V_th": p["theta"]}
    pop = nest.Create("iaf_psc_delta", p["n_e"] + p["n_i"], params=params)
    pop.V_m = nest.random.uniform(p["v_low"], p["theta"])
    exc, inh = pop[:p["n_e"]], pop[p["n_e"]:]
    noise = nest.Create("poisson_generator", params={"rate": rate})   # an independent train for every target
    rec = nest.Create("spike_recorder")
    nest.Connect(noise, pop, syn_spec={"weight": p["j"], "delay": p["delay"]})
    nest.Connect(exc, pop, {"rule": "fixed_indegree", "indegree": p["c_e"]}, {"weight": p["j"], "delay": p["delay"]})
    nest.Connect(inh, pop, {"rule": "fixed_indegree", "indegree": p["c_i"]},
                 {"weight": -p["g"] * p["j"], "delay": p["delay"]})
    nest.Connect(pop, rec)
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    nest.Simulate(p["t_ms"])
    run_s = time.perf_counter() - t1
    ev = rec.events
    np.savez(p["out"], times=np.asarray(ev["times"], dtype=np.float64),
             ids=np.asarray(ev["senders"], dtype=np.int64) - pop[0].global_id)
    print(json.dumps({"build_s": build_s, "run_s": run_s}))
""")


def run_nest_regime(g: float, eta: float, seed: int, t_ms: float, threads: int = 2, **model) -> dict:
    """The same network in NEST, in a child process (NEST and Numba's OpenMP do not share a process); same
    return value as :func:`run_pond_regime`."""
    p = dict(_model(model), g=g, eta=eta, seed=seed, t_ms=t_ms, threads=threads, v_low=V_LOW)
    fd, path = tempfile.mkstemp(suffix=".npz")
    os.close(fd)
    try:
        p["out"] = path
        res = run_child([NEST_REGIME_CODE, json.dumps(p)], timeout=3600, threads=threads)
        with np.load(path) as f:
            return {"times": f["times"], "ids": f["ids"], **res}
    finally:
        os.unlink(path)


def spike_stats(times: np.ndarray, ids: np.ndarray, n: int, t_start: float, t_stop: float, bin_ms: float = 1.0,
                min_spikes: int = 3) -> dict:
    r"""Rate, ISI irregularity and synchrony of ``n`` neurons' spikes in the window ``[t_start, t_stop)`` (ms).

    - ``rate_hz``: spikes in the window / n / window length, every neuron counted (silent ones too).
    - ``cv``: the coefficient of variation of inter-spike intervals, std/mean with the sample standard deviation
      (ddof = 1), per neuron with at least ``min_spikes`` spikes in the window, then averaged over those neurons
      (``cv_neurons`` of them). Intervals that cross the window's edges are not seen, so at low rates (a few spikes
      per window) the CV is biased low; compare tools on the same window.
    - ``chi2``: Golomb's synchrony measure :math:`\chi^2` (Golomb 2007, Scholarpedia 2:1347) on spike counts in bins
      of ``bin_ms``: with :math:`n_i(t)` the count of neuron i in bin t and :math:`\bar n(t) = \frac1n \sum_i
      n_i(t)` the population's mean count,

      .. math:: \chi^2 = \frac{\mathrm{Var}_t\,\bar n(t)}{\frac1n \sum_i \mathrm{Var}_t\, n_i(t)}

      (variances over the bins, ddof = 0; the mean over all n neurons). It is 1 when all neurons fire alike and
      about 1/n for independent neurons; its square root is Golomb's :math:`\chi`. It depends on the bin: a
      population oscillation faster than the bin averages out.
    - ``osc_hz``: the frequency of the largest peak of the periodogram of the population count in 0.5 ms bins (the
      mean removed), smoothed by a Gaussian of sd 0.5 ms (the power times exp(-(2 pi f 0.5 ms)^2)), between
      1/window and 1000 Hz: the population's main oscillation frequency (noise where there is none).

    Vectorised: sorts the spikes once by (neuron, time); no loop over spikes or neurons.
    """
    times = np.asarray(times, dtype=np.float64)
    ids = np.asarray(ids, dtype=np.int64)
    keep = (times >= t_start) & (times < t_stop)
    t, i = times[keep], ids[keep]
    length = t_stop - t_start
    order = np.lexsort((t, i))
    t, i = t[order], i[order]
    counts = np.bincount(i, minlength=n)
    # CV of ISIs: consecutive spikes of one neuron
    same = i[1:] == i[:-1]
    isi, owner = np.diff(t)[same], i[1:][same]
    k = counts - 1                                                        # intervals per neuron
    ok = counts >= max(min_spikes, 3)
    mean = np.bincount(owner, weights=isi, minlength=n)[ok] / k[ok]
    full_mean = np.zeros(n)
    full_mean[ok] = mean
    dev = isi - full_mean[owner]
    var = np.bincount(owner, weights=dev * dev, minlength=n)[ok] / (k[ok] - 1)
    cv = np.sqrt(var) / mean
    # chi^2 on binned counts
    nbins = int(round(length / bin_ms))
    b = np.minimum(((t - t_start) / bin_ms).astype(np.int64), nbins - 1)
    pop = np.bincount(b, minlength=nbins) / n
    key, c = np.unique(i * nbins + b, return_counts=True)                # (neuron, bin) pairs with spikes
    sumsq = np.bincount(key // nbins, weights=c.astype(np.float64) ** 2, minlength=n)
    mu = counts / nbins
    single = np.mean(sumsq / nbins - mu * mu)
    chi2 = float(pop.var() / single) if single > 0 else float("nan")
    # main frequency of the population count, smoothed (a Gaussian of sd 0.5 ms) so that the harmonics of
    # pulse-like activity do not outweigh its fundamental
    fine = 0.5
    nfine = int(round(length / fine))
    x = np.bincount(np.minimum(((t - t_start) / fine).astype(np.int64), nfine - 1), minlength=nfine).astype(float)
    freq = np.fft.rfftfreq(nfine, fine / 1000.0)
    power = np.abs(np.fft.rfft(x - x.mean())) ** 2 * np.exp(-(2 * np.pi * freq * 0.5e-3) ** 2)
    band = (freq > 0) & (freq <= 1000.0)
    osc = float(freq[band][np.argmax(power[band])]) if t.size else float("nan")
    return {"rate_hz": float(t.size / n / (length / 1000.0)), "cv": float(cv.mean()) if cv.size else float("nan"),
            "cv_neurons": int(ok.sum()), "chi2": chi2, "osc_hz": osc}


def classify(cv: float, chi2: float) -> str:
    """Brunel's labels from irregularity and synchrony: S(ynchronous) when chi2 >= CHI2_SYNC else A(synchronous),
    then R(egular) when cv < CV_REGULAR else I(rregular): "SR", "SI", "AR" or "AI"."""
    return ("S" if chi2 >= CHI2_SYNC else "A") + ("R" if cv < CV_REGULAR else "I")


def _tool_summary(runs: list[dict]) -> dict:
    """One tool's figures over seeds: median, min and max of each, the class of the medians, and every run."""
    out = {key: summary([r[key] for r in runs]) for key in ("rate_hz", "cv", "chi2", "osc_hz")}
    out["class"] = classify(out["cv"]["median"], out["chi2"]["median"])
    out["run_s"] = summary([r["run_s"] for r in runs])
    out["seeds"] = runs
    return out


def _within(value: float, ref: dict, rel: float = 0.0, absolute: float = 0.0) -> dict:
    """A check that ``value`` lies in the reference's seed range [min, max] widened on each side by the largest of
    its width, ``rel`` times its median and ``absolute``."""
    pad = max(ref["max"] - ref["min"], rel * abs(ref["median"]), absolute)
    lo, hi = ref["min"] - pad, ref["max"] + pad
    return {"value": value, "goal": [lo, hi], "met": bool(lo <= value <= hi)}


# How far pond's median may lie outside NEST's seed range (see _within): rate 5 %, CV 0.05, chi^2 25 % or 0.002,
# main frequency 10 % or 5 Hz.
TOLERANCES = {"rate_hz": {"rel": 0.05}, "cv": {"absolute": 0.05}, "chi2": {"rel": 0.25, "absolute": 0.002},
              "osc_hz": {"rel": 0.1, "absolute": 5.0}}


def regime_goals(regimes: dict) -> dict:
    """Checks of pond against NEST per regime: the same class, and rate, CV, chi^2 (and, in the oscillating regimes,
    the main frequency) within NEST's seed range plus the tolerances of TOLERANCES."""
    goals = {}
    for name, r in regimes.items():
        pond, nest = r.get("pond", {}), r.get("nest", {})
        if "class" not in pond or "class" not in nest:
            continue
        goals[f"{name}_class"] = {"value": pond["class"], "goal": nest["class"], "met": pond["class"] == nest["class"]}
        keys = ("rate_hz", "cv", "chi2") + (("osc_hz",) if name.startswith("SI") else ())
        for key in keys:
            goals[f"{name}_{key}"] = _within(pond[key]["median"], nest[key], **TOLERANCES[key])
    return goals


def regimes_main(args) -> dict:
    """``--regimes``: each regime in pond and NEST over ``--seeds`` seeds; the report (see the module docstring)."""
    names = [r.strip() for r in args.regimes.split(",") if r.strip()]
    unknown = [r for r in names if r not in REGIMES]
    if unknown:
        raise SystemExit(f"--regimes: unknown {unknown}; choose from {list(REGIMES)}")
    tools = [t for t in ("pond", "nest") if any(x.startswith(t) for x in args.tools.split(","))]
    seeds = list(range(args.seed, args.seed + args.seeds))
    t_ms = args.transient + args.duration * 1000.0
    m = REGIME_MODEL
    n = m["n_e"] + m["n_i"]
    runners = {"pond": run_pond_regime, "nest": run_nest_regime}
    regimes = {}
    for name in names:
        g, eta = REGIMES[name]
        nu_ext = eta * nu_thr(m["c_e"], m["j"], m["theta"], m["tau_m"])
        entry = {"g": g, "eta": eta, "nu_ext_hz": nu_ext, "drive_hz": nu_ext * m["c_e"],
                 "expected_class": name.split("-")[0]}
        for tool in tools:
            reason = None if tool == "pond" else available(tool)
            if reason:
                entry[tool] = {"skipped": reason}
                continue
            runs = []
            try:
                for seed in seeds:
                    res = runners[tool](g, eta, seed, t_ms, args.threads)
                    st = spike_stats(res["times"], res["ids"], n, args.transient, t_ms, args.bin_ms)
                    runs.append(dict(st, seed=seed, build_s=res["build_s"], run_s=res["run_s"]))
                    if not args.json:
                        print(f"  {name} {tool} seed {seed}: {st['rate_hz']:.2f} Hz, CV {st['cv']:.3f}, "
                              f"chi2 {st['chi2']:.4f}, {res['run_s']:.1f} s", file=sys.stderr, flush=True)
            except Exception as exc:  # a failing reference must not hide pond's figures
                entry[tool] = {"error": f"{type(exc).__name__}: {exc}"}
                continue
            entry[tool] = _tool_summary(runs)
        regimes[name] = entry
    return {"model": "Brunel 2000 regimes (Fig. 8), iaf_psc_delta, V_reset 10 mV", "parameters": dict(m),
            "initial_V": f"uniform on [{V_LOW:g}, {m['theta']:g}) mV per neuron, in both tools",
            "window_ms": [args.transient, t_ms], "bin_ms": args.bin_ms, "cv_min_spikes": 3, "seeds": seeds,
            "threads": args.threads, "thresholds": {"chi2_sync": CHI2_SYNC, "cv_regular": CV_REGULAR},
            "tolerances": TOLERANCES, "machine": machine(), "regimes": regimes, "goals": regime_goals(regimes)}


def print_regimes(report: dict) -> None:
    """The human-readable form of a ``--regimes`` report: one row per regime and tool (medians over seeds, with the
    seed range of the rate), then the checks."""
    m = report["machine"]
    lo, hi = report["window_ms"]
    print(f"Brunel's regimes, N = {report['parameters']['n_e'] + report['parameters']['n_i']}, spikes in "
          f"[{lo:g}, {hi:g}) ms, {len(report['seeds'])} seed(s), chi^2 on {report['bin_ms']:g} ms bins, "
          f"{report['threads']} threads; {m['cpu']}, {m['cores']} cores")
    print(f"{'regime':8s} {'g':>4s} {'eta':>4s} {'tool':5s} {'rate Hz [min, max]':>25s} {'CV':>6s} {'chi2':>7s} "
          f"{'osc Hz':>7s} {'class':>5s} {'run s':>6s}  (medians over seeds; run s per {hi / 1000:g} s simulated)")
    for name, r in report["regimes"].items():
        for tool in ("pond", "nest"):
            t = r.get(tool)
            if t is None:
                continue
            head = f"{name:8s} {r['g']:4g} {r['eta']:4g} {tool:5s}"
            if "class" not in t:
                print(f"{head} {t.get('skipped') or t.get('error')}")
                continue
            rate = t["rate_hz"]
            rate_s = f"{rate['median']:.2f} [{rate['min']:.2f}, {rate['max']:.2f}]"
            print(f"{head} {rate_s:>25s} {t['cv']['median']:6.3f} {t['chi2']['median']:7.4f} "
                  f"{t['osc_hz']['median']:7.0f} {t['class']:>5s} {t['run_s']['median']:6.1f}")
    for name, g in report["goals"].items():
        value = g["value"] if isinstance(g["value"], str) else f"{g['value']:.4g}"
        target = g["goal"] if isinstance(g["goal"], str) else "[" + ", ".join(f"{x:.4g}" for x in g["goal"]) + "]"
        print(f"check {name}: {value} (NEST {target}) met={g['met']}")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=1.0, help="simulated seconds per repetition (default 1)")
    ap.add_argument("--reps", type=int, default=5, help="interleaved repetitions (default 5)")
    ap.add_argument("--seed", type=int, default=1,
                    help="NEST's seed (pond's is in the model file); with --regimes the first seed of both")
    ap.add_argument("--tools", default="pond,pond-2threads,nest",
                    help="any of pond, pond-2threads, nest (two threads), nest-1thread")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--regimes", nargs="?", const=",".join(REGIMES), default=None,
                    help=f"run Brunel's regimes instead (a comma-separated subset of {','.join(REGIMES)}; default all)")
    ap.add_argument("--seeds", type=int, default=2,
                    help="--regimes: seeds per regime and tool, from --seed (default 2)")
    ap.add_argument("--transient", type=float, default=200.0, help="--regimes: ms discarded first (default 200)")
    ap.add_argument("--bin-ms", type=float, default=1.0, help="--regimes: bin of the chi^2 synchrony (default 1 ms)")
    ap.add_argument("--threads", type=int, default=2, help="--regimes: threads of pond and NEST (default 2)")
    args = ap.parse_args(argv)
    if args.regimes is not None:
        report = regimes_main(args)
        if args.json:
            print(json.dumps(report, indent=1))
        else:
            print_regimes(report)
        return report
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
