"""Copies, views and in-place updates (alias hunt, /work/hunt/alias/REPORT.md §1, 3, 5, 6, 7, 10,
11): a NumPy copy is a new Tensor (an in-place update of one never changes the other), a write
through a view (or into an array a live view was taken of) is a named TracedMutationError, and
NumPy's in-place and memory attributes a Tensor lacks are named errors. Each value is checked
against the plain NumPy call on plain arrays, a hand-derived gradient, or JAX float64."""
import numpy as np
import pytest

import diffkit as dk

METHODS = ("reverse", "forward", "compiled")


def _all_ways(f, x):
    """(value, gradient) of f at x by every AD method, by dk.jit (1st and 2nd call) and by fd."""
    out = []
    for m in METHODS:
        v, (g,) = dk.value_and_grad(f, method=m)(x.copy())
        out.append((m, v, g))
    jf = dk.jit(f)
    for call in (1, 2):
        v, (g,) = dk.value_and_grad(jf)(x.copy())
        out.append((f"jit call {call}", v, g))
    out.append(("jit value", jf(x.copy()), None))
    g = dk.grad(f, method="fd-central")(x.copy())
    out.append(("fd-central", f(x.copy()), g[0] if isinstance(g, tuple) else g))
    return out


def _check(f, x, value, grad, tol=1e-6):
    for how, v, g in _all_ways(f, x):
        np.testing.assert_allclose(v, value, rtol=tol, err_msg=how)
        if g is not None:
            np.testing.assert_allclose(g, grad, rtol=tol, atol=1e-8, err_msg=how)


# ----- §1 copies are copies ---------------------------------------------------------------------

COPIES = {
    "x.copy()": lambda x: x.copy(),
    "np.copy(x)": lambda x: np.copy(x),
    "np.copy(x, order='K')": lambda x: np.copy(x, order="K"),
    "np.array(x)": lambda x: np.array(x),
    "x.astype(x.dtype)": lambda x: x.astype(x.dtype),
    "x.astype(float)": lambda x: x.astype(float),
    "x.flatten()": lambda x: x.flatten(),
    "+x": lambda x: +x,
    "np.positive(x)": lambda x: np.positive(x),
    "x.reshape(n).copy()": lambda x: x.reshape(len(x)).copy(),
    "np.ravel(x).copy()": lambda x: np.ravel(x).copy(),
}


@pytest.mark.parametrize("make", COPIES.values(), ids=list(COPIES))
def test_update_of_a_copy_leaves_the_original(make):
    def f(x):
        y = make(x)
        y *= 3.0
        return np.sum(x)

    x = np.array([1.0, 2.0])
    assert f(x.copy()) == 3.0  # NumPy's value
    _check(f, x, 3.0, [1.0, 1.0])  # f is sum(x)


@pytest.mark.parametrize("make", COPIES.values(), ids=list(COPIES))
def test_update_of_the_original_leaves_a_copy(make):
    def f(x):
        x = x * 1.0
        y = make(x)
        x *= 3.0
        return np.sum(y * y)

    x = np.array([1.0, 2.0])
    assert f(x.copy()) == 5.0
    _check(f, x, 5.0, 2 * x)  # f is sum(x²)


def test_fixed_point_convergence_check_with_copy():
    def relax(x):
        u = x * 1.0
        for _ in range(3):
            u_old = u.copy()
            u *= 0.5
            u += 1.0
        return np.sum((u - u_old) ** 2)

    x = np.array([1.0, 2.0])
    value = relax(x.copy())
    assert value == pytest.approx(0.015625)
    # hand formula: u_k = x/2^k + c_k, u3 - u2 = -x/8 + 1/4, d/dx sum((u3-u2)²) = 2(u3-u2)(-1/8)
    d = -x / 8 + 0.25
    _check(relax, x, value, 2 * d * (-1 / 8))


def test_copy_through_jacobian_hessian_and_jvp():
    def g(x):
        y = x.copy()
        y *= 2.0
        return x

    np.testing.assert_allclose(dk.jacobian(g)(np.array([1.0, 2.0])), np.eye(2))

    def h(x):
        y = x.copy()
        y *= 2.0
        return np.sum(x ** 2)

    np.testing.assert_allclose(dk.hessian(h)(np.array([1.0, 2.0])), 2 * np.eye(2))

    def f(x):
        y = x.copy()
        y *= 3.0
        return np.sum(x)

    v, t = dk.jvp(f, (np.array([1.0, 2.0]),), (np.array([1.0, 1.0]),))
    assert (float(v), float(t)) == (3.0, 2.0)


def test_eager_copy_and_clone_are_copies():
    # PyTorch: b = a*1; c = b.clone(); b *= 2; c.sum().backward() -> 6 and grad [1, 1, 1]
    for name in ("copy", "clone"):
        a = dk.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
        b = a * 1.0
        c = getattr(b, name)()
        b *= 2.0
        s = c.sum()
        s.backward()
        assert float(s.value) == 6.0
        np.testing.assert_array_equal(a.grad, [1.0, 1.0, 1.0])
    # a leaf: clone of a leaf that requires grad is a computed tensor whose gradient reaches it
    a = dk.tensor(np.array([1.0, 2.0]), requires_grad=True)
    c = a.clone()
    c *= 3.0
    (c * a).sum().backward()
    np.testing.assert_array_equal(a.grad, 6.0 * np.array([1.0, 2.0]))
    # a constant leaf: its own array
    arr = np.array([1.0, 2.0])
    t = dk.tensor(arr)
    u = t.copy()
    u += 1.0
    np.testing.assert_array_equal(t.value, [1.0, 2.0])
    np.testing.assert_array_equal(u.value, [2.0, 3.0])
    w = t.copy().requires_grad_()  # a leaf of its own: backward fills its .grad
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad, [2.0, 4.0])


def test_same_object_alias_still_follows_numpy():
    def f(x):
        x = x * 1.0
        y = x
        x *= 3.0
        return np.sum(y)

    x = np.array([1.0, 2.0])
    _check(f, x, 9.0, [3.0, 3.0])


def test_zero_d_values_rebind_as_python_numbers():
    def f(x):
        s = np.sum(x)
        t = s
        s *= 3.0
        return t + s

    x = np.array([1.0, 2.0])
    _check(f, x, 12.0, [4.0, 4.0])


def test_plain_accumulator_plus_traced_keeps_working():
    def f(x):
        acc = np.zeros(2)
        acc = acc + x
        acc += x * x
        return np.sum(acc)

    x = np.array([1.0, 2.0])
    _check(f, x, 8.0, 1 + 2 * x)


# ----- §3, §7 views: a named error ---------------------------------------------------------------

VIEW_WRITES = {
    "rows": lambda A: [row.__itruediv__(row.sum()) for row in A],
    "slice": lambda A: A[:1].__imul__(3.0),
    "int row": lambda A: A[0].__imul__(3.0),
    "x[None]": lambda A: A[None].__imul__(3.0),
    "T": lambda A: A.T.__imul__(2.0),
    "transpose()": lambda A: A.transpose().__imul__(2.0),
    "swapaxes": lambda A: A.swapaxes(0, 1).__imul__(2.0),
    "np.transpose": lambda A: np.transpose(A).__imul__(2.0),
    "np.moveaxis": lambda A: np.moveaxis(A, 0, 1).__imul__(2.0),
    "reshape": lambda A: A.reshape(4).__iadd__(1.0),
    "np.reshape": lambda A: np.reshape(A, (4,)).__iadd__(1.0),
    "ravel": lambda A: A.ravel().__iadd__(1.0),
    "np.expand_dims": lambda A: np.expand_dims(A, 0).__iadd__(1.0),
    "squeeze": lambda A: A[None].squeeze().__iadd__(1.0),
    "np.diagonal": lambda A: np.diagonal(A).__imul__(2.0),
    "diagonal()": lambda A: A.diagonal().__imul__(2.0),
    "mT": lambda A: A.mT.__imul__(2.0),
    "view()": lambda A: A.view().__imul__(2.0),
    "np.flip": lambda A: np.flip(A, 0).__imul__(2.0),
    "np.split": lambda A: np.split(A, 2)[0].__imul__(2.0),
    "np.atleast_3d": lambda A: np.atleast_3d(A).__imul__(2.0),
}


@pytest.mark.parametrize("write", VIEW_WRITES.values(), ids=list(VIEW_WRITES))
@pytest.mark.parametrize("method", ("reverse", "forward", "compiled", "jit"))
def test_write_through_a_view_is_a_named_error(write, method):
    def f(A):
        A = A * 1.0
        write(A)
        return np.sum(A[:, 0])

    A = np.array([[1.0, 3.0], [2.0, 2.0]])
    g = dk.grad(dk.jit(f)) if method == "jit" else dk.grad(f, method=method)
    with pytest.raises(dk.TracedMutationError, match="view"):
        g(A)


def test_row_normalization_message_names_the_fix():
    def normalize_rows(A):
        A = A.copy()
        for row in A:
            row /= row.sum()
        return np.sum(A[:, 0])

    with pytest.raises(dk.TracedMutationError, match=r"keepdims=True.*row\.copy\(\)"):
        dk.grad(normalize_rows)(np.array([[1.0, 3.0], [2.0, 2.0]]))


def test_real_part_view_of_complex():
    def f(x):
        z = x * (1.0 + 1.0j)
        zr = z.real
        zr *= 2.0
        return np.sum(np.abs(z) ** 2)

    with pytest.raises(dk.TracedMutationError, match="view"):
        dk.grad(f)(np.array([1.0, 2.0]))


@pytest.mark.parametrize("method", ("reverse", "forward", "compiled", "jit"))
def test_update_of_an_array_a_view_was_taken_of_is_a_named_error(method):
    def f(x):
        y = x[:2]
        x *= 3.0
        return np.sum(y)

    x = np.array([1.0, 2.0, 3.0])
    g = dk.grad(dk.jit(f)) if method == "jit" else dk.grad(f, method=method)
    with pytest.raises(dk.TracedMutationError, match=r"view.*x\[:2\]\.copy\(\)"):
        g(x)


def test_dead_views_and_copies_of_views_do_not_block_updates():
    def f(x):
        x = x * 1.0
        s = np.sum(x[:2])  # the view is a temporary, gone at once
        y = x[:2].copy()
        x *= 3.0
        y += 1.0
        return s + np.sum(x) + np.sum(y)

    x = np.array([1.0, 2.0, 3.0])
    # NumPy: s = x0 + x1, sum(3x), y = x[:2] + 1 -> value 3 + 18 + 5 = 26
    assert f(x.copy()) == pytest.approx(26.0)
    _check(f, x, 26.0, [5.0, 5.0, 3.0])


def test_conj_method_of_a_real_array_is_the_array():
    # NumPy: a.conj() of a real array returns a itself, so y *= 2 doubles x
    def f(x):
        x = x * 1.0
        y = x.conj()
        y *= 2.0
        return np.sum(x)

    x = np.array([1.0, 2.0])
    assert f(x.copy()) == 6.0
    _check(f, x, 6.0, [2.0, 2.0])


def test_fancy_index_and_scalar_index_are_copies():
    def f(x):
        y = x[[0, 1]]
        z = x[0]
        y *= 2.0
        z *= 5.0
        x = x * 1.0
        return np.sum(x) + np.sum(y) + z

    x = np.array([1.0, 2.0, 3.0])
    assert f(x.copy()) == pytest.approx(6.0 + 6.0 + 5.0)
    _check(f, x, 17.0, [8.0, 3.0, 1.0])


def test_eager_view_of_leaf_in_place_is_an_error():
    # PyTorch: "a view of a leaf Variable that requires grad is being used in an in-place operation"
    a = dk.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    v = a[:2]
    with pytest.raises(dk.TracingError, match="view"):
        v *= 2.0


def test_eager_view_of_computed_tensor_in_place_is_an_error():
    a = dk.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = a * 1.0
    w = b[:2]
    with pytest.raises(dk.TracedMutationError, match="view"):
        w *= 3.0  # PyTorch: 54 and [18, 36, 6]; diffkit silently gave 14 and [2, 4, 6]
    b = a * 1.0
    v = b[:2]
    with pytest.raises(dk.TracedMutationError, match="view"):
        b *= 3.0  # PyTorch: v.sum() is 9 with grad [3, 3, 0]; diffkit gave 3 and [1, 1, 0]
    del v
    b *= 3.0  # the view is gone: the update is fine
    b.sum().backward()
    np.testing.assert_array_equal(a.grad, [3.0, 3.0, 3.0])


# ----- §5 partition ------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ("reverse", "forward", "compiled", "jit"))
def test_partition_in_place(method):
    def f(x):
        a = x * 1.0
        a.partition(1)
        return np.sum(a * np.arange(3.0))

    x = np.array([0.5, -1.2, 2.0])
    assert f(x.copy()) == pytest.approx(4.5)  # NumPy's value
    g = dk.value_and_grad(dk.jit(f)) if method == "jit" else dk.value_and_grad(f, method=method)
    for _ in range(2):
        v, (d,) = g(x.copy())
        assert v == pytest.approx(4.5)
        np.testing.assert_allclose(d, [1.0, 0.0, 2.0])  # JAX float64 (jnp.partition)


def test_partition_against_jax():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def f(x):
        a = x * 1.0
        a.partition(2)
        return np.sum(a ** 2 * np.arange(4.0))

    def fj(x):
        return jnp.sum(jnp.partition(x, 2) ** 2 * jnp.arange(4.0))

    x = np.array([0.3, -1.0, 2.5, 0.7])
    v, (g,) = dk.value_and_grad(f)(x)
    np.testing.assert_allclose(v, float(fj(x)))
    np.testing.assert_allclose(g, np.asarray(jax.grad(fj)(x)))


# ----- §11 bare AttributeErrors ------------------------------------------------------------------

MUTATORS = {
    "fill": lambda x: x.fill(1.0),
    "resize": lambda x: x.resize(2),
    "put": lambda x: x.put([0], [1.0]),
    "itemset": lambda x: x.itemset(0, 1.0),
    "setfield": lambda x: x.setfield(1.0, np.float64),
    "byteswap": lambda x: x.byteswap(),
    "shape =": lambda x: setattr(x, "shape", (1, 3)),
    "real =": lambda x: setattr(x, "real", 3 * x),
}

READS = {
    "base": lambda x: x.base,
    "flat": lambda x: x.flat,
    "strides": lambda x: x.strides,
    "view(dtype)": lambda x: x.view(np.int64),
}


@pytest.mark.parametrize("use", MUTATORS.values(), ids=list(MUTATORS))
def test_numpy_mutators_are_named_errors(use):
    def f(x):
        use(x)
        return np.sum(x)

    with pytest.raises(dk.TracedMutationError, match="write"):
        dk.grad(f)(np.array([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("use", READS.values(), ids=list(READS))
def test_numpy_memory_attributes_are_named_errors(use):
    def f(x):
        use(x)
        return np.sum(x)

    with pytest.raises(dk.TracingError):
        dk.grad(f)(np.array([1.0, 2.0, 3.0]))


def test_hasattr_stays_false_for_missing_numpy_attributes():
    seen = {}

    def f(x):
        for name in ("fill", "base", "flat", "resize", "put", "strides", "no_such_name"):
            seen[name] = hasattr(x, name)
        return np.sum(x)

    dk.grad(f)(np.array([1.0, 2.0]))
    assert not any(seen.values())


def test_mT_is_the_matrix_transpose():
    def f(A):
        return np.sum(A.mT * np.array([[1.0, 2.0], [3.0, 4.0]]))

    A = np.array([[1.0, -1.0], [0.5, 2.0]])
    if hasattr(A, "mT"):
        assert f(A) == pytest.approx(np.sum(A.mT * np.array([[1.0, 2.0], [3.0, 4.0]])))
    v, (g,) = dk.value_and_grad(f)(A)
    np.testing.assert_allclose(g, [[1.0, 3.0], [2.0, 4.0]])  # d/dA sum(Aᵀ ∘ W) = Wᵀ
    np.testing.assert_allclose(v, np.sum(A.T * np.array([[1.0, 2.0], [3.0, 4.0]])))


def test_view_without_arguments_reads_the_same_values():
    def f(x):
        return np.sum(x.view() ** 2)

    x = np.array([1.0, 2.0])
    g = dk.grad(f)(x)
    np.testing.assert_allclose(g[0] if isinstance(g, tuple) else g, 2 * x)


# ----- §10 messages ------------------------------------------------------------------------------

def test_store_into_plain_array_message_names_the_store():
    def f(x):
        out = np.zeros(3)
        out[0] = x[0]
        return np.sum(out)

    with pytest.raises(dk.TracingError, match="stored into a plain NumPy array"):
        dk.grad(f)(np.array([1.0, 2.0, 3.0]))


def test_slice_store_into_plain_array_message_names_the_store():
    def f(x):
        a = np.empty(3)
        a[:] = x
        return np.sum(a)

    with pytest.raises(dk.TracingError, match="stored into a plain NumPy array"):
        dk.grad(f)(np.array([1.0, 2.0, 3.0]))


def test_out_equal_traced_value_message():
    def f(x):
        h = x * 2.0
        np.maximum(h, 0, out=h)
        return np.sum(h)

    with pytest.raises(dk.TracingError) as info:
        dk.grad(f)(np.array([1.0, -2.0]))
    message = str(info.value)
    assert "written into a NumPy array" not in message
    assert "out=" in message and "np.maximum(" in message


# ----- §6 dk.tensor copies ------------------------------------------------------------------------

def test_tensor_copies_the_callers_array():
    arr = np.array([1.0, 2.0, 3.0])
    p = dk.tensor(arr, requires_grad=True)
    p.data -= 1.0
    np.testing.assert_array_equal(arr, [1.0, 2.0, 3.0])  # torch.tensor(arr) copies
    arr2 = np.array([1.0, 2.0, 3.0])
    q = dk.tensor(arr2, requires_grad=True)
    loss = (q * q).sum()
    arr2[0] = 10.0  # the caller reuses its buffer after the forward pass
    loss.backward()
    np.testing.assert_array_equal(q.grad, [2.0, 4.0, 6.0])
    from diffkit import nn

    opt = nn.SGD([q], lr=0.5)
    opt.step()
    np.testing.assert_array_equal(arr2, [10.0, 2.0, 3.0])
