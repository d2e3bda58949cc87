"""Ctrl-C and SIGTERM during long engine work (network build, simulation) take effect at a safe point.

Python's default SIGINT handler raises KeyboardInterrupt wherever the main thread happens to be. When that is a
weakref callback or a finaliser (frequent while Numba compiles), CPython prints "Exception ignored" and the work
goes on; when it is Numba's dispatcher unboxing a kernel's result, the interpreter can crash ("returned a result
with an exception set", or a segfault). SIGTERM, what batch schedulers send first, kills the process outright, with
no chance to flush a spike file. :class:`deferred_interrupts` records either signal instead, and the engine raises
:class:`Interrupted` from plain Python code between two kernel calls.
"""
from __future__ import annotations

import signal
import threading

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_active: list = []  # deferral blocks now in force, innermost last
_carried: list = []  # a signal a carrying block left unanswered, for the next block


class Interrupted(KeyboardInterrupt):
    """Raised at a safe point after SIGINT (Ctrl-C) or SIGTERM; ``signum`` says which.

    A subclass of KeyboardInterrupt, so code that handles Ctrl-C handles both. A command line exits with
    ``128 + signum`` (130 for Ctrl-C, 143 for SIGTERM).
    """

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = int(signum)


class deferred_interrupts:
    """Context manager: while active, SIGINT and SIGTERM only set a flag; :meth:`check` raises
    :class:`Interrupted` when one arrived, and leaving the block raises it too if the body has not.

    Installed only in the main thread (signals are delivered there); elsewhere it is inert. The handlers in place
    before are restored on exit, so nesting works and a caller's own handlers come back. Long compiled work is not
    cut short: the signal takes effect at the next :meth:`check` (or module-level :func:`checkpoint`), i.e. after
    the running kernel call returns.

    With ``carry=True`` (a network split over MPI ranks) the block never raises on its own: :meth:`check` and
    :func:`checkpoint` do nothing, the caller decides together with the other ranks whether ``signum`` stops them
    all (``engine.run.clock``), and a signal still unanswered when the block ends is carried into the next block,
    whose first agreed check takes it. A rank that stopped alone would leave the others waiting in a collective.
    """

    def __init__(self, *, carry: bool = False):
        self.signum: int | None = None
        self.carry = carry
        self._previous: dict = {}

    def __enter__(self) -> "deferred_interrupts":
        if threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handler)
        if _carried:  # left by a carrying block: due now
            self.signum = _carried.pop()
            _carried.clear()
        _active.append(self)
        return self

    def _handler(self, signum, frame) -> None:
        if self.signum is None:
            self.signum = signum

    def check(self) -> None:
        """Raise :class:`Interrupted` if SIGINT or SIGTERM arrived since the block began."""
        if self.signum is not None and not self.carry:
            raise Interrupted(self.signum)

    def __exit__(self, exc_type, exc, tb) -> None:
        _active.remove(self)
        for sig, handler in self._previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # None: a handler set from C
        self._previous = {}
        if self.carry:
            if exc_type is None and self.signum is not None:
                _carried.append(self.signum)
            return
        if exc_type is None:
            self.check()


def checkpoint() -> None:
    """Raise :class:`Interrupted` if a signal arrived inside any active :class:`deferred_interrupts` block; called
    by long engine work (the network build, between projections) at points where stopping is safe."""
    for block in _active:
        block.check()
