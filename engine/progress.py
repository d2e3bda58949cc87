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
