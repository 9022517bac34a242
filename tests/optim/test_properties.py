"""Property-based tests (hypothesis): shapes, dtypes, strides and hyperparameters."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastopt
from fastopt.backends import _dispatch

from conftest import FAST_BACKENDS, bits, examples

SETTINGS = settings(max_examples=examples(40), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

shapes = st.lists(st.integers(0, 9), min_size=0, max_size=3).map(tuple)
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
                  initial_accumulator_value=draw(small))
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


@SETTINGS
@given(opt=optimizers(), shape=shapes, dtype=dtypes, backend=st.sampled_from(FAST_BACKENDS),
       seed=st.integers(0, 2**32 - 1), threads=st.integers(1, 3))
def test_fast_backend_equals_reference_for_any_shape_and_hyperparameters(
        opt, shape, dtype, backend, seed, threads):
    if not _dispatch.is_available(backend):
        return
    cls, kw = opt
    rng = np.random.default_rng(seed)
    start = rng.standard_normal(shape).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(5)]
    results = []
    fastopt.set_num_threads(threads)
    for b in ("python", backend):
        p = start.copy()
        o = cls(p, backend=b, **kw)
        with np.errstate(all="ignore"):  # a diverging run is still compared
            for g in grads:
                o.step(g)
        results.append((p, o))
    fastopt.set_num_threads(None)
    (p_ref, o_ref), (p_fast, o_fast) = results
    assert_same_values(p_fast, p_ref)
    for name, v in o_ref.state[0].items():
        if isinstance(v, np.ndarray):
            assert_same_values(o_fast.state[0][name], v)


def assert_same_values(got, want):
    """Bitwise where the reference is not NaN; NaN where it is NaN.

    Random hyperparameters can make a run diverge.  IEEE 754 leaves the sign and
    payload of a NaN unspecified and compilers may reorder negations around one,
    so NaNs are compared as NaNs; every other value (infinities included) by its bits.
    """
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(bits(got)[~nan], bits(want)[~nan])


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
