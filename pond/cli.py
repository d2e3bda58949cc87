"""The ``pond`` command line: ``pond run|info|plot|bench|demo``.

Errors exit with a non-zero status and one line on stderr (``pond: error: ...``); ``--debug`` shows the traceback.
Every option and output path is checked before any network is built. Exit statuses: 0 success, 1 error, 2 usage
error, 128 + the signal number when interrupted: 130 for Ctrl-C (SIGINT), 143 for SIGTERM, what batch schedulers send
first (``pond run`` then keeps the spikes so far). Times are in ms everywhere: a bare number is ms, and ``500ms``,
``2s`` are accepted.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import sys
import time
from typing import Sequence

from pond._version import __version__

__all__ = ["main"]

_EXAMPLES = ("cuba", "brunel", "column", "noise", "lsm_column", "microcircuit")
_BENCH_MODELS = ("cuba", "brunel", "column")


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, status 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text!r} is not finite")
    return v


def _int_in(low: int, high: int | None = None):
    """Parser of an integer in [low, high] whose error says what is allowed (argparse names the option)."""
    allowed = f">= {low}" if high is None else f"from {low} to {high}"

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer; it must be an integer {allowed}") from None
        if v < low or (high is not None and v > high):
            raise argparse.ArgumentTypeError(f"{text} is not allowed; it must be an integer {allowed}")
        return v
    return parse


_nonneg_int = _int_in(0)
_pos_int = _int_in(1)
_seed = _int_in(0, 2 ** 63 - 1)


def _duration(text: str) -> float:
    """A duration in ms: a bare number is ms, or a number with a unit ("500ms", "0.5 s")."""
    m = re.fullmatch(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(ms|s)?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; give ms (500), or a unit (500ms, 0.5s)")
    v = float(m.group(1)) * (1000.0 if m.group(2) == "s" else 1.0)
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; it must be a finite duration > 0")
    return v


def _pos_float(text: str) -> float:
    v = _float(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return v


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``pond`` (exposed for documentation and tests)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback on errors")
    p = _Parser(prog="pond", description="pond: spiking and reservoir simulation engine.",
                epilog="Run 'pond COMMAND --help' for the options of a command.")
    p.add_argument("--version", action="version", version=f"pond {__version__}")
    p.add_argument("--debug", action="store_true", default=False, help="show the full traceback on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser(
        "run", parents=[common], help="build and run a model file, write spikes to HDF5",
        description="Build and run a model file (TOML, see engine.io.modelfile) and stream the spikes of its spike "
                    "monitors to an HDF5 file in SONATA layout (every population when the file has no spike "
                    "monitor; rate and state monitors go under /monitors when the run ends). Prints a summary: "
                    "neurons, synapses, spikes, mean rate per population, wall time, "
                    "real-time factor, synaptic events per second, memory per synapse. A progress bar shows on runs "
                    "longer than two seconds when stderr is a terminal. Ctrl-C stops the run, keeps every spike so "
                    "far in the file (marked incomplete) and exits with status 130.",
        epilog="Options override the model file's [network] seed and [run] table. Examples: "
               "'pond run cuba' (a shipped example), 'pond run my_model.toml -o spikes.h5 --duration 2s --plot "
               "raster.png'.")
    run.add_argument("model", metavar="MODEL.toml",
                     help="model file, or the name of a shipped example: " + ", ".join(_EXAMPLES))
    run.add_argument("-o", "--output", metavar="FILE.h5",
                     help="spike file (default: [run] output, else MODEL_spikes.h5 in the current directory)")
    run.add_argument("--duration", type=_duration, metavar="T",
                     help="simulated time: a bare number is ms; units 500ms, 2s are accepted; default: [run] "
                          "duration")
    run.add_argument("--seed", type=_seed, help="network seed (default: [network] seed)")
    run.add_argument("--threads", type=_pos_int, metavar="N",
                     help="threads for building and for the loop over trials (default: [run] threads, else "
                          "Numba's default); results never depend on it")
    run.add_argument("--trials", type=_pos_int, metavar="N", help="independent batch trials (default: [run] trials)")
    run.add_argument("--method", choices=("clock", "event"), default=None,
                     help="clock-driven or exact event-driven simulation (default: [run] method, else clock)")
    run.add_argument("--quiet", "-q", action="store_true",
                     help="no progress bar and no summary (errors are still reported)")
    run.add_argument("--overwrite", action="store_true", help="replace the spike file (and plot) if they exist")
    run.add_argument("--plot", metavar="RASTER.png",
                     help="also save a raster plot with the population rate beneath (needs matplotlib)")
    run.add_argument("--dry-run", action="store_true",
                     help="print the memory estimate (connectivity, synapse state, neuron state per trial, queues, "
                          "buffers) and whether it fits, then stop without building or writing anything")
    run.add_argument("--compression", choices=("none", "gzip", "lzf"), default="none",
                     help="spike-file compression (default: none). gzip and lzf trade readability for size: the "
                          "file gets smaller, but SONATA readers whose HDF5 lacks the filter (libsonata's PyPI "
                          "wheels) cannot read it")

    info = sub.add_parser("info", parents=[common], help="summarise a spike file",
                          description="Populations, spike counts, time range, mean rates and metadata of a "
                                      "SONATA spike file. Of a batch of whole trials that was interrupted, it says "
                                      "how many trials finished and computes rates over those only.")
    info.add_argument("file", metavar="FILE.h5", help="spike file")
    info.add_argument("--json", action="store_true", help="print everything as JSON (includes the model)")
    info.add_argument("--stats", action="store_true",
                      help="also print per-population statistics, as Elephant defines them, of the file's Neo "
                           "export (engine.io.neo_export): mean_firing_rate (Hz), cv of inter-spike intervals, "
                           "fanofactor of spike counts, spike_contrast synchrony; needs pip install 'pond[neo]'. "
                           "Of an interrupted batch, rates and statistics cover the finished trials only")
    info.add_argument("--window", type=_pos_float, default=100.0, metavar="MS",
                      help="counting window of the Fano factor with --stats (ms, default: 100)")

    plot = sub.add_parser("plot", parents=[common], help="raster plot with a population rate histogram",
                          description="Raster plot of a spike file with the population rate histogram beneath. "
                                      "Above --max-points spikes the raster shows a uniform random subsample "
                                      "(the histogram always counts every spike).")
    plot.add_argument("file", metavar="FILE.h5", help="spike file")
    plot.add_argument("-o", "--output", required=True, metavar="OUT", help="image file (png, pdf, svg, ...)")
    plot.add_argument("--population", "-p", help="population to plot (default: all, stacked)")
    plot.add_argument("--trial", type=_nonneg_int, default=0, help="batch trial (default: 0)")
    plot.add_argument("--t-start", type=_float, default=None, metavar="MS", help="window start (ms, default 0)")
    plot.add_argument("--t-stop", type=_float, default=None, metavar="MS",
                      help="window end (ms, default: the recorded duration)")
    plot.add_argument("--bin-ms", type=_pos_float, default=None, metavar="MS",
                      help="rate histogram bin (ms, default: window/200, at least dt)")
    plot.add_argument("--max-points", type=_pos_int, default=200_000, metavar="N",
                      help="most spikes drawn in the raster (default: 200000)")
    plot.add_argument("--dpi", type=_pos_int, default=150, help="image resolution (default: 150, at most 1200)")
    plot.add_argument("--overwrite", action="store_true", help="replace the image file if it exists")

    bench = sub.add_parser(
        "bench", parents=[common], help="run a standard model and print throughput figures",
        description="Build and run a standard model in pond alone and print throughput: wall seconds per simulated "
                    "second, real-time factor, synaptic events per second, spikes, mean rate, synapses, bytes per "
                    "synapse, build time and first-call (compile or cache load) time. The loop is timed after a "
                    "1 ms warm-up run, with every spike recorded but none kept. For pond against Brian2 and NEST "
                    "see benchmarks/cuba.py in the repository.")
    bench.add_argument("model", nargs="?", default="cuba", choices=_BENCH_MODELS, metavar="MODEL",
                       help="cuba (Vogels-Abbott, 4000 LIF; default), brunel (12,500 LIF) or column "
                            "(Maass 135 LIF): " + ", ".join(_BENCH_MODELS))
    bench.add_argument("--duration", type=_duration, default=1000.0, metavar="T",
                       help="simulated time: a bare number is ms; units 200ms, 2s are accepted; default: 1s")
    bench.add_argument("--seed", type=_seed, default=1, help="network seed (default: 1)")
    bench.add_argument("--threads", type=_pos_int, metavar="N", help="threads (default: Numba's default)")
    bench.add_argument("--json", action="store_true", help="print the figures as one JSON object")

    example = sub.add_parser(
        "example", parents=[common], help="write a shipped model file to start from",
        description="Write the shipped model file NAME (" + ", ".join(_EXAMPLES) + ") to FILE, to read and edit "
                    "and then run with 'pond run FILE'; without -o, print it.",
        epilog="Example: 'pond example brunel -o my_model.toml'.")
    example.add_argument("name", metavar="NAME", choices=_EXAMPLES, help="one of: " + ", ".join(_EXAMPLES))
    example.add_argument("-o", "--output", metavar="FILE.toml",
                         help="file to write ('-' or none: standard output)")
    example.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")

    demo = sub.add_parser(
        "demo", parents=[common], help="the end-to-end job: digits through a CNN into an LSM and an ESN (or: cuba)",
        description="pond's main job, a task with time in it. 'pond demo' (or 'pond demo digits'): scikit-learn's "
                    "handwritten digits are shown one after another (streams of 30, 20 ms each) and three "
                    "scikit-learn pipelines name the digit shown one item back: the shipped CNN's features (ONNX) "
                    "with a ridge classifier, which sees only the current digit (chance); the features as Poisson "
                    "spike trains into a 1000-neuron liquid state machine (Tsodyks-Markram synapses, weights scaled "
                    "from the Maass column), its filtered spike trains read out by a ridge classifier; the features "
                    "through a 1000-unit echo state network. Prints held-out accuracy against chance (streams of the "
                    "30 % of the digits held out), the memory curve (0-3 items back), times, and the liquid's regime "
                    "(mean rate, ISI CV, spike contrast; needs pip install 'pond[neo]'); writes the liquid's spikes "
                    "for the first test streams to digits_lsm_spikes.h5 (SONATA) and a raster and the memory curves "
                    "to digits_demo.png in --outdir. About 35 s of CPU time once pond's compiled kernels are cached "
                    "(the first run after install compiles them). 'pond demo cuba' runs the CUBA "
                    "network (4000 LIF) for --duration and writes "
                    "cuba_spikes.h5 and cuba_raster.png. Existing outputs are kept unless --overwrite is given.")
    demo.add_argument("which", nargs="?", default="digits", choices=("digits", "cuba"),
                      help="digits (default, the end-to-end job) or cuba (the spiking-network demo)")
    demo.add_argument("--outdir", default=".", metavar="DIR", help="output directory (default: current directory)")
    demo.add_argument("--duration", type=_duration, default=1000.0, metavar="T",
                      help="cuba: simulated time: a bare number is ms; units 500ms, 2s are accepted; default: 1s")
    demo.add_argument("--threads", type=_pos_int, metavar="N", help="threads (default: Numba's default)")
    demo.add_argument("--seed", type=_seed, default=0, help="digits: seed of the encoder, liquid and ESN (default 0)")
    demo.add_argument("--quiet", "-q", action="store_true", help="no progress bar and no summary")
    demo.add_argument("--overwrite", action="store_true", help="replace the demo's output files if they exist")
    return p


# ---------------------------------------------------------------------------------------------------------------------
def _fmt(v, spec: str = "g", none: str = "-") -> str:
    if v is None:
        return none
    try:
        return format(v, spec)
    except (TypeError, ValueError):
        return str(v)


def _stats_table(stats: dict) -> list[str]:
    """Lines of the ``pond info --stats`` table (Elephant's names as column headers)."""
    rows = [("population", "mean_firing_rate (Hz)", "cv", "fanofactor", "spike_contrast")]
    for name, s in stats.items():
        rows.append((name, _fmt(s["mean_firing_rate"], ".4g"), _fmt(s["cv"], ".3g"), _fmt(s["fanofactor"], ".3g"),
                     _fmt(s["spike_contrast"], ".3g")))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
            for r in rows]


def _ranges(ids: list[int]) -> str:
    """``[0, 1, 2, 5]`` as ``"0-2, 5"``."""
    parts, start = [], None
    for i, k in enumerate(ids):
        if start is None:
            start = k
        if i + 1 == len(ids) or ids[i + 1] != k + 1:
            parts.append(str(start) if start == k else f"{start}-{k}")
            start = None
    return ", ".join(parts)


def _cmd_info(args) -> int:
    from engine.io.spikefile import file_info

    info = file_info(args.file)
    stats = None
    if args.stats:
        from engine.io.neo_export import spike_statistics, to_neo

        stats = spike_statistics(to_neo(args.file), window_ms=args.window)
        info["statistics"] = stats
    if args.json:
        print(json.dumps(info, indent=2, default=str))
        return 0
    meta = info["metadata"]
    state = "complete" if info["complete"] else "INCOMPLETE (interrupted or still being written)"
    print(f"{info['path']}: {state}")
    fields = [
        ("pond", meta.get("pond_version")), ("created", meta.get("created")),
        ("dt", f"{_fmt(meta.get('dt_ms'))} ms" if meta.get("dt_ms") is not None else None),
        ("duration", f"{_fmt(meta.get('duration_ms'))} ms" if meta.get("duration_ms") is not None else None),
        ("seed", meta.get("seed")),
        ("trials", info["n_trials"] if info["complete"] else
         f"{info['n_trials']} ({info['n_trials_finished']} finished)"),
    ]
    used = info["trials_used"]
    if not info["complete"] and len(used) == info["n_trials"] and meta.get("t_recorded_ms") is not None:
        fields.append(("recorded", f"{_fmt(meta.get('t_recorded_ms'))} ms"))
    line = ", ".join(f"{k} {v}" for k, v in fields if v is not None)
    if line:
        print(f"  {line}")
    if len(used) < info["n_trials"]:
        print(f"  rates{' and statistics' if stats is not None else ''} over the {len(used)} finished trial"
              f"{'s' if len(used) != 1 else ''} only ({_ranges(used)}); the others were interrupted")
    rows = [("population", "size", "spikes", "first (ms)", "last (ms)", "rate (Hz)", "sorting")]
    for name, p in info["populations"].items():
        rows.append((name, str(p["size"]), str(p["n_spikes"]), _fmt(p["t_first_ms"], ".6g"),
                     _fmt(p["t_last_ms"], ".6g"), _fmt(p["mean_rate_hz"], ".4g"), p["sorting"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  " + "  ".join(c.ljust(w) if i == 0 or i == 6 else c.rjust(w) for i, (c, w) in
                               enumerate(zip(r, widths))).rstrip())
    print(f"  total: {info['n_spikes']} spikes")
    if stats is not None:
        counts = {s["fanofactor_counts"] for s in stats.values()}
        print("  statistics (Elephant's definitions, on the Neo export):")
        for line in _stats_table(stats):
            print(line)
        print(f"  cv: of inter-spike intervals, trains with >= 3 spikes; fanofactor: spike counts in "
              f"{args.window:g} ms windows{' of every trial' if info['n_trials'] > 1 else ''}"
              f"{f' ({counts.pop()} per neuron)' if len(counts) == 1 else ''}; spike_contrast: synchrony, 0 to 1")
    model = meta.get("model")
    if isinstance(model, dict) and model:
        keys = ", ".join(list(model)[:8]) + (", ..." if len(model) > 8 else "")
        print(f"  model: {keys} (pond info --json shows it in full)")
    extra = {k: v for k, v in meta.items() if k not in {
        "pond_version", "created", "dt_ms", "duration_ms", "seed", "n_trials", "model", "population_names",
        "population_sizes", "complete", "closed", "t_recorded_ms", "format", "format_version"}}
    for k, v in extra.items():
        print(f"  {k}: {v}")
    return 0


def _cmd_plot(args) -> int:
    from pond.plotting import raster_plot

    _check_outputs({"image file": args.output}, inputs=[args.file], overwrite=args.overwrite)
    s = raster_plot(args.file, args.output, population=args.population, trial=args.trial, t_start=args.t_start,
                    t_stop=args.t_stop, max_points=args.max_points, bin_ms=args.bin_ms, dpi=args.dpi)
    drawn = "" if s["n_plotted"] == s["n_spikes"] else f" ({s['n_plotted']} drawn)"
    print(f"wrote {s['out']}: {s['n_spikes']} spikes{drawn}, {s['t_start']:g}-{s['t_stop']:g} ms, "
          f"rate bins {s['bin_ms']:g} ms")
    return 0


# ---------------------------------------------------------------------------------------------------------------------
def _example_path(name: str) -> str:
    from importlib.resources import files

    return os.fspath(files("pond") / "examples" / name)


def _resolve_model(path: str) -> str:
    """``path`` itself, or the shipped example of that name (``cuba``, ``cuba.toml``) when no such file exists."""
    if os.path.exists(path):
        return path
    stem = path[:-5] if path.endswith(".toml") else path
    if stem in _EXAMPLES and os.sep not in path:
        return _example_path(stem + ".toml")
    raise FileNotFoundError(f"model file {path!r} does not exist (shipped examples: {', '.join(_EXAMPLES)})")


def _set_threads(threads: int | None) -> str:
    """Set Numba's thread count to ``threads``, at most the cores Numba can use; returns a note for the summary
    when the request was capped (empty otherwise)."""
    if threads is None:
        return ""
    import numba

    cores = numba.config.NUMBA_NUM_THREADS
    numba.set_num_threads(min(threads, cores))
    return f" (--threads {threads} capped at the {cores} cores of this machine)" if threads > cores else ""


def _same_file(a: str, b: str) -> bool:
    a, b = os.path.realpath(a), os.path.realpath(b)
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet
        return False


def _check_outputs(outputs: dict[str, str], inputs: Sequence[str], overwrite: bool) -> None:
    """Refuse, before any work, an output path that cannot or must not be written: an input file (never replaced,
    even with --overwrite), another output of the same command, an existing file without ``overwrite``, a
    directory, a missing or unwritable directory, an existing file that is not writable."""
    seen: dict[str, str] = {}
    for what, path in outputs.items():
        for src in inputs:
            if _same_file(path, src):
                raise ValueError(f"{what} {path!r} is the input file {src!r}; choose another output path (an input "
                                 "is never replaced, not even with --overwrite)")
        for other, other_path in seen.items():
            if _same_file(path, other_path):
                raise ValueError(f"{what} {path!r} is also the {other}; give them different paths")
        seen[what] = path
        if os.path.isdir(path):
            raise IsADirectoryError(f"{what} {path!r} is a directory; give a file name")
        if os.path.lexists(path) and not overwrite:
            raise FileExistsError(f"{what} {path!r} already exists; pass --overwrite to replace it")
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise FileNotFoundError(f"cannot write {what} {path!r}: directory {parent!r} does not exist")
        if not os.access(parent, os.W_OK | os.X_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
            raise PermissionError(f"cannot write {what} {path!r}: permission denied")


def _spike_populations(net) -> list[str]:
    """Names recorded by the network's spike monitors; adds a monitor on every population when there is none."""
    from engine.network.description import SpikeMonitor

    names = list(dict.fromkeys(m.source for m in net.monitors if isinstance(m, SpikeMonitor)))
    if not names:
        net.add(*(SpikeMonitor(p.name) for p in net.populations))
        names = [p.name for p in net.populations]
    return names


#: Most memory the rate and state monitors of ``pond run`` may hold; they are written to the file when the run ends.
_MONITOR_BYTES = 1 << 30
_STATE_UNITS = {"V": "mV", "I_ex": "pA", "I_in": "pA"}


def _check_monitor_memory(net, duration: float, trials: int) -> None:
    """Refuse, before the build, rate and state monitors whose samples would hold more than ``_MONITOR_BYTES``.

    The simulator keeps them in memory for the whole run (int32 counts per step, float64 samples), and writing them
    needs a second copy, hence the factor 2.
    """
    from engine.network.description import RateMonitor, StateMonitor

    steps = round(duration / net.dt)
    total, parts = 0, []
    for m in net.monitors:
        if isinstance(m, RateMonitor):
            n = 2 * 4 * trials * steps
            parts.append(f"rate of {m.target!r}")
        elif isinstance(m, StateMonitor):
            size = net.get(m.target).size if m.indices is None else len(m.indices)
            n = 2 * 8 * trials * (steps // m.every) * size * len(m.variables)
            parts.append(f"state of {m.target!r}")
        else:
            continue
        total += n
    if total > _MONITOR_BYTES:
        raise ValueError(f"the monitors ({', '.join(parts)}) would hold about {_bytes(total)} in memory over "
                         f"{duration:g} ms x {trials} trial(s); pond run allows {_bytes(_MONITOR_BYTES)}: record "
                         "fewer neurons (indices), sample less often (every), shorten the run, or run the model from "
                         "Python and save the samples chunk by chunk")


def _write_monitors(writer, sim, net) -> None:
    """Store every rate and state monitor's samples so far under ``/monitors`` of the spike file."""
    import numpy as np

    from engine.network.description import RateMonitor, StateMonitor

    for m in net.monitors:
        if isinstance(m, RateMonitor):
            writer.write_monitor(f"rate/{m.target}", sim.spike_counts(m.target),
                                 {"units": "spikes per step", "dt_ms": net.dt, "size": net.get(m.target).size})
        elif isinstance(m, StateMonitor):
            indices = np.arange(net.get(m.target).size) if m.indices is None else np.asarray(m.indices)
            for v in m.variables:
                times, values = sim.state(m.target, v)
                writer.write_monitor(f"state/{m.target}/{v}", values, {"units": _STATE_UNITS[v], "indices": indices})
            writer.write_monitor(f"state/{m.target}/times", times, {"units": "ms"})


def _bytes(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return f"{n:.1f} TB"  # pragma: no cover


def run_model(net, cfg, *, model_name: str, output: str, duration: float, trials: int = 1, threads: int | None = None,
              overwrite: bool = False, quiet: bool = False, plot: str | None = None,
              inputs: Sequence[str] = (), compression: str | None = None, method: str = "clock") -> int:
    """Build ``net``, run it with a :class:`~engine.io.spikefile.SpikeFileWriter` sink, print the summary.

    Every check (time grid, output paths, monitor memory, matplotlib for ``plot``) comes before the build. Rate and
    state monitors are written to the file's ``/monitors`` group when the run ends. ``inputs`` are files that no
    output may replace (the model file). ``compression`` (None, "gzip" or "lzf") is the spike file's filter; see
    :class:`~engine.io.spikefile.SpikeFileWriter`. ``method`` is the Simulator's (``"clock"`` or ``"event"``).

    Returns the exit status: 0, or 128 + the signal number after SIGINT (130) or SIGTERM (143); the file then holds
    every spike so far, ``complete=False``.
    """
    import numba

    from engine.run.simulator import Simulator
    from engine.io.spikefile import SpikeFileWriter

    dt = net.dt
    q = duration / dt
    if abs(q - round(q)) > 1e-6 * max(1.0, q):
        raise ValueError(f"duration = {duration:g} ms is not a multiple of dt = {dt:g} ms (e.g. "
                         f"{max(round(q), 1) * dt:g} ms)")
    _check_outputs({"spike file": output, **({"plot file": plot} if plot is not None else {})}, inputs, overwrite)
    if plot is not None:
        from pond.plotting import _require_matplotlib

        _require_matplotlib()
    _check_monitor_memory(net, duration, trials)
    thread_note = _set_threads(threads)
    names = _spike_populations(net)
    model = {"network": net.to_dict(), "run": dict(cfg.to_dict(), duration=duration, trials=trials, method=method),
             "model_file": model_name, "model_toml": cfg.text}
    t0 = time.perf_counter()
    sim = Simulator(net, trials=trials, n_jobs=threads, chunk_ms=cfg.chunk_ms, method=method)
    build_s = time.perf_counter() - t0
    sizes = {name: net.get(name).size for name in names}
    extra = {"model_file": model_name}
    writer = SpikeFileWriter(output, sizes, n_trials=trials, dt_ms=dt, duration_ms=duration, seed=net.seed,
                             model=model, overwrite=overwrite, extra_attrs=extra, compression=compression)
    progress = not quiet and sys.stderr.isatty()
    try:
        writer.advance(sim.t)  # from here the file's stated time moves only between chunks (see advance)
        sim.run(duration, sinks=[writer], keep=False, progress=progress)
    except KeyboardInterrupt as e:
        signum = getattr(e, "signum", signal.SIGINT)
        _write_monitors(writer, sim, net)
        writer.close(complete=False)
        n = sum(writer.n_spikes.values())
        print(f"pond: interrupted by {signal.Signals(signum).name} at {sim.t:g} of {duration:g} ms; {n} spikes kept "
              f"in {output} (marked incomplete)", file=sys.stderr)
        return 128 + signum
    except BaseException:
        try:
            writer.close(complete=False)
        except Exception:
            pass
        raise
    _write_monitors(writer, sim, net)
    writer.close(complete=True)
    if plot is not None:
        from pond.plotting import raster_plot

        raster_plot(output, plot)
    if quiet:
        return 0
    st, mem = sim.last_run, sim.memory_report()
    per_pop = []
    for name, size in sizes.items():
        n = sum(writer.n_spikes[(name, k)] for k in range(trials))
        per_pop.append((name, n, n / (size * duration * 1e-3 * trials)))
    pops = ", ".join(f"{p.name} {p.size}" for p in net.populations)
    tr = f" x {trials} trials" if trials > 1 else ""
    print(f"model     {model_name}: {net.size} neurons ({pops}), {mem['synapses']:,} synapses, dt {dt:g} ms, "
          f"seed {net.seed}")
    print(f"run       {duration:g} ms{tr} in {st.wall_s:.3g} s wall (build {build_s:.3g} s, compile or cache load "
          f"{sim.compile_s:.3g} s): real-time factor "
          f"{st.realtime_factor * trials:.3g}{' (all trials)' if trials > 1 else ''}, "
          f"{st.events_per_second:.3g} synaptic events/s")
    print(f"threads   {numba.get_num_threads()}{thread_note}")
    print(f"spikes    {st.spikes:,}: " + ", ".join(f"{name} {n:,} ({rate:.3g} Hz)" for name, n, rate in per_pop))
    print(f"memory    {mem['bytes_per_synapse']:.2f} bytes/synapse ({_bytes(mem['connectivity_bytes'])} "
          f"connectivity, {_bytes(mem['state_bytes'])} state)")
    print(f"output    {output}" + (f", {plot}" if plot else ""))
    return 0


def _cmd_run(args) -> int:
    from engine.io.modelfile import load_model

    path = _resolve_model(args.model)
    net, cfg = load_model(path)
    if args.seed is not None:
        net.seed = args.seed
    if args.dry_run:
        from engine.build.estimate import estimate_memory

        est = estimate_memory(net, trials=args.trials or cfg.trials,
                              duration_ms=args.duration if args.duration is not None else cfg.duration)
        print(est)
        return 0 if est.fits else 1
    stem = os.path.splitext(os.path.basename(path))[0]
    output = args.output or cfg.output or f"{stem}_spikes.h5"
    return run_model(net, cfg, model_name=os.path.basename(path), output=output,
                     duration=args.duration if args.duration is not None else cfg.duration,
                     trials=args.trials or cfg.trials, threads=args.threads or cfg.threads,
                     overwrite=args.overwrite, quiet=args.quiet, plot=args.plot, inputs=[path],
                     compression=None if args.compression == "none" else args.compression,
                     method=args.method or cfg.method)


def _cmd_example(args) -> int:
    with open(_example_path(args.name + ".toml"), encoding="utf-8") as f:
        text = f.read()
    if args.output in (None, "-"):
        sys.stdout.write(text)
        return 0
    _check_outputs({"model file": args.output}, inputs=[], overwrite=args.overwrite)
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"pond: wrote the {args.name} example to {args.output}; run it with 'pond run {args.output}'")
    return 0


def _cmd_demo(args) -> int:
    if args.which == "digits":
        return _demo_digits(args)
    from engine.io.modelfile import load_model

    os.makedirs(args.outdir, exist_ok=True)
    path = _example_path("cuba.toml")
    net, cfg = load_model(path)
    try:
        from pond.plotting import _require_matplotlib

        _require_matplotlib()
        plot = os.path.join(args.outdir, "cuba_raster.png")
    except ImportError:
        plot = None
        print("pond demo: matplotlib is not installed; skipping the raster plot (pip install 'pond[plot]')",
              file=sys.stderr)
    return run_model(net, cfg, model_name="cuba.toml", output=os.path.join(args.outdir, "cuba_spikes.h5"),
                     duration=args.duration, threads=args.threads, overwrite=args.overwrite, quiet=args.quiet,
                     plot=plot, inputs=[path])


def _demo_digits(args) -> int:
    import numba

    from pond.demo import FIGURE, SPIKE_FILE, run_digits, summary_table

    os.makedirs(args.outdir, exist_ok=True)
    _check_outputs({"spike file": os.path.join(args.outdir, SPIKE_FILE),
                    "figure": os.path.join(args.outdir, FIGURE)}, inputs=[], overwrite=args.overwrite)
    old = numba.get_num_threads()
    if args.threads:
        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    try:
        t0 = time.perf_counter()
        res = run_digits(args.outdir, seed=args.seed, quiet=args.quiet, overwrite=args.overwrite)
    finally:
        numba.set_num_threads(old)
    if not args.quiet:
        print(summary_table(res))
        print(f"wrote {res['spikes_file']}" + (f" and {res['figure']}" if res.get("figure") else "")
              + f" in {time.perf_counter() - t0:.0f} s")
    return 0


def _bench_network(name: str, seed: int):
    if name == "cuba":
        from engine.network.library import cuba

        return cuba(seed, record=False)
    from engine.io.modelfile import load_model

    net, _ = load_model(_example_path(name + ".toml"))
    net.seed = seed
    net.monitors = []
    return net


def bench(name: str = "cuba", duration_ms: float = 1000.0, seed: int = 1, threads: int | None = None) -> dict:
    """Throughput figures of a standard model run in pond (see ``pond bench --help``)."""
    import numba

    from engine.network.description import SpikeMonitor
    from engine.run.simulator import Simulator

    thread_note = _set_threads(threads)
    net = _bench_network(name, seed)
    dt = net.dt
    duration_ms = round(duration_ms / dt) * dt
    if duration_ms <= 0:
        raise ValueError(f"duration must be at least dt = {dt:g} ms")
    net.add(*(SpikeMonitor(p.name) for p in net.populations))
    t0 = time.perf_counter()
    sim = Simulator(net, n_jobs=threads)
    build_s = time.perf_counter() - t0
    first_s = sim.compile()  # compile (or load cached kernels) outside the timed loop
    sim.run(duration_ms, keep=False, progress=False)
    st, mem = sim.last_run, sim.memory_report()
    dur_s = duration_ms * 1e-3
    return {
        "model": name, "pond_version": __version__, "neurons": net.size, "synapses": int(mem["synapses"]),
        "dt_ms": dt, "duration_s": dur_s, "threads": numba.get_num_threads(),
        "threads_note": thread_note.strip(" ()"), "build_s": build_s,
        "first_call_s": first_s, "loop_s": st.wall_s, "s_per_simulated_s": st.wall_s / dur_s,
        "realtime_factor": st.realtime_factor, "synaptic_events": st.synaptic_events,
        "events_per_s": st.events_per_second, "spikes": st.spikes, "rate_hz": st.spikes / (net.size * dur_s),
        "bytes_per_synapse": mem["bytes_per_synapse"], "connectivity_bytes": int(mem["connectivity_bytes"]),
    }


def _cmd_bench(args) -> int:
    r = bench(args.model, args.duration, args.seed, args.threads)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"pond {r['pond_version']} bench {r['model']}: {r['neurons']:,} neurons, {r['synapses']:,} synapses, "
          f"dt {r['dt_ms']:g} ms, {r['duration_s']:g} s simulated, {r['threads']} threads"
          + (f" ({r['threads_note']})" if r["threads_note"] else ""))
    rows = [("wall s per simulated s", f"{r['s_per_simulated_s']:.4g}"),
            ("real-time factor", f"{r['realtime_factor']:.4g}"),
            ("synaptic events/s", f"{r['events_per_s']:.4g}"),
            ("synaptic events", f"{r['synaptic_events']:,}"),
            ("spikes", f"{r['spikes']:,}"),
            ("mean rate", f"{r['rate_hz']:.4g} Hz"),
            ("bytes per synapse", f"{r['bytes_per_synapse']:.3g}"),
            ("build", f"{r['build_s']:.3g} s"),
            ("first call (compile/cache)", f"{r['first_call_s']:.3g} s"),
            ("loop", f"{r['loop_s']:.4g} s")]
    w = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k.ljust(w)}  {v}")
    return 0


_COMMANDS = {"info": _cmd_info, "plot": _cmd_plot, "run": _cmd_run, "bench": _cmd_bench, "demo": _cmd_demo,
             "example": _cmd_example}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pond`` command line; returns the exit status (the console script passes it to ``sys.exit``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    debug = getattr(args, "debug", False)
    previous = _sigterm_interrupts()
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt as e:  # engine.Interrupted (SIGINT or SIGTERM) is a KeyboardInterrupt
        if debug:
            raise
        signum = getattr(e, "signum", signal.SIGINT)
        print(f"pond: interrupted by {signal.Signals(signum).name}", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:  # e.g. `pond info f.h5 | head`
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0
    except Exception as e:
        if debug:
            raise
        msg = " ".join(str(e).split()) or type(e).__name__
        print(f"pond: error: {msg}", file=sys.stderr)
        return 1
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _sigterm_interrupts():
    """Make SIGTERM raise :class:`engine.Interrupted` like Ctrl-C, so a run stopped by a batch scheduler still
    flushes and closes its file. Returns the handler it replaced (None outside the main thread, where signals
    cannot be handled). The engine defers both signals to a safe point while it builds and runs a network."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        from engine.interrupt import Interrupted

        raise Interrupted(signum)

    return signal.signal(signal.SIGTERM, handler)
