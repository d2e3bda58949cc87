"""Whether to show progress bars by default: in a terminal, and in a Jupyter notebook (where stderr is no terminal
but tqdm's auto variant draws a widget)."""
from __future__ import annotations

import sys


def interactive() -> bool:
    """True when a person is watching: stderr is a terminal, or the code runs in a Jupyter (IPython kernel)
    notebook."""
    if sys.stderr is not None and hasattr(sys.stderr, "isatty") and sys.stderr.isatty():
        return True
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:  # an IPython too old or too odd to ask: no bar rather than a crash
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def progress_bar(total_ms: float, enabled: bool):
    """A tqdm bar over ``total_ms`` of biological time that appears only once the run has lasted two seconds, or
    None when ``enabled`` is False."""
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total_ms, unit="ms", unit_scale=False, delay=2.0, leave=False, desc="simulating",
                bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} ms [{elapsed}<{remaining}{postfix}]")
