"""Atomic operations and a spin barrier for kernels whose parallel workers advance one network together.

Numba has no atomics, so these are LLVM intrinsics (``atomicrmw add`` and atomic loads/stores, sequentially
consistent): they compile into the calling kernel, so kernels using them can still be cached. They are used only to
synchronise workers between phases of a step (a barrier); spike delivery itself never uses them, which is what keeps
results bit-identical for any thread count (every target is owned by one worker, which adds in a fixed order).
"""
import sys

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

_SPINS_BEFORE_YIELD = 1 << 12  # a few microseconds; past them a late worker is probably waiting for a core
_YIELD = None if sys.platform == "win32" else "sched_yield"  # POSIX; on Windows the barrier only spins
# about a minute of waiting (spins, or yields of about a microsecond): a worker that never arrives means the threads
# were not there
_WAIT_LIMIT = (1 << 36) if _YIELD is None else (1 << 26)


def _int64_array(arr) -> bool:
    return isinstance(arr, types.Array) and arr.dtype == types.int64


def _pointer(context, builder, arrty, arr, idx):
    ary = context.make_array(arrty)(context, builder, arr)
    return cgutils.get_item_pointer(context, builder, arrty, ary, [idx], wraparound=False)


def _pointer_and_value(context, builder, signature, args):
    """The element pointer ``&arr[idx]`` and ``value`` as an int64, of an ``(arr, idx, value)`` intrinsic call."""
    ptr = _pointer(context, builder, signature.args[0], args[0], args[1])
    return ptr, context.cast(builder, args[2], signature.args[2], types.int64)


@intrinsic
def atomic_add(typingctx, arr, idx, value):
    """``arr[idx] += value`` atomically (int64 array); returns the value before the addition."""
    if not _int64_array(arr):
        return None
    sig = types.int64(arr, idx, value)

    def codegen(context, builder, signature, args):
        ptr, val = _pointer_and_value(context, builder, signature, args)
        return builder.atomic_rmw("add", ptr, val, "seq_cst")

    return sig, codegen


@intrinsic
def atomic_load(typingctx, arr, idx):
    """``arr[idx]`` read atomically (int64 array), so a spinning loop sees other threads' stores."""
    if not _int64_array(arr):
        return None
    sig = types.int64(arr, idx)

    def codegen(context, builder, signature, args):
        ptr = _pointer(context, builder, signature.args[0], args[0], args[1])
        return builder.load_atomic(ptr, "seq_cst", 8)

    return sig, codegen


@intrinsic
def atomic_store(typingctx, arr, idx, value):
    """``arr[idx] = value`` written atomically (int64 array)."""
    if not _int64_array(arr):
        return None
    sig = types.void(arr, idx, value)

    def codegen(context, builder, signature, args):
        ptr, val = _pointer_and_value(context, builder, signature, args)
        builder.store_atomic(val, ptr, "seq_cst", 8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def cpu_yield(typingctx):
    """Give this thread's core to another runnable thread (``sched_yield``), so a worker waiting at the barrier on
    an oversubscribed machine lets the late one run; a no-op where there is no such call."""
    sig = types.void()

    def codegen(context, builder, signature, args):
        if _YIELD is not None:
            fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.IntType(32), []), _YIELD)
            builder.call(fn, [])
        return context.get_dummy_value()
    return sig, codegen


@njit(cache=True, inline="always")
def barrier(state, n_workers):
    """Wait until all ``n_workers`` workers have called ``barrier(state, n_workers)``; ``state`` is a shared
    int64 array ``[arrived, generation]`` starting at zeros. Every store made before the barrier is visible to every
    worker after it. Returns False if the other workers never arrived (a configuration error, not a race)."""
    if n_workers == 1:
        return True
    gen = atomic_load(state, 1)
    if atomic_add(state, 0, 1) == n_workers - 1:
        atomic_store(state, 0, 0)
        atomic_add(state, 1, 1)
        return True
    spins = 0
    while atomic_load(state, 1) == gen:
        spins += 1
        if spins > _SPINS_BEFORE_YIELD:
            cpu_yield()
        if spins > _WAIT_LIMIT:
            return False
    return True
