"""Neural-net primitives: fused operations diffkit.nn builds layers and losses from.

One node instead of many keeps the eager tape short, and their rules stay in float32 when the
inputs are float32. diffkit.nn computes float16 statistics and updates in float32
(:func:`working_dtype`).
"""

from __future__ import annotations

import builtins
import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import DomainError, ShapeError
from ..primitive import bind
from .declare import (
    composite,
    declared_in,
    dtype_of,
    elementwise,
    shape_of,
    structural,
    unit_cotangent,
)
from .elementwise import (
    greater,
    greater_equal,
    less,
    log,
    log1p,
    maximum,
    mul,
    neg,
    stop_gradient,
    where,
)
from .products import matmul
from .special import _log_softmax_values, _softmax_pieces, log_softmax
from .structure import broadcast_to, reshape, sum, transpose
from .ufuncs import logical_and


def _linear_jvp(ts: Any, k: int, xs: Any, out: Any) -> Any:
    x, w, _ = xs
    n_in, n_out = shape_of(w)[1], shape_of(w)[0]
    total = None
    if ts[0] is not None:
        total = matmul(ts[0], transpose(w))
    if ts[1] is not None:
        x2 = reshape(x, (-1, n_in))
        term = reshape(matmul(x2, transpose(ts[1], (0, 2, 1))), (k, *shape_of(out)))
        total = term if total is None else total + term
    if ts[2] is not None:
        term = reshape(ts[2], (k,) + (1,) * (len(shape_of(out)) - 1) + (n_out,))
        total = term if total is None else total + term
    return broadcast_to(total, (k, *shape_of(out)))


def _linear_vjp(ct: Any, xs: Any, out: Any) -> tuple[Any, Any, Any]:
    x, w, _ = xs
    ct2 = reshape(ct, (-1, shape_of(w)[0]))
    return (lambda: matmul(ct, w),  # x̄ (not needed for a network's data input)
            lambda: matmul(transpose(ct2), reshape(x, (-1, shape_of(w)[1]))),
            lambda: bind(sum, ct2, axis=(0,), keepdims=False))


def _prepare_linear(x: Any, weight: Any, bias: Any) -> Any:
    sx, sw, sb = shape_of(x), shape_of(weight), shape_of(bias)
    if len(sw) != 2 or not sx or sx[-1] != sw[1] or sb != (sw[0],):
        raise ShapeError(f"linear: input {sx}, weight {sw} and bias {sb} do not fit "
                         "(need input (..., in), weight (out, in), bias (out,))")
    return (x, weight, bias), {}


linear = structural(
    "linear", lambda xp, x, weight, bias: xp.matmul(x, weight.T) + bias, jvp=_linear_jvp,
    vjp=_linear_vjp, nargs=3, prepare=_prepare_linear, latex=r"\operatorname{linear}",
    cost=lambda ins, out: math.prod(out) * ins[1][1], holomorphic=True,
    doc="x @ weight.T + bias, PyTorch's layout: weight (out_features, in_features), bias (out,).")


def _pair(k: int | Sequence[int]) -> tuple[int, int]:
    return (int(k), int(k)) if isinstance(k, int | np.integer) else (int(k[0]), int(k[1]))


def _int_or_pair(k: int | Sequence[int]) -> int | tuple[int, int]:
    """A stride or padding as one int (the same along H and W) or an (h, w) pair of ints."""
    kh, kw = _pair(k)
    return kh if kh == kw else (kh, kw)


def _conv_out(size: int, k: int, stride: int, padding: int, dilation: int = 1) -> int:
    """⌊(size + 2p − d·(k − 1) − 1)/s⌋ + 1: a dilated kernel spans d·(k − 1) + 1 entries."""
    return (size + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def _window(i: int, d: int, s: int, n: int) -> slice:
    """Where kernel tap i reads along one axis for n outputs: start i·d, step s."""
    return slice(i * d, i * d + s * (n - 1) + 1, s)


def _im2col_impl(xp: Any, x: Any, kernel_size: tuple[int, int], stride: int | tuple[int, int],
                 padding: int | tuple[int, int], dilation: int | tuple[int, int] = 1) -> Any:
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, _pair(stride), _pair(padding), _pair(
        dilation)
    oh, ow = _conv_out(h, kh, sh, ph, dh), _conv_out(w, kw, sw, pw, dw)
    if ph or pw:
        x = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = xp.empty((n, oh, ow, c, kh, kw), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            window = x[:, :, _window(i, dh, sh, oh), _window(j, dw, sw, ow)]
            cols[:, :, :, :, i, j] = window.transpose(0, 2, 3, 1)
    return cols.reshape(n, oh, ow, c * kh * kw)


def _col2im_impl(xp: Any, cols: Any, kernel_size: tuple[int, int], stride: int | tuple[int, int],
                 padding: int | tuple[int, int], shape: tuple[int, int, int, int],
                 dilation: int | tuple[int, int] = 1) -> Any:
    n, c, h, w = shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, _pair(stride), _pair(padding), _pair(
        dilation)
    oh, ow = cols.shape[1], cols.shape[2]
    out = xp.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    c6 = cols.reshape(n, oh, ow, c, kh, kw)
    for i in range(kh):
        for j in range(kw):
            out[:, :, _window(i, dh, sh, oh), _window(j, dw, sw, ow)] += (
                c6[:, :, :, :, i, j].transpose(0, 3, 1, 2))
    return out[:, :, ph:ph + h, pw:pw + w] if ph or pw else out


def _merge_k(t: Any, k: int) -> Any:
    """(k, n, ...) -> (k*n, ...): the k directions become extra batch rows."""
    s = shape_of(t)
    return reshape(t, (k * s[1], *s[2:]))


def _prepare_im2col(x: Any, kernel_size: int | Sequence[int], stride: int | Sequence[int] = 1,
                    padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1) -> Any:
    """stride, padding and dilation: one int, or an (h, w) pair (PyTorch's Conv2d arguments)."""
    ks, (sh, sw), (ph, pw), (dh, dw) = (_pair(kernel_size), _pair(stride), _pair(padding),
                                        _pair(dilation))
    s = shape_of(x)
    if (len(s) != 4 or min(sh, sw, dh, dw) < 1 or min(ph, pw) < 0
            or s[2] + 2 * ph < dh * (ks[0] - 1) + 1 or s[3] + 2 * pw < dw * (ks[1] - 1) + 1):
        raise ShapeError(f"im2col: input {s} does not fit kernel {ks}, stride {stride}, "
                         f"padding {padding}, dilation {dilation} (need an (N, C, H, W) batch)")
    return (x,), {"kernel_size": ks, "stride": _int_or_pair(stride),
                  "padding": _int_or_pair(padding), "dilation": _int_or_pair(dilation)}


im2col = structural(
    "im2col", _im2col_impl, linear=True, prepare=_prepare_im2col,
    batch=lambda ts, k, xs, out, kernel_size, stride, padding, dilation=1: reshape(
        im2col(_merge_k(ts[0], k), kernel_size, stride, padding, dilation), (k, *shape_of(out))),
    vjp=lambda ct, xs, out, kernel_size, stride, padding, dilation=1: (
        col2im(ct, kernel_size, stride, padding, shape_of(xs[0]), dilation),),
    latex=r"\operatorname{im2col}", holomorphic=True,
    doc="Patches of an (N, C, H, W) batch as rows: (N, OH, OW, C·kh·kw). Linear; transpose col2im.")
col2im = structural(
    "col2im", _col2im_impl, linear=True,
    prepare=lambda cols, kernel_size, stride, padding, shape, dilation=1: ((cols,), {
        "kernel_size": _pair(kernel_size), "stride": _int_or_pair(stride),
        "padding": _int_or_pair(padding),
        "shape": tuple(int(n) for n in shape), "dilation": _int_or_pair(dilation)}),
    batch=lambda ts, k, xs, out, kernel_size, stride, padding, shape, dilation=1: reshape(
        col2im(_merge_k(ts[0], k), kernel_size, stride, padding, (k * shape[0], *shape[1:]),
               dilation), (k, *shape)),
    vjp=lambda ct, xs, out, kernel_size, stride, padding, shape, dilation=1: (
        im2col(ct, kernel_size, stride, padding, dilation),),
    latex=r"\operatorname{col2im}", holomorphic=True,
    doc="Sum patches (N, OH, OW, C·kh·kw) back into an image batch of `shape`: im2col's transpose.")


def _pieces_of_arrays(xp: Any, z: Any) -> tuple[Any, Any, Any, Any]:
    """(d, e, top, ρ) of ``special._softmax_pieces`` on arrays over the last axis, the same
    operations in the same order (eager values equal the generated code's bit for bit). Array
    methods: what xp.max/xp.sum call, without NumPy's Python wrapper (~2 µs each)."""
    m = z.max(axis=-1, keepdims=True)
    d = z - m
    e = xp.exp(d)
    top = d == 0.0
    below = xp.where(top, 0.0, e).sum(axis=-1, keepdims=True)
    return d, e, top, below + (xp.where(top, e, 0.0).sum(axis=-1, keepdims=True) - 1.0)


def _xent_impl(xp: Any, z: Any, t: Any) -> Any:
    # log_p = d − log1p(ρ): the value of log_softmax (and of nll_loss(log_softmax(z))) bit for bit
    d, _, _, rho = _pieces_of_arrays(xp, z)
    log_p = d - xp.log1p(rho)
    # a class of target weight 0 adds nothing, also where its logit is −inf (a masked class:
    # 0·(−inf) would make the row NaN; PyTorch's class-index loss picks the target's entry)
    return -(t * xp.where(t, log_p, 0.0)).sum(axis=-1)  # (t: nonzero is true)


def _xent_expand(z: Any, t: Any) -> Any:
    """``_xent_impl`` in primitives, the same operations in the same order: generated code
    shares its pieces (``special._softmax_pieces``) with the VJP's."""
    log_p = where(t, _log_softmax_values(z, -1), 0.0)
    return neg(bind(sum, mul(t, log_p), axis=(len(shape_of(z)) - 1,), keepdims=False))


def _xent_target_pieces(z: Any) -> tuple[Any, Any]:
    """(q, lone) over the last axis for the gradient record's rules in the target's direction,
    p·Σw − w and ⟨p, w⟩ − w (∂²L/∂zᵢ∂tⱼ = pᵢ − δᵢⱼ): q is softmax(z) less 1 at a lone maximum of
    probability > ½ (`lone`). There e = 1 and ρ = Σ_{j≠k} e exactly (`below`,
    :func:`special._softmax_pieces`), so pₖ − 1 = −below/(1 + ρ), not e/(1 + ρ) − 1, which
    subtracted 1 from a pₖ rounded to 1 (logits [40, 0, −1]: 0, not −5.81e-18). As a function
    of z (m stopped) −below/(1 + ρ) is pₖ − 1 (below does not hold zₖ; −ρ/(1 + ρ) would not
    be), so its own derivatives are right too. Elsewhere q = e/(1 + ρ), the bits of p."""
    _, e, rho, _, top, below = _softmax_pieces(z, -1)
    lone = logical_and(top, less(stop_gradient(rho), 1.0))
    return where(lone, neg(below), e) / (1.0 + rho), lone


def _xent_vjp(ct: Any, xs: Any, out: Any) -> tuple[Any, Any]:
    z, t = xs
    ct1 = reshape(ct, (*shape_of(ct), 1))
    # t̄ = −log_softmax(z), only for learned targets, in log_softmax's own form (the bits of
    # d − log1p(ρ)): its dominant entry's zₖ-derivative is pₖ − 1 = −ρ/(1 + ρ) and the row's
    # second derivatives pᵢ(δᵢⱼ − pⱼ) keep 1 − pₖ; d − log1p(ρ) added pₖ (from log1p(ρ)) and
    # −1 (from zₖ − m): ∂²L/∂zₖ∂tₖ at [40, 0, −1] was 0, not −5.81e-18
    return (lambda: ct1 * softmax_cross_entropy_grad(z, t),
            lambda: ct1 * neg(log_softmax(z, -1)))


def _xent_grad_form(s: Any, u: Any, e: Any, t: Any, rho: Any) -> Any:
    """Σt·p − t with p = e/(1 + ρ), written ((s·e + (u·e − t)) − t·ρ)/(1 + ρ), s and u the
    targets' sums off and on the maxima: at a lone maximum e = 1 exactly and u = tₖ, so its
    entry is (s − tₖ·ρ)/(1 + ρ) = Σ_{j≠k} tⱼ − Σt·(1 − pₖ) without cancellation (pₖ·Σt − tₖ
    subtracted 1 from a pₖ rounded to 1: float32 logits [20, 0], label 0 gave 0, not −2.06e-9;
    Σt − tₖ lost the other targets' digits). Works on arrays and on primitives alike."""
    return ((s * e + (u * e - t)) - t * rho) / (1.0 + rho)


def _xent_grad_impl(xp: Any, z: Any, t: Any) -> Any:
    _, e, top, rho = _pieces_of_arrays(xp, z)
    s = xp.where(top, 0.0, t).sum(axis=-1, keepdims=True)
    u = xp.where(top, t, 0.0).sum(axis=-1, keepdims=True)
    return _xent_grad_form(s, u, e, t, rho)


def _xent_grad_expand(z: Any, t: Any) -> Any:
    """``_xent_grad_impl`` in primitives, in the same order: generated code shares the pieces
    with the loss's expansion (one exp of the logits for the loss and its gradient)."""
    _, e, rho, _, top, _ = _softmax_pieces(z, -1)
    last = (len(shape_of(z)) - 1,)
    s = bind(sum, where(top, 0.0, t), axis=last, keepdims=True)
    u = bind(sum, where(top, t, 0.0), axis=last, keepdims=True)
    return _xent_grad_form(s, u, e, t, rho)


def _softmax_tangent(z: Any, v: Any) -> Any:
    """J·v for p = softmax(z) over the last axis (J = diag(p) − ppᵀ, symmetric): p ⊙ (v − ⟨p, v⟩),
    where a lone maximum of probability > ½ takes v_k − ⟨p, v⟩ as Σ_{j≠k} pⱼ·(v_k − vⱼ) (the
    same number where Σp = 1, as a function too): its ∂pₖ/∂zₖ = pₖ(1 − pₖ) keeps the digits
    of 1 − pₖ, which v_k − ⟨p, v⟩ cancels (logits [40, 0, −1]: 5.8e-18, not 0). `v` may have
    leading axes of its own (a batch of tangents)."""
    _, e, rho, _, top, _ = _softmax_pieces(z, -1)
    last = (len(shape_of(v)) - 1,)
    p = e / (1.0 + rho)
    lone = logical_and(top, less(stop_gradient(rho), 1.0))
    v_top = bind(sum, where(top, v, 0.0), axis=last, keepdims=True)  # v_k where alone
    # the top's own term, pₖ·0, is left out: as a function of v it made v_k's adjoint
    # Σⱼ pⱼ − pₖ, which cancels (reverse ∂³L/∂zₖ²∂tₖ at [40, 0, −1]: 0, not 5.8e-18)
    spread = bind(sum, where(top, 0.0, p * (v_top - v)), axis=last, keepdims=True)
    return p * where(lone, spread, v - bind(sum, p * v, axis=last, keepdims=True))


def _xent_grad_jvp(ts: Any, k: int, xs: Any, out: Any) -> Any:
    """d(Σt·p − t) = Σt·J·ż + p·Σṫ − ṫ (J = ∂p/∂z: :func:`_softmax_tangent`), for a batch of
    `k` tangents along a leading axis."""
    z, t = xs
    tz, tt = ts
    total = None
    if tz is not None:
        mass = bind(sum, t, axis=(len(shape_of(t)) - 1,), keepdims=True)
        total = _softmax_tangent(z, mass * tz)
    if tt is not None:  # p·Σṫ − ṫ, at a lone maximum k (pₖ − 1)·Σṫ + Σ_{j≠k} ṫⱼ
        q, lone = _xent_target_pieces(z)
        last = (len(shape_of(tt)) - 1,)
        off = bind(sum, where(lone, 0.0, tt), axis=last, keepdims=True)
        term = q * bind(sum, tt, axis=last, keepdims=True) - where(lone, neg(off), tt)
        total = term if total is None else total + term
    return total


def _xent_grad_vjp(ct: Any, xs: Any, out: Any) -> tuple[Any, Any]:
    """z̄ = J·(Σt·w) (J symmetric), t̄ᵢ = ⟨p, w⟩ − wᵢ for a cotangent w
    (:func:`_xent_target_pieces`)."""
    z, t = xs
    last = (len(shape_of(z)) - 1,)

    def t_bar() -> Any:  # ⟨p, w⟩ − wᵢ = ⟨q, w⟩ − (wᵢ − wₖ) at a lone maximum k: ⟨q, w⟩ at k
        q, lone = _xent_target_pieces(z)
        w_top = bind(sum, where(lone, ct, 0.0), axis=last, keepdims=True)
        return bind(sum, q * ct, axis=last, keepdims=True) - (ct - w_top)

    return (lambda: _softmax_tangent(z, bind(sum, t, axis=last, keepdims=True) * ct)), t_bar


def _xent_grad_sympy(sp: Any, z: Any, t: Any) -> Any:
    """Row by row Σt·exp(zᵢ − m)/Σⱼ exp(zⱼ − m) − tᵢ, m = max z as a shift whose derivative is 0
    (:class:`ShiftMax`: the value does not depend on it)."""
    from ._ufunc_sympy import ShiftMax  # imports SymPy: on first use only

    z, t = np.asarray(z, dtype=object), np.asarray(t, dtype=object)
    out = np.empty(z.shape, dtype=object)
    for row in np.ndindex(*z.shape[:-1]):
        zs, ts = list(z[row]), list(t[row])
        m = ShiftMax(*zs)
        total = builtins.sum(sp.exp(v - m) for v in zs)
        mass = sp.Add(*ts)
        for i, (v, ti) in enumerate(zip(zs, ts)):
            out[(*row, i)] = mass * sp.exp(v - m) / total - ti
    return out


def _xent_jvp(ts: Any, k: int, xs: Any, out: Any) -> Any:
    # the rows' unit cotangents in the output's dtype (a Python 1.0 made float32 work float64)
    rules = _xent_vjp(broadcast_to(unit_cotangent(out), shape_of(out)), xs, out)
    last = (len(shape_of(xs[0])),)
    total = None
    for tan, d in zip(ts, rules):
        if tan is not None:
            term = bind(sum, tan * d(), axis=last, keepdims=False)
            total = term if total is None else total + term
    return total


def _xent_sympy(sp: Any, z: Any, t: Any) -> Any:
    """Σ t·(logsumexp(z) − z) in the forms of ``_log_normalizer``, so that SymPy's derivative
    does not cancel either: where zₖ dominates (ρ = Σ_{j≠k} exp(zⱼ − zₖ) < 1, pₖ > ½),
    Σᵢ tᵢ·(zₖ − zᵢ + log1p(ρ)), whose tₖ term is tₖ·log1p(ρ) (SymPy drops zₖ − zₖ), so ∂/∂zₖ
    forms pₖ − 1 as −ρ/(1 + ρ), not 1/(1 + ρ) − 1 (0 for logits [40, 0]); elsewhere
    m + log Σ exp(z − m), m = max z (no overflow; the value does not depend on m, so m is a
    :class:`ShiftMax`, whose derivative is 0: SymPy's Max′ has a kink at a tie of the two largest
    logits, where the symbolic Hessian refused a smooth function). The value's grouping
    (z − m) − log Σ cannot be written here: SymPy flattens a sum of sums into one Add."""
    from ._ufunc_sympy import ShiftMax  # imports SymPy: on first use only
    from ._ufunc_sympy import log1p as sympy_log1p

    z, t = np.asarray(z, dtype=object), np.asarray(t, dtype=object)
    n = z.shape[-1]

    def row_loss(*row: Any) -> Any:
        zs, ts = row[:n], row[n:]
        m = ShiftMax(*zs)
        pieces = []
        for k in range(n):
            rho = sp.Add(*(sp.exp(v - zs[k]) for j, v in enumerate(zs) if j != k))
            pieces.append((sp.Add(*(ti * (zs[k] - v + sympy_log1p(rho))
                                    for ti, v in zip(ts, zs))), rho < 1))
        lse = m + sp.log(builtins.sum(sp.exp(v - m) for v in zs))
        pieces.append((sp.Add(*(ti * (lse - v) for ti, v in zip(ts, zs))), True))
        return sp.Piecewise(*pieces)

    loss = np.frompyfunc(row_loss, 2 * n, 1)
    out = loss(*np.moveaxis(z, -1, 0), *np.moveaxis(t, -1, 0))
    return np.asarray(out, dtype=object)  # 0-d for 1-D logits


def _prepare_xent(logits: Any, target: Any) -> Any:
    if shape_of(logits) != shape_of(target) or not shape_of(logits):
        raise ShapeError(f"softmax_cross_entropy: logits {shape_of(logits)} and target "
                         f"{shape_of(target)} must have the same (non-scalar) shape")
    return (logits, target), {}


softmax_cross_entropy_grad = structural(
    "softmax_cross_entropy_grad", _xent_grad_impl, jvp=_xent_grad_jvp, vjp=_xent_grad_vjp,
    nargs=2, prepare=_prepare_xent, sympy=_xent_grad_sympy, expand=_xent_grad_expand,
    latex=r"\nabla\operatorname{CE}", holomorphic=False,
    doc="Σtarget · softmax(logits) − target over the last axis: softmax_cross_entropy's gradient "
        "in its logits, without cancellation at a confident row (its own derivatives too).")

softmax_cross_entropy = structural(
    "softmax_cross_entropy", _xent_impl, jvp=_xent_jvp, vjp=_xent_vjp, nargs=2,
    prepare=_prepare_xent, sympy=_xent_sympy, expand=_xent_expand, latex=r"\operatorname{CE}",
    holomorphic=False,
    doc="−Σ target · log_softmax(logits) over the last axis (stable); target: probabilities.")

#: e⁻¹⁰⁰ in float64 (above the exact value: e⁻¹⁰⁰ is irrational); the binary cross-entropy's logs
#: are clamped at −100, PyTorch's rule: L(q) = max(log q, −100)
_BCE_FLOOR = math.exp(-100.0)


@functools.cache
def _log_floor(dtype: np.dtype) -> Any:
    """The least number of `dtype` above e⁻¹⁰⁰: log q > −100 exactly where q ≥ it. The floor
    must not be e⁻¹⁰⁰ rounded to nearest: that is 0 in float16 (log 0 = −inf, so 0·log 0 = NaN)
    and in float32 the subnormal 3.8e-44, which clamped p = 0 at log 3.8e-44 = −99.98."""
    real = dtype if dtype.kind == "f" else np.dtype(np.float64)
    f = real.type(_BCE_FLOOR)
    return f if float(f) >= _BCE_FLOOR else np.nextafter(f, real.type(np.inf))


def _log_clamped(q: Any) -> Any:
    """L(q) = max(log q, −100) in q's dtype: log q from the floor on, −100 below (0 included)."""
    floor = _log_floor(dtype_of(q))
    return where(greater_equal(q, floor), log(maximum(q, floor)), -100.0)


def _log1m_clamped(p: Any) -> Any:
    """L(1 − p) = max(log1p(−p), −100) in p's dtype. log1p(−p), not log(1 − p): forming 1 − p
    keeps only the bits of a small p that survive the subtraction from 1 (float32 p = 1e-7 gave
    a loss 19 % off, p = 1e-12 gave 0). The clamp's test on 1 − p is exact where it matters
    (1 − p is exact for p ≥ ½), and p = 1 − q is kept out of log1p's pole where clamped."""
    keep = greater_equal(1.0 - p, _log_floor(dtype_of(p)))
    return where(keep, log1p(neg(where(keep, p, 0.0))), -100.0)


def _bce_impl(xp: Any, p: Any, y: Any) -> Any:
    if not bool(xp.all((p >= 0) & (p <= 1))):  # NaN too: its comparisons are all False, and
        # the clamped logs made it a finite loss of 100 with a zero gradient (PyTorch raises)
        nan = " (NaN found)" if bool(xp.any(xp.isnan(p))) else ""
        raise DomainError(f"binary_cross_entropy needs probabilities 0 <= p <= 1{nan} (apply "
                          "dk.sigmoid to logits, or use binary_cross_entropy_with_logits)")
    return -(y * _log_clamped(p) + (1.0 - y) * _log1m_clamped(p))


def _bce_dp(p: Any, y: Any, o: Any) -> Any:
    """∂/∂p = −y/p + (1 − y)/(1 − p), each term 0 where its log is clamped (p or 1 − p below
    e⁻¹⁰⁰: below its floor in p's dtype)."""
    floor = _log_floor(dtype_of(p))
    q = 1.0 - p
    lo, hi = greater_equal(p, floor), greater_equal(q, floor)
    return (where(hi, (1.0 - y) / where(hi, q, 1.0), 0.0)
            - where(lo, y / where(lo, p, 1.0), 0.0))


def _bce_dy(p: Any, y: Any, o: Any) -> Any:
    """∂/∂y = L(1 − p) − L(p): the value's two clamped logs, formed as the value forms them."""
    return _log1m_clamped(p) - _log_clamped(p)


def _bce_sympy(sp: Any, p: Any, y: Any) -> Any:
    """The clamps as Piecewise, with the value's tests (q ≥ floor); log(1 − p) kept a log1p (a
    SymPy log(1 − p) evaluated numerically cancels as the value did)."""
    from ._ufunc_sympy import log1p as sympy_log1p  # imports SymPy: on first use only

    floor = sp.Float(_BCE_FLOOR, 17)
    return -(y * sp.Piecewise((sp.log(p), p >= floor), (-100, True))
             + (1 - y) * sp.Piecewise((sympy_log1p(-p), 1 - p >= floor), (-100, True)))


binary_cross_entropy = elementwise(
    "binary_cross_entropy", _bce_impl, (_bce_dp, _bce_dy), _bce_sympy,
    latex=r"\operatorname{BCE}", numpy=(), domain=((0.05, 0.95), (0.0, 1.0)),
    domain_text="binary_cross_entropy needs 0 <= p <= 1 (logs are clamped at -100)",
    holomorphic=False)


@composite
def leaky_relu(x: Any, negative_slope: float = 0.01) -> Any:
    """x where x > 0, else negative_slope·x (derivative at 0: negative_slope)."""
    return where(greater(x, 0.0), x, mul(negative_slope, x))


__all__ = declared_in(__name__)
