"""Bad input gets a precise error naming the argument, raised before anything is written."""
import math

import numpy as np
import pytest

import fastopt

from conftest import bits

ALL = [fastopt.SGD, fastopt.Adagrad, fastopt.Adadelta, fastopt.RMSprop, fastopt.Adam,
       fastopt.AdamW, fastopt.Adamax, fastopt.NAdam, fastopt.RAdam, fastopt.Lion, fastopt.Rprop,
       fastopt.ASGD, fastopt.SparseAdam, fastopt.LAMB, fastopt.Ftrl, fastopt.ProximalAdagrad,
       fastopt.Adafactor]


def snapshot(params, opt):
    return ([bits(p).copy() for p in params],
            {i: {k: (bits(v).copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
             for i, s in opt.state.items()})


def assert_untouched(before, params, opt):
    after = snapshot(params, opt)
    for a, b in zip(before[0], after[0]):
        np.testing.assert_array_equal(a, b)
    assert before[1].keys() == after[1].keys()
    for i in before[1]:
        for k, v in before[1][i].items():
            np.testing.assert_array_equal(v, after[1][i][k])


@pytest.fixture
def trained():
    """An Adam optimizer over two float32 parameters that has taken three steps."""
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((4, 3)).astype(np.float32),
              rng.standard_normal(5).astype(np.float32)]
    opt = fastopt.Adam(params, lr=0.1, amsgrad=True)
    for _ in range(3):
        opt.step([rng.standard_normal(p.shape).astype(np.float32) for p in params])
    return params, opt


# -- parameters -----------------------------------------------------------------------

@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("bad,error,match", [
    ([1.0, 2.0], TypeError, r"params\[0\] must be a numpy.ndarray"),
    (np.zeros(3, dtype=np.int64), TypeError, r"params\[0\] must have dtype float32, float64, "),
    (np.zeros(3, dtype=np.complex128), TypeError, r"params\[0\] must have dtype"),
    (np.zeros(3, dtype=np.int8), TypeError, r"params\[0\] must have dtype"),
    (np.zeros((4, 4))[:, 1], ValueError, r"params\[0\] is not C-contiguous"),
    (np.zeros((4, 4)).T, ValueError, r"params\[0\] is not C-contiguous"),
    ([], ValueError, "params is empty"),
    (3.0, TypeError, "params must be"),
])
def test_bad_parameters_are_refused(cls, bad, error, match):
    if isinstance(bad, list) and bad and not isinstance(bad[0], np.ndarray):
        bad = [bad]
    with pytest.raises(error, match=match):
        cls(bad)


def test_read_only_parameter_is_refused():
    p = np.zeros(3)
    p.flags.writeable = False
    with pytest.raises(ValueError, match=r"params\[0\] is read-only"):
        fastopt.Adam(p)


def test_overlapping_parameters_are_refused():
    buf = np.zeros(10)
    with pytest.raises(ValueError, match=r"params\[0\] and params\[1\] share memory"):
        fastopt.SGD([buf[:6], buf[4:]])
    with pytest.raises(ValueError, match="share memory"):
        fastopt.SGD([buf, buf])
    fastopt.SGD([buf[:5], buf[5:]])  # adjacent, not overlapping: fine


@pytest.mark.parametrize("flat", [False, True])
def test_a_parameter_group_added_over_the_optimizers_state_is_refused(flat):
    """An array added with ``add_param_group`` that shares memory with a state array (an
    ``exp_avg`` reused as a parameter) was accepted: each step then wrote it both as a
    parameter and as that state.  It is refused as an assigned state array sharing memory
    with a parameter is, and the optimizer stays as it was."""
    params = fastopt.flat_arrays([(3,), (4,)]) if flat else [np.zeros(3), np.zeros(4)]
    opt = fastopt.Adam(params, lr=0.1)
    opt.step([np.ones(3), np.ones(4)])
    for new in (opt.state[0]["exp_avg"], opt.state[1]["exp_avg_sq"][1:]):
        with pytest.raises(ValueError, match=r"params\[2\] shares memory with "
                                             r"opt.state\[\d\]\['exp_avg"):
            opt.add_param_group({"params": [new]})
    assert len(opt.param_groups) == 1 and opt.state_dict()["param_groups"][0]["params"] == [0, 1]
    opt.add_param_group({"params": [np.zeros(2)]})
    opt.step([np.ones(3), np.ones(4), np.ones(2)])


def test_unknown_hyperparameter_in_group_is_refused():
    with pytest.raises(TypeError, match="unknown hyperparameter.*momentum"):
        fastopt.Adam([{"params": [np.zeros(2)], "momentum": 0.9}])


# -- hyperparameters --------------------------------------------------------------------

BAD_HYPER = [
    (fastopt.SGD, dict(lr=-0.1), ValueError, "lr must be >= 0"),
    (fastopt.SGD, dict(lr=math.nan), ValueError, "lr must be finite"),
    (fastopt.SGD, dict(lr=math.inf), ValueError, "lr must be finite"),
    (fastopt.SGD, dict(lr="0.1"), TypeError, "lr must be a real number"),
    (fastopt.SGD, dict(lr=True), TypeError, "lr must be a real number"),
    (fastopt.SGD, dict(momentum=-0.5), ValueError, "momentum must be >= 0"),
    (fastopt.SGD, dict(dampening=1.5), ValueError, "dampening must be in"),
    (fastopt.SGD, dict(weight_decay=-1e-4), ValueError, "weight_decay must be >= 0"),
    (fastopt.SGD, dict(nesterov=True), ValueError, "nesterov requires momentum > 0"),
    (fastopt.SGD, dict(nesterov=True, momentum=0.9, dampening=0.1), ValueError,
     "nesterov requires momentum > 0 and dampening = 0"),
    (fastopt.SGD, dict(maximize=1), TypeError, "maximize must be a bool"),
    (fastopt.Adagrad, dict(eps=-1e-10), ValueError, "eps must be >= 0"),
    (fastopt.Adagrad, dict(lr_decay=-1.0), ValueError, "lr_decay must be >= 0"),
    (fastopt.Adagrad, dict(initial_accumulator_value=-0.1), ValueError,
     "initial_accumulator_value must be >= 0"),
    (fastopt.Adadelta, dict(rho=1.1), ValueError, "rho must be in"),
    (fastopt.Adadelta, dict(rho=math.nan), ValueError, "rho must be finite"),
    (fastopt.RMSprop, dict(alpha=-0.1), ValueError, "alpha must be in"),
    (fastopt.RMSprop, dict(centered="yes"), TypeError, "centered must be a bool"),
    (fastopt.Adam, dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\] must be in \[0.0, 1.0\)"),
    (fastopt.Adam, dict(betas=(-0.1, 0.999)), ValueError, r"betas\[0\] must be in"),
    (fastopt.Adam, dict(betas=(0.9,)), TypeError, "betas must be a pair"),
    (fastopt.Adam, dict(betas=0.9), TypeError, "betas must be a pair"),
    (fastopt.Adam, dict(amsgrad=None), TypeError, "amsgrad must be a bool"),
    (fastopt.AdamW, dict(weight_decay=-0.01), ValueError, "weight_decay must be >= 0"),
    (fastopt.Adamax, dict(betas=(1.0, 0.999)), ValueError, r"betas\[0\]"),
    (fastopt.NAdam, dict(momentum_decay=-4e-3), ValueError, "momentum_decay must be >= 0"),
    (fastopt.NAdam, dict(decoupled_weight_decay=1), TypeError,
     "decoupled_weight_decay must be a bool"),
    (fastopt.RAdam, dict(betas=(0.9, 1.0)), ValueError, r"betas\[1\] must be in"),
    (fastopt.RAdam, dict(eps=-1.0), ValueError, "eps must be >= 0"),
    (fastopt.RAdam, dict(decoupled_weight_decay="no"), TypeError,
     "decoupled_weight_decay must be a bool"),
    (fastopt.Lion, dict(lr=-1e-4), ValueError, "lr must be >= 0"),
    (fastopt.Lion, dict(betas=(0.9, math.nan)), ValueError, r"betas\[1\] must be finite"),
    (fastopt.Lion, dict(weight_decay=math.inf), ValueError, "weight_decay must be finite"),
    (fastopt.Rprop, dict(etas=(1.2, 0.5)), ValueError, r"etas must satisfy 0 < etas\[0\] < 1"),
    (fastopt.Rprop, dict(etas=(0.0, 1.2)), ValueError, "etas must satisfy"),
    (fastopt.Rprop, dict(etas=(0.5, 1.0)), ValueError, "etas must satisfy"),
    (fastopt.Rprop, dict(etas=0.5), TypeError, "etas must be a pair"),
    (fastopt.Rprop, dict(step_sizes=(1.0, 0.1)), ValueError, "step_sizes must satisfy"),
    (fastopt.Rprop, dict(step_sizes=(-1.0, 0.1)), ValueError, "step_sizes must satisfy"),
    (fastopt.Rprop, dict(step_sizes=(0.0, math.nan)), ValueError, r"step_sizes\[1\] must be finite"),
    (fastopt.ASGD, dict(lambd=-1.0), ValueError, "lambd must be >= 0"),
    (fastopt.ASGD, dict(alpha=-0.75), ValueError, "alpha must be >= 0"),
    (fastopt.ASGD, dict(t0=math.inf), ValueError, "t0 must be finite"),
    (fastopt.ASGD, dict(t0="1e6"), TypeError, "t0 must be a real number"),
    (fastopt.SparseAdam, dict(betas=(1.0, 0.9)), ValueError, r"betas\[0\] must be in"),
    (fastopt.SparseAdam, dict(eps=-1e-8), ValueError, "eps must be >= 0"),
    (fastopt.LAMB, dict(eps=math.nan), ValueError, "eps must be finite"),
    (fastopt.Ftrl, dict(lr=0.0), ValueError, "lr must be > 0"),
    (fastopt.Ftrl, dict(lr_power=0.5), ValueError, "lr_power must be <= 0, got 0.5"),
    (fastopt.Ftrl, dict(lr_power=-math.inf), ValueError, "lr_power must be finite"),
    (fastopt.Ftrl, dict(lr_power=math.nan), ValueError, "lr_power must be finite"),
    (fastopt.Ftrl, dict(lr_power="-0.5"), TypeError, "lr_power must be a real number"),
    (fastopt.Ftrl, dict(l1=-0.1), ValueError, "l1 must be >= 0"),
    (fastopt.Ftrl, dict(l2_shrinkage=math.inf), ValueError, "l2_shrinkage must be finite"),
    (fastopt.Ftrl, dict(initial_accumulator_value=-1.0), ValueError,
     "initial_accumulator_value must be >= 0"),
    (fastopt.ProximalAdagrad, dict(initial_accumulator_value=0.0), ValueError,
     "initial_accumulator_value must be > 0"),
    (fastopt.ProximalAdagrad, dict(l2=-1.0), ValueError, "l2 must be >= 0"),
]


@pytest.mark.parametrize("cls,kwargs,error,match", BAD_HYPER,
                         ids=[f"{c.__name__}-{k}" for c, k, _, _ in BAD_HYPER])
def test_bad_hyperparameters_are_refused(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(np.zeros(3), **kwargs)


def test_bad_hyperparameter_in_a_group_names_the_group():
    with pytest.raises(ValueError, match=r"param_groups\[1\]\.lr must be >= 0"):
        fastopt.SGD([{"params": [np.zeros(2)]}, {"params": [np.zeros(2)], "lr": -1.0}])


def test_hyperparameter_changed_to_a_bad_value_is_caught_at_step(trained):
    params, opt = trained
    before = snapshot(params, opt)
    opt.param_groups[0]["lr"] = -1.0
    with pytest.raises(ValueError, match=r"param_groups\[0\]\.lr must be >= 0"):
        opt.step([np.ones_like(p) for p in params])
    assert_untouched(before, params, opt)
    opt.param_groups[0]["lr"] = 0.05  # a valid value is accepted again
    opt.step([np.ones_like(p) for p in params])


# -- gradients ----------------------------------------------------------------------------

def _bad_grads(params):
    f32 = np.float32
    g0, g1 = np.ones(params[0].shape, f32), np.ones(params[1].shape, f32)
    return [
        ([g0], ValueError, "grads has 1 entries but the optimizer has 2 parameters"),
        (g0, ValueError, "grads is one gradient but the optimizer has 2 parameters"),
        (42, TypeError, "grads must be an array or a list of arrays"),
        ([g0, [1.0] * 5], TypeError, r"grads\[1\] must be a numpy.ndarray"),
        ([g0, g1.astype(np.float64)], TypeError,
         r"grads\[1\] has dtype float64 but params\[1\] has dtype float32"),
        ([g0, g1.astype(np.complex64)], TypeError, r"grads\[1\] has dtype complex64"),
        ([g0, np.ones(6, f32)], ValueError, r"grads\[1\] has shape \(6,\) but params\[1\]"),
        ([g0.T, g1], ValueError, r"grads\[0\] has shape"),
        ([np.ones((3, 4), f32).T, g1], ValueError, r"grads\[0\] is not C-contiguous"),
        ([g0, params[1]], ValueError, r"grads\[1\] shares memory with params\[1\]"),
    ]


@pytest.mark.parametrize("case", range(10))
@pytest.mark.parametrize("backend", ["python", "numba", "cython"])
def test_bad_gradients_are_refused_before_any_write(trained, case, backend):
    from conftest import require
    require(backend)
    params, opt = trained
    opt.backend = backend
    grads, error, match = _bad_grads(params)[case]
    before = snapshot(params, opt)
    with pytest.raises(error, match=match):
        opt.step(grads)
    assert_untouched(before, params, opt)


def test_gradient_overlapping_its_parameter_is_refused():
    buf = np.zeros(8)
    p = buf[:5]
    opt = fastopt.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="shares memory"):
        opt.step(buf[3:])


def test_none_gradient_skips_the_parameter(trained):
    params, opt = trained
    before = bits(params[0]).copy()
    step0 = opt.state[0]["step"]
    opt.step([None, np.ones(5, np.float32)])
    np.testing.assert_array_equal(bits(params[0]), before)
    assert opt.state[0]["step"] == step0 and opt.state[1]["step"] == step0 + 1


# -- checkpoints ------------------------------------------------------------------------

def _corrupt(sd, how):
    if how == "not a dict":
        return [1, 2]
    if how == "extra key":
        sd["extra"] = 1
    elif how == "group count":
        sd["param_groups"].append(dict(sd["param_groups"][0]))
    elif how == "group size":
        sd["param_groups"][0]["params"] = [0]
    elif how == "bad hyper":
        sd["param_groups"][0]["lr"] = -1.0
    elif how == "missing hyper":
        del sd["param_groups"][0]["eps"]
    elif how == "unknown hyper":
        sd["param_groups"][0]["momentum"] = 0.9
    elif how == "bad index":
        sd["state"][7] = sd["state"][0]
    elif how == "bad step":
        sd["state"][0]["step"] = -1
    elif how == "missing state":
        del sd["state"][1]["exp_avg"]
    elif how == "unknown state":
        sd["state"][1]["momentum_buffer"] = np.zeros(5, np.float32)
    elif how == "wrong shape":
        sd["state"][1]["exp_avg"] = np.zeros(6, np.float32)
    elif how == "wrong dtype":
        sd["state"][1]["exp_avg_sq"] = np.zeros(5, np.float64)
    return sd


@pytest.mark.parametrize("how", ["not a dict", "extra key", "group count", "group size",
                                 "bad hyper", "missing hyper", "unknown hyper", "bad index",
                                 "bad step", "missing state", "unknown state", "wrong shape",
                                 "wrong dtype"])
def test_malformed_state_dict_is_refused_and_changes_nothing(trained, how):
    params, opt = trained
    before = snapshot(params, opt)
    lr = opt.param_groups[0]["lr"]
    with pytest.raises(ValueError):
        opt.load_state_dict(_corrupt(opt.state_dict(), how))
    assert_untouched(before, params, opt)
    assert opt.param_groups[0]["lr"] == lr


# -- backends ---------------------------------------------------------------------------

def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend must be one of"):
        fastopt.Adam(np.zeros(2), backend="cuda")
    with pytest.raises(ValueError, match="backend must be one of"):
        fastopt.set_backend("fortran")


def test_unavailable_backend_says_how_to_get_it(monkeypatch):
    from fastopt.backends import _dispatch
    monkeypatch.setitem(_dispatch._available, "numba", False)
    with pytest.raises(RuntimeError, match="pip install numba"):
        fastopt.Adam(np.zeros(2), backend="numba")
    monkeypatch.setitem(_dispatch._available, "cython", False)
    with pytest.raises(RuntimeError, match="C compiler"):
        fastopt.set_backend("cython")
    assert "cython" not in fastopt.available_backends()


def test_bad_thread_counts_are_refused():
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="n must be a positive integer"):
            fastopt.set_num_threads(bad)


def test_gradient_reshaped_in_place_after_a_step_is_refused():
    """A gradient array reused between steps is re-checked if its shape or dtype changed."""
    p = np.zeros((2, 3))
    g = np.ones((2, 3))
    opt = fastopt.SGD(p, lr=0.1)
    opt.step(g)
    before = p.copy()
    g.shape = (3, 2)
    with pytest.raises(ValueError, match=r"grads\[0\] has shape \(3, 2\)"):
        opt.step(g)
    g.shape = (2, 3)
    g.dtype = np.int64  # same itemsize: a reinterpretation of the same bytes
    with pytest.raises(TypeError, match="grads\\[0\\] has dtype int64"):
        opt.step(g)
    np.testing.assert_array_equal(p, before)


# -- ndarray subclasses ------------------------------------------------------------------
# A gradient may be any ndarray subclass; the kernels read its data as a plain array.
# np.matrix stayed 2-D when flattened for the kernels (every backend refused it after the
# step count had moved), and numba refuses a masked array when it compiles a kernel for
# it (a NumbaTypeError after the step count had moved, on a process's first such call).

SUBCLASS_CASES = ["masked", "matrix", "masked sparse", "masked float16"]


def _subclass_case(kind, rng):
    """``(params, plain gradients, the same gradients as subclass arrays)``."""
    dtype = np.float16 if kind == "masked float16" else np.float64
    params = [rng.standard_normal((4, 3)).astype(dtype), rng.standard_normal(5).astype(dtype)]
    plain = [rng.standard_normal(p.shape) for p in params]
    if kind == "masked sparse":
        plain[0] = fastopt.SparseGrad(np.array([2, 0, 2]), rng.standard_normal((3, 3)))
        odd = [fastopt.SparseGrad(plain[0].indices, np.ma.masked_array(plain[0].values)),
               np.ma.masked_array(plain[1])]
    elif kind == "matrix":
        odd = [np.asmatrix(plain[0]), plain[1]]
    else:
        plain = [g.astype(np.float32 if dtype == np.float16 else dtype) for g in plain]
        odd = [np.ma.masked_array(g, mask=g > 0) for g in plain]  # (the mask is not read)
    return params, plain, odd


@pytest.mark.parametrize("backend", ["python", "numba", "cython"])
@pytest.mark.parametrize("kind", SUBCLASS_CASES)
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # (np.matrix)
def test_ndarray_subclass_gradients_step_as_their_data(backend, kind):
    from conftest import require
    require(backend)
    rng = np.random.default_rng(5)
    params, plain, odd = _subclass_case(kind, rng)
    twins = [p.copy() for p in params]
    opt = fastopt.Adam(params, lr=0.1, backend=backend)
    ref = fastopt.Adam(twins, lr=0.1, backend=backend)
    for _ in range(3):  # the same subclass objects again (the last step's gradients)
        opt.step(odd)
        ref.step(plain)
    alone, alone_twin = params[1].copy(), params[1].copy()
    one, one_ref = (fastopt.Adam(alone, backend=backend),
                    fastopt.Adam(alone_twin, backend=backend))
    one.step(odd[1])
    one_ref.step(plain[1])
    for a, b in zip(params + [alone], twins + [alone_twin]):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("backend", ["python", "numba", "cython"])
@pytest.mark.parametrize("kind", ["masked", "matrix"])
@pytest.mark.parametrize("flat", [False, True])
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # (np.matrix)
def test_ndarray_subclass_parameters_are_updated_as_their_data(backend, kind, flat):
    """A parameter that is an ndarray subclass is updated in place as its data (dense
    steps, separate or in one buffer, and a sparse one): the bits of a plain array."""
    from conftest import require
    require(backend)
    rng = np.random.default_rng(7)
    shapes = [(4, 3), (5,)]
    plain = fastopt.flat_arrays(shapes) if flat else [np.zeros(s) for s in shapes]
    for p in plain:
        p[...] = rng.standard_normal(p.shape)
    twins = [p.copy() for p in plain]
    params = [np.ma.masked_array(plain[0]) if kind == "masked" else np.asmatrix(plain[0]),
              plain[1]]
    opt = fastopt.Adam(params, lr=0.1, backend=backend)
    ref = fastopt.Adam(twins, lr=0.1, backend=backend)
    grads = [rng.standard_normal(s) for s in shapes]
    for g0 in (grads[0], grads[0], fastopt.SparseGrad(np.array([3, 1]), grads[0][:2])):
        opt.step([g0, grads[1]])
        ref.step([g0, grads[1]])
    for a, b in zip(plain, twins):
        np.testing.assert_array_equal(bits(a), bits(b))


def test_masked_arrays_at_numbas_first_compile():
    """numba types its arguments when it compiles a kernel: a masked array there (here in a
    new process, where no kernel was compiled yet: a masked gradient, then a masked
    parameter) must not reach it."""
    import subprocess
    import sys
    from conftest import require
    require("numba")
    code = ("import numpy as np, fastopt\n"
            "p = np.zeros(3); opt = fastopt.Adam([p, np.zeros(2)], backend='numba')\n"
            "opt.step([np.ma.masked_array(np.ones(3)), np.ones(2)])\n"
            "q = np.ma.masked_array(np.zeros(4)); one = fastopt.SGD([q], backend='numba')\n"
            "one.step([np.ones(4)])\n"
            "print(opt.state[0]['step'], one.state[0]['step'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["1", "1"]


# -- unaligned arrays -------------------------------------------------------------------
# np.frombuffer(..., offset=1) makes a C-contiguous array whose address is not a multiple
# of its itemsize.  The Python checks let it through once, and the Cython kernel refused
# it after the step count had moved; every such array is now refused before any write.

def _unaligned(dtype, shape):
    dtype = np.dtype(dtype)
    n = int(np.prod(shape))
    a = np.frombuffer(bytearray(dtype.itemsize * n + 1), dtype, count=n, offset=1)
    assert not a.flags.aligned and a.flags.c_contiguous
    return a.reshape(shape)


def test_unaligned_parameter_is_refused():
    with pytest.raises(ValueError, match=r"params\[0\] is not aligned"):
        fastopt.Adam([_unaligned(np.float32, (5,))])


@pytest.mark.parametrize("backend", ["python", "numba", "cython"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("what", ["dense", "indices", "values"])
def test_unaligned_gradient_is_refused_before_any_write(backend, dtype, what):
    p = np.linspace(-1, 1, 24).astype(dtype).reshape(6, 4)
    opt = fastopt.Adam([p], backend=backend)
    opt.step([np.ones_like(p)])  # a first step: the fast paths have a validated gradient
    before = [bits(p).copy(), bits(opt.state[0]["exp_avg"]).copy(), opt.state[0]["step"]]
    if what == "dense":
        g, name = _unaligned(dtype, p.shape), r"grads\[0\]"
        g[...] = 1
    else:
        idx, values = np.array([0, 3, 3]), np.ones((3, 4), dtype)
        if what == "indices":
            idx, name = _unaligned(np.int64, (3,)), r"grads\[0\]\.indices"
            idx[...] = [0, 3, 3]
        else:
            values, name = _unaligned(dtype, (3, 4)), r"grads\[0\]\.values"
            values[...] = 1
        g = fastopt.SparseGrad(idx, values)
    for _ in range(2):  # the second call: what the first refused is not remembered as checked
        with pytest.raises(ValueError, match=name + " is not aligned"):
            opt.step([g])
    assert np.array_equal(bits(p), before[0])
    assert np.array_equal(bits(opt.state[0]["exp_avg"]), before[1])
    assert opt.state[0]["step"] == before[2]


def test_unaligned_state_entry_is_refused():
    p = np.ones(5, np.float32)
    opt = fastopt.Adam([p])
    opt.step([np.ones(5, np.float32)])
    with pytest.raises(ValueError, match=r"is not aligned"):
        opt.state[0]["exp_avg"] = _unaligned(np.float32, (5,))
