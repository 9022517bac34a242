"""Properties of bad and odd input (issue 11, fault 5): sparse index arrays and gradients of
every integer dtype, sign, range, layout and aliasing.

Whatever the input, a step either equals the reference bit for bit (and touches only the
listed rows) or raises a precise error before anything is written.  The compiled loops run
without bounds checks, so these properties are also what the sanitizer run
(tools/sanitize.sh) exercises.  ``FASTOPT_HYPOTHESIS_PROFILE=long`` runs 10,000 examples each.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastopt
from fastopt.backends import _dispatch

from conftest import bits, examples

SETTINGS = settings(max_examples=examples(30), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

BACKENDS = [b for b in ("python", "numba", "cython") if _dispatch.is_available(b)]
INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
              np.uint64, np.intp]
OK_INDEX = (np.dtype(np.int32), np.dtype(np.int64))

RULES = st.sampled_from([
    (fastopt.SGD, dict(lr=0.1)), (fastopt.SGD, dict(lr=0.1, momentum=0.9)),
    (fastopt.Adagrad, dict(lr=0.1)), (fastopt.Adagrad, dict(lr=0.1, rowwise=True)),
    (fastopt.Adadelta, dict()), (fastopt.RMSprop, dict(centered=True, momentum=0.5)),
    (fastopt.Adam, dict(lr=0.1, amsgrad=True, weight_decay=0.01)), (fastopt.Adamax, dict()),
    (fastopt.NAdam, dict()),
])


def snapshot(p, opt):
    return bits(p).copy(), {k: (bits(v).copy() if isinstance(v, np.ndarray) else v)
                            for k, v in opt.state[0].items()}


def unchanged(p, opt, snap):
    now = snapshot(p, opt)
    assert now[0].tolist() == snap[0].tolist()
    assert sorted(now[1]) == sorted(snap[1])
    for k, v in snap[1].items():
        assert (now[1][k].tolist() if isinstance(v, np.ndarray) else now[1][k]) == \
            (v.tolist() if isinstance(v, np.ndarray) else v)


@st.composite
def index_arrays(draw, n_rows):
    """Index arrays of any integer dtype, sign, range, layout; huge duplicate runs included."""
    dtype = np.dtype(draw(st.one_of(st.sampled_from(OK_INDEX), st.sampled_from(INT_DTYPES))))
    info = np.iinfo(dtype)
    kind = draw(st.sampled_from(["valid", "valid", "duplicates", "negative", "too large",
                                 "extreme", "empty"]))
    k = draw(st.integers(0, 12))
    if kind == "empty":
        values = []
    elif kind == "duplicates":
        values = [draw(st.integers(0, n_rows - 1))] * draw(st.integers(50, 3000)) + \
            draw(st.lists(st.integers(0, n_rows - 1), max_size=k))
    elif kind == "negative" and info.min < 0:
        values = draw(st.lists(st.integers(max(info.min, -3 * n_rows), n_rows - 1),
                               min_size=1, max_size=k + 1))
        values[draw(st.integers(0, len(values) - 1))] = draw(st.one_of(
            st.just(-1), st.integers(max(info.min, -n_rows), -1)))   # the boundary, often
    elif kind == "too large" and info.max >= n_rows:
        values = draw(st.lists(st.integers(0, min(info.max, 3 * n_rows)), min_size=1,
                               max_size=k + 1))
        values[draw(st.integers(0, len(values) - 1))] = draw(st.one_of(
            st.just(n_rows), st.integers(n_rows, min(info.max, 3 * n_rows))))
    elif kind == "extreme":
        values = [draw(st.sampled_from([int(info.min), int(info.max)]))] + \
            draw(st.lists(st.integers(0, min(n_rows - 1, info.max)), max_size=k))
    else:
        values = draw(st.lists(st.integers(0, min(n_rows - 1, info.max)), max_size=k))
    values = [v for v in values if info.min <= v <= info.max]
    layout = draw(st.sampled_from(["contiguous", "contiguous", "strided", "reversed"]))
    base = np.array(values, dtype=dtype)
    if layout == "strided" and base.size > 1:
        wide = np.empty(2 * base.size, dtype)
        wide[::2] = base
        base = wide[::2]
    elif layout == "reversed" and base.size > 1:
        base = base[::-1].copy()[::-1]
    return base


@SETTINGS
@given(rule=RULES, n_rows=st.integers(1, 9), d=st.integers(1, 3),
       dtype=st.sampled_from([np.float32, np.float64]), backend=st.sampled_from(BACKENDS),
       threads=st.integers(1, 3), data=st.data())
def test_any_sparse_index_array_gives_the_reference_or_a_clean_error(
        rule, n_rows, d, dtype, backend, threads, data):
    cls, kwargs = rule
    indices = data.draw(index_arrays(n_rows))
    rng = np.random.default_rng(indices.size)
    start = rng.standard_normal((n_rows, d)).astype(dtype)
    values = rng.standard_normal((indices.size, d)).astype(dtype)
    fastopt.set_num_threads(threads)
    p = start.copy()
    opt = cls(p, backend=backend, **kwargs)
    opt.step(fastopt.SparseGrad(np.arange(n_rows)[::-1].copy(), np.ones((n_rows, d), dtype)))
    snap = snapshot(p, opt)
    grad = fastopt.SparseGrad(indices, values)
    if indices.dtype not in OK_INDEX:
        error, match = TypeError, "indices must have dtype int32 or int64"
    elif not indices.flags.c_contiguous:
        error, match = ValueError, "indices is not C-contiguous"
    elif indices.size and (indices.min() < 0 or indices.max() >= n_rows):
        error, match = IndexError, r"indices has row -?\d+, outside \[0, "
    else:
        error = None
    if error is not None:
        with pytest.raises(error, match=match):
            opt.step(grad)
        unchanged(p, opt, snap)
        return
    with np.errstate(all="ignore"):
        opt.step(grad)
    # the reference on a copy of the state before this step
    q = start.copy()
    ref = cls(q, backend="python", **kwargs)
    ref.step(fastopt.SparseGrad(np.arange(n_rows)[::-1].copy(), np.ones((n_rows, d), dtype)))
    with np.errstate(all="ignore"):
        ref.step(fastopt.SparseGrad(indices.astype(np.int64), values))
    assert bits(p).tolist() == bits(q).tolist()
    for k, v in ref.state[0].items():
        if isinstance(v, np.ndarray):
            assert bits(opt.state[0][k]).tolist() == bits(v).tolist(), k
    untouched = np.setdiff1d(np.arange(n_rows), indices)
    assert bits(p[untouched]).tolist() == snap[0][untouched].tolist()


@st.composite
def gradient_layouts(draw, p, opt, other):
    """A gradient for ``p``: fresh, strided, reversed, or a view of a parameter or state."""
    how = draw(st.sampled_from(["fresh", "strided", "reversed", "param", "other param",
                                "state", "other state", "fortran", "readonly"]))
    shape, dtype = p.shape, p.dtype
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    fresh = rng.standard_normal(shape).astype(dtype)
    if how == "strided":
        wide = np.empty(shape[:-1] + (2 * shape[-1],), dtype)
        wide[..., ::2] = fresh
        return how, wide[..., ::2]
    if how == "reversed":
        return how, fresh[::-1]
    if how == "param":
        return how, p
    if how == "other param":
        return how, other.reshape(-1)[:p.size].reshape(shape)
    if how in ("state", "other state"):
        arrays = [v for i in opt.state for v in opt.state[i].values()
                  if isinstance(v, np.ndarray) and v.size >= p.size
                  and (i == 0) == (how == "state")]
        if arrays:
            return how, draw(st.sampled_from(arrays)).reshape(-1)[:p.size].reshape(shape)
        return "fresh", fresh
    if how == "fortran":
        return how, np.asfortranarray(fresh)
    if how == "readonly":
        fresh.flags.writeable = False
    return how, fresh


@SETTINGS
@given(rule=RULES, shape=st.sampled_from([(3, 4), (5, 2), (7, 3)]),
       dtype=st.sampled_from([np.float32, np.float64]), backend=st.sampled_from(BACKENDS),
       flat=st.booleans(), data=st.data())
def test_any_gradient_layout_or_alias_gives_the_reference_or_a_clean_error(
        rule, shape, dtype, backend, flat, data):
    cls, kwargs = rule
    rng = np.random.default_rng(0)
    if flat:
        params = fastopt.flat_arrays([shape, (4 * shape[0] * shape[1],)], dtype)
    else:
        params = [np.empty(shape, dtype), np.empty(4 * shape[0] * shape[1], dtype)]
    for q in params:
        q[...] = rng.standard_normal(q.shape)
    opt = cls(params, backend=backend, **kwargs)
    opt.step([np.ones(q.shape, dtype) for q in params])
    how, g = data.draw(gradient_layouts(params[0], opt, params[1]))
    snaps = [bits(q).copy() for q in params]
    states = opt.state_dict()
    square = kwargs.get("rowwise") and len(shape) > 1
    if how in ("strided", "reversed", "fortran") and not g.flags.c_contiguous:
        with pytest.raises(ValueError, match=r"grads\[0\] is not C-contiguous"):
            opt.step([g, None])
    elif how in ("param", "other param", "state", "other state"):
        with pytest.raises(ValueError, match=r"grads\[0\] shares memory with"):
            opt.step([g, None])
    else:
        ref_params = [q.copy() for q in params]
        ref = cls(ref_params, backend="python", **kwargs)
        ref.load_state_dict(states)
        g_copy = np.array(g)
        opt.step([g, None])
        ref.step([g_copy, None])
        assert bits(params[0]).tolist() == bits(ref_params[0]).tolist(), (how, square)
        return
    assert [bits(q).tolist() for q in params] == [s.tolist() for s in snaps]
    after = opt.state_dict()["state"]
    for i, s in states["state"].items():
        for k, v in s.items():
            if isinstance(v, np.ndarray):
                assert bits(after[i][k]).tolist() == bits(v).tolist()
            else:
                assert after[i][k] == v
