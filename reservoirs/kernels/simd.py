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


def _zero():
    return ir.Constant(_V8, [0.0] * 8)


def _make_slice_lanes(nvec):
    lanes = 8 * nvec

    def slice_lanes(typingctx, rec, r0, x, vals, cols, base, klen):
        sig = types.void(rec, r0, x, vals, cols, base, klen)

        def codegen(context, builder, signature, args):
            from numba.core import cgutils

            rec_v, r0_v, x_v, vals_v, cols_v, base_v, klen_v = args
            tys = signature.args
            recarr = context.make_array(tys[0])(context, builder, rec_v)
            xarr = context.make_array(tys[2])(context, builder, x_v)
            varr = context.make_array(tys[3])(context, builder, vals_v)
            carr = context.make_array(tys[4])(context, builder, cols_v)
            r0i = context.cast(builder, r0_v, tys[1], types.intp)
            basei = context.cast(builder, base_v, tys[5], types.intp)
            kn = context.cast(builder, klen_v, tys[6], types.intp)
            accs = []
            for _ in range(8 * nvec):
                a = cgutils.alloca_once(builder, _V8)
                builder.store(_zero(), a)
                accs.append(a)
            eight = ir.Constant(basei.type, 8)
            width = ir.Constant(basei.type, lanes)
            with cgutils.for_range(builder, kn) as loop:
                o = builder.add(basei, builder.mul(loop.index, eight))
                for r in range(8):
                    oi = builder.add(o, ir.Constant(o.type, r))
                    w = _splat(builder, builder.load(builder.gep(varr.data, [oi])))
                    c = context.cast(builder, builder.load(builder.gep(carr.data, [oi])), tys[4].dtype, types.intp)
                    cx = builder.mul(c, width)
                    for v in range(nvec):
                        px = builder.gep(xarr.data, [builder.add(cx, ir.Constant(cx.type, 8 * v))])
                        xv = builder.load(builder.bitcast(px, _V8.as_pointer()), align=8)
                        acc = accs[r * nvec + v]
                        builder.store(builder.fadd(builder.load(acc), builder.fmul(w, xv)), acc)
            for r in range(8):
                for v in range(nvec):
                    off = ir.Constant(r0i.type, lanes * r + 8 * v)
                    pr = builder.gep(recarr.data, [builder.add(r0i, off)])
                    builder.store(builder.load(accs[r * nvec + v]), builder.bitcast(pr, _V8.as_pointer()), align=8)
            return context.get_dummy_value()

        return sig, codegen

    slice_lanes.__name__ = slice_lanes.__qualname__ = f"slice_lanes{lanes}"
    slice_lanes.__doc__ = f"""One ELL slice (8 rows) for {lanes} lanes, accumulated in registers.

    ``rec[r0 + {lanes}r + l] = sum_k vals[base + 8k + r] * x[{lanes} cols[base + 8k + r] + l]``
    for rows r = 0..7 and lanes l, summed in k order starting from 0.
    """
    return intrinsic(slice_lanes)


slice_lanes8 = _make_slice_lanes(1)
slice_lanes16 = _make_slice_lanes(2)


@intrinsic
def slice_gather8(typingctx, rec, r0, vals, cols, base, klen, x):
    """One ELL slice (8 rows) of one sequence, accumulated in a register.

    ``rec[r0 + r] = sum_k vals[base + 8k + r] * x[cols[base + 8k + r]]``,
    summed in k order starting from 0.
    """
    sig = types.void(rec, r0, vals, cols, base, klen, x)

    def codegen(context, builder, signature, args):
        from numba.core import cgutils

        rec_v, r0_v, vals_v, cols_v, base_v, klen_v, x_v = args
        tys = signature.args
        recarr = context.make_array(tys[0])(context, builder, rec_v)
        varr = context.make_array(tys[2])(context, builder, vals_v)
        carr = context.make_array(tys[3])(context, builder, cols_v)
        xarr = context.make_array(tys[6])(context, builder, x_v)
        r0i = context.cast(builder, r0_v, tys[1], types.intp)
        basei = context.cast(builder, base_v, tys[4], types.intp)
        kn = context.cast(builder, klen_v, tys[5], types.intp)
        acc = cgutils.alloca_once(builder, _V8)
        builder.store(_zero(), acc)
        eight = ir.Constant(basei.type, 8)
        with cgutils.for_range(builder, kn) as loop:
            o = builder.add(basei, builder.mul(loop.index, eight))
            v = builder.load(builder.bitcast(builder.gep(varr.data, [o]), _V8.as_pointer()), align=8)
            # one vector load of the 8 column indices, then register extracts (fewer loads)
            cvt = ir.VectorType(context.get_value_type(tys[3].dtype), 8)
            cv = builder.load(builder.bitcast(builder.gep(carr.data, [o]), cvt.as_pointer()), align=2)
            g = ir.Constant(_V8, ir.Undefined)
            for r in range(8):
                ci = builder.extract_element(cv, ir.Constant(ir.IntType(32), r))
                c = context.cast(builder, ci, tys[3].dtype, types.intp)
                g = builder.insert_element(g, builder.load(builder.gep(xarr.data, [c])),
                                           ir.Constant(ir.IntType(32), r))
            builder.store(builder.fadd(builder.load(acc), builder.fmul(v, g)), acc)
        pr = builder.gep(recarr.data, [r0i])
        builder.store(builder.load(acc), builder.bitcast(pr, _V8.as_pointer()), align=8)
        return context.get_dummy_value()

    return sig, codegen
