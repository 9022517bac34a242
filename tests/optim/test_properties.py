"""Property-based tests (hypothesis): shapes, dtypes, strides and hyperparameters.

The equivalence properties reach the threaded path: ``PARALLEL_THRESHOLD`` is lowered
to ``TEST_THRESHOLD`` inside them (test-only, restored after every example), so that
drawn parameters of a few dozen elements are updated on ``threads`` chunks.  A
missing backend skips the test with its reason (never a silent pass).
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastopt

from conftest import FAST_BACKENDS, assert_same_values, bits, examples, lowered_threshold, require

SETTINGS = settings(max_examples=examples(40), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

shapes = st.lists(st.integers(0, 9), min_size=0, max_size=3).map(tuple)
#: The threading threshold inside the equivalence properties: drawn shapes have up to
#: 729 elements, so most of them are updated in 2 or 3 chunks.
TEST_THRESHOLD = 17

dtypes = st.sampled_from([np.float32, np.float64])
unit = st.floats(0.0, 0.999)
small = st.floats(0.0, 0.1)


@st.composite
def optimizers(draw):
    """An optimizer class with random valid hyperparameters."""
    cls = draw(st.sampled_from([fastopt.SGD, fastopt.Adagrad, fastopt.Adadelta, fastopt.RMSprop,
                                fastopt.Adam, fastopt.AdamW, fastopt.Adamax, fastopt.NAdam]))
    kw = dict(lr=draw(st.floats(1e-4, 0.5)))
    if cls is fastopt.SGD:
        kw.update(momentum=draw(unit), weight_decay=draw(small), maximize=draw(st.booleans()))
        if kw["momentum"] > 0 and draw(st.booleans()):
            kw["nesterov"] = True
        else:
            kw["dampening"] = draw(unit)
    elif cls is fastopt.Adagrad:
        kw.update(lr_decay=draw(small), weight_decay=draw(small), eps=draw(st.floats(0, 1e-6)),
                  initial_accumulator_value=draw(small), rowwise=draw(st.booleans()))
    elif cls is fastopt.Adadelta:
        kw.update(rho=draw(unit), eps=draw(st.floats(1e-8, 1e-4)), weight_decay=draw(small))
    elif cls is fastopt.RMSprop:
        kw.update(alpha=draw(unit), momentum=draw(unit), centered=draw(st.booleans()),
                  weight_decay=draw(small))
    else:
        kw.update(betas=(draw(unit), draw(unit)), weight_decay=draw(small),
                  eps=draw(st.floats(1e-8, 1e-4)))
        if cls in (fastopt.Adam, fastopt.AdamW):
            kw["amsgrad"] = draw(st.booleans())
        if cls is fastopt.NAdam:
            kw["momentum_decay"] = draw(st.floats(0, 0.1))
    return cls, kw


def assert_backend_equals_reference(cls, kw, start, grads, backend, threads):
    """Steps from ``start`` with ``grads`` on ``threads`` threads, threshold lowered: the
    backend's parameter and state equal the reference's (NaN as NaN)."""
    results = []
    fastopt.set_num_threads(threads)
    try:
        with lowered_threshold(TEST_THRESHOLD):
            for b in ("python", backend):
                p = start.copy()
                o = cls(p, backend=b, **kw)
                with np.errstate(all="ignore"):  # a diverging run is still compared
                    for g in grads:
                        o.step(g)
                results.append((p, o))
    finally:
        fastopt.set_num_threads(None)
    (p_ref, o_ref), (p_fast, o_fast) = results
    assert_same_values(p_fast, p_ref, "param")
    for name, v in o_ref.state[0].items():
        if isinstance(v, np.ndarray):
            assert_same_values(o_fast.state[0][name], v, name)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@SETTINGS
@given(opt=optimizers(), shape=shapes, dtype=dtypes, seed=st.integers(0, 2**32 - 1),
       threads=st.integers(1, 3))
def test_fast_backend_equals_reference_for_any_shape_and_hyperparameters(
        backend, opt, shape, dtype, seed, threads):
    require(backend)
    cls, kw = opt
    if kw.get("rowwise") and not shape:
        kw = {**kw, "rowwise": False}  # rows need at least one axis
    rng = np.random.default_rng(seed)
    start = rng.standard_normal(shape).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(5)]
    assert_backend_equals_reference(cls, kw, start, grads, backend, threads)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@SETTINGS
@given(opt=optimizers(), n_rows=st.integers(1, 40), d=st.integers(0, 6), dtype=dtypes,
       seed=st.integers(0, 2**32 - 1), threads=st.integers(1, 3))
def test_sparse_steps_equal_reference_for_any_rows_and_hyperparameters(
        backend, opt, n_rows, d, dtype, seed, threads):
    """Sparse gradients (duplicates, empty batches) on tables of any size, above the
    lowered threshold: the compiled backends give the reference's bits."""
    require(backend)
    cls, kw = opt
    rng = np.random.default_rng(seed)
    start = rng.standard_normal((n_rows, d)).astype(dtype)
    grads = []
    for _ in range(3):
        indices = rng.integers(0, n_rows, int(rng.integers(0, 2 * n_rows)))
        grads.append(fastopt.SparseGrad(indices, rng.standard_normal((indices.size, d))
                                        .astype(dtype)))
    assert_backend_equals_reference(cls, kw, start, grads, backend, threads)


@SETTINGS
@given(shape=st.lists(st.integers(2, 6), min_size=1, max_size=3).map(tuple), dtype=dtypes,
       data=st.data())
def test_strided_parameters_are_refused_and_contiguous_views_accepted(shape, dtype, data):
    base = np.zeros(shape, dtype)
    axis = data.draw(st.integers(0, len(shape) - 1))
    index = [slice(None)] * len(shape)
    index[axis] = slice(None, None, 2)
    view = base[tuple(index)]
    if view.flags.c_contiguous:  # a stride over a length-1 axis can still be contiguous
        fastopt.SGD(view)
    else:
        with pytest.raises(ValueError, match="not C-contiguous"):
            fastopt.SGD(view)
    fastopt.SGD(base[1:])  # a contiguous view of a bigger array is updated in place
    if len(shape) > 1:
        with pytest.raises(ValueError, match="not C-contiguous"):
            fastopt.SGD(base.T if base.ndim > 1 and not base.T.flags.c_contiguous else base[:, ::2])


@SETTINGS
@given(cls=st.sampled_from([fastopt.SGD, fastopt.Adagrad, fastopt.Adadelta, fastopt.RMSprop,
                            fastopt.Adam, fastopt.AdamW, fastopt.Adamax, fastopt.NAdam]),
       name=st.sampled_from(["lr", "eps", "weight_decay"]),
       value=st.one_of(st.floats(max_value=-1e-300), st.just(float("nan")),
                       st.just(float("inf"))))
def test_any_negative_or_nonfinite_hyperparameter_is_refused(cls, name, value):
    if name == "eps" and cls is fastopt.SGD:
        name = "momentum"
    with pytest.raises(ValueError, match=name):
        cls(np.zeros(3), **{name: value})


@SETTINGS
@given(shape=shapes, dtype=dtypes, other=dtypes, seed=st.integers(0, 100))
def test_gradient_of_another_shape_or_dtype_is_refused_before_writing(shape, dtype, other, seed):
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(shape).astype(dtype)
    before = bits(p).copy()
    opt = fastopt.Adam(p)
    bad_shape = shape + (2,)
    with pytest.raises(ValueError, match="shape"):
        opt.step(np.zeros(bad_shape, dtype))
    if other != dtype:
        with pytest.raises(TypeError, match="dtype"):
            opt.step(np.zeros(shape, other))
    np.testing.assert_array_equal(bits(p), before)
    assert not opt.state[0]
