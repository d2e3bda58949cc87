"""The ``pond`` command line: ``pond run|info|plot|bench|demo``.

Errors exit with a non-zero status and one line on stderr (``pond: error: ...``); ``--debug`` shows the traceback.
Exit statuses: 0 success, 1 error, 2 usage error or command not available, 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Sequence

from pond._version import __version__

__all__ = ["main"]

_NOT_YET = ("run", "bench", "demo")


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


def _nonneg_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 0")
    return v


def _pos_int(text: str) -> int:
    v = _nonneg_int(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
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

    run = sub.add_parser("run", parents=[common], help="build and run a model file, write spikes (not yet available)",
                         description="Build and run a model file (TOML) and write its spikes to HDF5. "
                                     "Not yet available in this version.")
    run.add_argument("model", nargs="?", metavar="MODEL.toml", help="model file")
    run.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    info = sub.add_parser("info", parents=[common], help="summarise a spike file",
                          description="Populations, spike counts, time range, mean rates and metadata of a "
                                      "SONATA spike file.")
    info.add_argument("file", metavar="FILE.h5", help="spike file")
    info.add_argument("--json", action="store_true", help="print everything as JSON (includes the model)")

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
    plot.add_argument("--dpi", type=_pos_int, default=150, help="image resolution (default: 150)")

    bench = sub.add_parser("bench", parents=[common], help="run a standard model and print throughput "
                                                           "(not yet available)",
                           description="Run a standard model and print throughput figures. "
                                       "Not yet available in this version.")
    bench.add_argument("model", nargs="?", default="cuba", help="standard model (default: cuba)")
    bench.add_argument("--json", action="store_true", help="print the figures as JSON")
    bench.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)

    demo = sub.add_parser("demo", parents=[common], help="run a shipped example (not yet available)",
                          description="Run a shipped example model. Not yet available in this version.")
    demo.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return p


# ---------------------------------------------------------------------------------------------------------------------
def _fmt(v, spec: str = "g", none: str = "-") -> str:
    if v is None:
        return none
    try:
        return format(v, spec)
    except (TypeError, ValueError):
        return str(v)


def _cmd_info(args) -> int:
    from engine.spikefile import file_info

    info = file_info(args.file)
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
        ("seed", meta.get("seed")), ("trials", info["n_trials"]),
    ]
    if not info["complete"] and meta.get("t_recorded_ms") is not None:
        fields.append(("recorded", f"{_fmt(meta.get('t_recorded_ms'))} ms"))
    line = ", ".join(f"{k} {v}" for k, v in fields if v is not None)
    if line:
        print(f"  {line}")
    rows = [("population", "size", "spikes", "first (ms)", "last (ms)", "rate (Hz)", "sorting")]
    for name, p in info["populations"].items():
        rows.append((name, str(p["size"]), str(p["n_spikes"]), _fmt(p["t_first_ms"], ".6g"),
                     _fmt(p["t_last_ms"], ".6g"), _fmt(p["mean_rate_hz"], ".4g"), p["sorting"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  " + "  ".join(c.ljust(w) if i == 0 or i == 6 else c.rjust(w) for i, (c, w) in
                               enumerate(zip(r, widths))).rstrip())
    print(f"  total: {info['n_spikes']} spikes")
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

    s = raster_plot(args.file, args.output, population=args.population, trial=args.trial, t_start=args.t_start,
                    t_stop=args.t_stop, max_points=args.max_points, bin_ms=args.bin_ms, dpi=args.dpi)
    drawn = "" if s["n_plotted"] == s["n_spikes"] else f" ({s['n_plotted']} drawn)"
    print(f"wrote {s['out']}: {s['n_spikes']} spikes{drawn}, {s['t_start']:g}-{s['t_stop']:g} ms, "
          f"rate bins {s['bin_ms']:g} ms")
    return 0


def _cmd_not_yet(args) -> int:
    print(f"pond {args.command}: not yet available in pond {__version__}", file=sys.stderr)
    return 2


_COMMANDS = {"info": _cmd_info, "plot": _cmd_plot, "run": _cmd_not_yet, "bench": _cmd_not_yet,
             "demo": _cmd_not_yet}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pond`` command line; returns the exit status (the console script passes it to ``sys.exit``)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    debug = getattr(args, "debug", False)
    try:
        return _COMMANDS[args.command](args)
    except KeyboardInterrupt:
        if debug:
            raise
        print("pond: interrupted", file=sys.stderr)
        return 130
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
