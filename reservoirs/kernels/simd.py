"""Explicit 8-wide float64 vector operations for the ESN kernels.

LLVM's SLP vectoriser leaves the register-blocked sparse products scalar, so
these intrinsics emit ``<8 x double>`` loads, ``fmul`` and ``fadd`` directly.
Each lane performs exactly the scalar operations ``a + w * x`` (no fused
multiply-add, no reassociation), so results are bit-identical to the scalar
loops they replace. Only numba (and its llvmlite) are used.
"""
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

_V8 = ir.VectorType(ir.DoubleType(), 8)


def _ptr(context, builder, aryty, ary, idx, idxty):
    arr = context.make_array(aryty)(context, builder, ary)
    i = context.cast(builder, idx, idxty, types.intp)
    p = builder.gep(arr.data, [i])
    return builder.bitcast(p, _V8.as_pointer())


def _splat(builder, w):
    v = builder.insert_element(ir.Constant(_V8, ir.Undefined), w, ir.Constant(ir.IntType(32), 0))
    return builder.shuffle_vector(v, ir.Constant(_V8, ir.Undefined), ir.Constant(ir.VectorType(ir.IntType(32), 8),
                                                                                    [0] * 8))


@intrinsic
def axpy8(typingctx, acc, ia, x, ix, w):
    """``acc[ia:ia+8] = acc[ia:ia+8] + w * x[ix:ix+8]`` (float64 arrays, 8 lanes)."""
    sig = types.void(acc, ia, x, ix, types.float64)

    def codegen(context, builder, signature, args):
        acc_v, ia_v, x_v, ix_v, w_v = args
        pa = _ptr(context, builder, signature.args[0], acc_v, ia_v, signature.args[1])
        px = _ptr(context, builder, signature.args[2], x_v, ix_v, signature.args[3])
        a = builder.load(pa, align=8)
        xv = builder.load(px, align=8)
        builder.store(builder.fadd(a, builder.fmul(_splat(builder, w_v), xv)), pa, align=8)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def gaxpy8(typingctx, acc, ia, vals, cols, o, x):
    """``acc[ia+r] = acc[ia+r] + vals[o+r] * x[cols[o+r]]`` for r = 0..7 (one vector op)."""
    sig = types.void(acc, ia, vals, cols, o, x)

    def codegen(context, builder, signature, args):
        acc_v, ia_v, vals_v, cols_v, o_v, x_v = args
        pa = _ptr(context, builder, signature.args[0], acc_v, ia_v, signature.args[1])
        pv = _ptr(context, builder, signature.args[2], vals_v, o_v, signature.args[4])
        colsty = signature.args[3]
        carr = context.make_array(colsty)(context, builder, cols_v)
        xarr = context.make_array(signature.args[5])(context, builder, x_v)
        oi = context.cast(builder, o_v, signature.args[4], types.intp)
        g = ir.Constant(_V8, ir.Undefined)
        for r in range(8):
            ci = builder.load(builder.gep(carr.data, [builder.add(oi, ir.Constant(oi.type, r))]))
            ci = context.cast(builder, ci, colsty.dtype, types.intp)
            xi = builder.load(builder.gep(xarr.data, [ci]))
            g = builder.insert_element(g, xi, ir.Constant(ir.IntType(32), r))
        a = builder.load(pa, align=8)
        v = builder.load(pv, align=8)
        builder.store(builder.fadd(a, builder.fmul(v, g)), pa, align=8)
        return context.get_dummy_value()

    return sig, codegen
