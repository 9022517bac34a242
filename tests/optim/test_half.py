"""float16 and bfloat16 parameters: float32 state, the update in float32, rounded back.

The definition, checked bit for bit for every rule and backend, dense and sparse: a
step of a 16-bit parameter is the float32 step of its widened values (the rows a
sparse gradient touches), with float32 state, then rounded to the 16-bit dtype --
to nearest, or stochastically with a seeded stream.
"""
import numpy as np
import pytest

import fastopt
from fastopt._internal.numerics import GOLDEN, mix64_int
from fastopt.backends.python import half as reference

from conftest import FAST_BACKENDS, bits, lowered_threshold, require
from optimizer_cases import GRIDS

ml_dtypes = pytest.importorskip("ml_dtypes")
HALF = [np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16)]
RULES = [c for c in GRIDS if c is not fastopt.LAMB]


def _hbits(a):
    return np.asarray(a).view(np.uint16)


def _kwargs(cls):
    kwargs = {k: v[-1] for k, v in GRIDS[cls].items() if k != "per_row_step"}
    if cls is fastopt.SGD:
        kwargs.update(momentum=0.9, dampening=0.0, nesterov=True)
    return kwargs


def _grads(rng, shape, steps, sparse):
    out = []
    for _ in range(steps):
        if not sparse:
            out.append(rng.standard_normal(shape).astype(np.float32))
            continue
        k = int(rng.integers(1, 20))
        idx = (np.minimum(rng.zipf(1.3, k), shape[0]) - 1).astype(np.int64)
        values = rng.standard_normal((k,) + shape[1:]).astype(np.float32)
        out.append(fastopt.SparseGrad(idx, values))
    return out


def _definition(cls, kwargs, start, grads, dtype):
    """float32 optimizer on a float32 copy, re-widened from the 16-bit values each step."""
    half = start.copy()
    wide = half.astype(np.float32)
    opt = cls(wide, backend="python", **kwargs)
    for g in grads:
        wide[...] = half.astype(np.float32)
        opt.step(g)
        half[...] = wide.astype(dtype)
    return half, opt


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("cls", RULES, ids=lambda c: c.__name__)
def test_half_step_is_the_float32_step_rounded(cls, dtype, sparse):
    rng = np.random.default_rng(0)
    shape = (30, 3)
    start = rng.standard_normal(shape).astype(dtype)
    grads = _grads(rng, shape, 12, sparse)
    want, want_opt = _definition(cls, _kwargs(cls), start, grads, dtype)
    for backend in ["python", *FAST_BACKENDS]:
        require(backend)
        p = start.copy()
        opt = cls(p, backend=backend, **_kwargs(cls))
        for g in grads:
            opt.step(g)
        assert np.array_equal(_hbits(p), _hbits(want)), backend
        for name, v in want_opt.state[0].items():
            if isinstance(v, np.ndarray):
                got = opt.state[0][name]
                assert got.dtype == np.float32
                assert np.array_equal(bits(got), bits(v)), (backend, name)


def _stochastic_definition(cls, kwargs, start, grads, dtype, seed):
    """The float32 step rounded by the reference rounding with the documented stream:
    the c-th rounding uses key mix64(mix64(seed) + c * golden); a dense parameter is one
    row, a sparse step rounds its touched rows (row r from counter r * ceil(d / 2))."""
    half = start.copy()
    wide = half.astype(np.float32)
    opt = cls(wide, backend="python", **kwargs)
    table = half.reshape(half.shape[0], -1).view(np.uint16)
    for c, g in enumerate(grads):
        wide[...] = half.astype(np.float32)
        opt.step(g)
        key = np.uint64(mix64_int(mix64_int(seed) + c * GOLDEN))
        if isinstance(g, fastopt.SparseGrad):
            rows = np.unique(g.indices)
            reference.narrow_rows(wide.reshape(table.shape)[rows], rows, table,
                                  dtype != np.float16, True, key)
        else:
            reference.narrow_rows(wide.reshape(1, -1), np.zeros(1, np.int64),
                                  table.reshape(1, -1), dtype != np.float16, True, key)
    return half, opt


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("dtype", HALF, ids=str)
@pytest.mark.parametrize("cls", [fastopt.Adam, fastopt.Adagrad, fastopt.SGD],
                         ids=lambda c: c.__name__)
def test_stochastic_step_is_the_float32_step_with_the_documented_stream(cls, dtype, sparse):
    """Every backend, 1, 2 and 3 threads (above the threading threshold): the same bits
    as the definition, a reference rounding with the stream :meth:`set_rounding`
    documents."""
    rng = np.random.default_rng(1)
    shape = (301, 3)
    start = rng.standard_normal(shape).astype(dtype)
    grads = _grads(rng, shape, 6, sparse)
    want, want_opt = _stochastic_definition(cls, _kwargs(cls), start, grads, dtype, seed=5)
    with lowered_threshold(64):
        for backend in ["python", *FAST_BACKENDS]:
            require(backend)
            for threads in (1, 2, 3):
                p = start.copy()
                opt = cls(p, backend=backend, **_kwargs(cls)).set_rounding("stochastic", seed=5)
                fastopt.set_num_threads(threads)
                for g in grads:
                    opt.step(g)
                assert np.array_equal(_hbits(p), _hbits(want)), (backend, threads)
                for name, v in want_opt.state[0].items():
                    if isinstance(v, np.ndarray):
                        assert np.array_equal(bits(opt.state[0][name]), bits(v)), name
    assert not np.array_equal(_hbits(want), _hbits(_definition(
        cls, _kwargs(cls), start, grads, dtype)[0]))  # stochastic is not nearest here


def test_stochastic_rounding_lets_tiny_updates_accumulate():
    """Round to nearest loses an update below half a spacing every step; stochastic
    rounding keeps it in expectation (the reason FBGEMM uses it for fp16 tables)."""
    n, steps, lr = 4000, 50, 1e-4
    results = {}
    for mode in ("nearest", "stochastic"):
        w = np.ones(n, np.float16)
        opt = fastopt.SGD(w, lr=lr).set_rounding(mode, seed=3)
        for _ in range(steps):
            opt.step(np.ones(n, np.float32))
        results[mode] = w.astype(np.float64).mean()
    assert results["nearest"] == 1.0  # 1e-4 < half the spacing of float16 at 1 (4.9e-4)
    assert abs(results["stochastic"] - (1 - steps * lr)) < 2e-4


def test_stochastic_steps_are_reproducible_from_the_seed():
    runs = []
    for _ in range(2):
        t = np.zeros((50, 4), np.float16)
        opt = fastopt.Adagrad(t, lr=0.01).set_rounding("stochastic", seed=11)
        rng = np.random.default_rng(0)
        for _ in range(5):
            idx = rng.integers(0, 50, 10)
            opt.step(fastopt.SparseGrad(idx, rng.standard_normal((10, 4)).astype(np.float32)))
        runs.append(t.copy())
    assert np.array_equal(_hbits(runs[0]), _hbits(runs[1]))


def _stochastic_run(t, steps, start=0):
    rng = np.random.default_rng(start)
    for _ in range(steps):
        idx = rng.integers(0, t.shape[0], 10)
        yield fastopt.SparseGrad(idx, rng.standard_normal((10, t.shape[1])).astype(np.float32))


@pytest.mark.parametrize("via", ["state_dict", "file"])
def test_stochastic_rounding_resumes_bit_for_bit(tmp_path, via):
    """The random stream is part of the checkpoint: a resumed run draws the numbers the
    uninterrupted one draws (a fresh optimizer with the seed alone would repeat the
    first steps' draws)."""
    t = np.zeros((50, 4), np.float16)
    opt = fastopt.Adagrad(t, lr=0.01).set_rounding("stochastic", seed=11)
    for g in _stochastic_run(t, 3):
        opt.step(g)
    if via == "file":
        fastopt.save_checkpoint(opt, tmp_path / "ckpt.npz")
    else:
        saved = opt.state_dict()
        assert saved["rounding"]["mode"] == "stochastic"
    resumed_t = t.copy()
    for g in _stochastic_run(t, 3, start=1):
        opt.step(g)
    resumed = fastopt.Adagrad(resumed_t, lr=0.01)  # rounding to nearest until loaded
    if via == "file":
        fastopt.load_checkpoint(resumed, tmp_path / "ckpt.npz")
    else:
        resumed.load_state_dict(saved)
    for g in _stochastic_run(resumed_t, 3, start=1):
        resumed.step(g)
    assert np.array_equal(_hbits(resumed_t), _hbits(t))
    assert "rounding" not in fastopt.Adagrad(np.zeros(3, np.float16)).state_dict()


@pytest.mark.parametrize("rounding, match", [
    ("stochastic", "must be a dict"),
    ({"mode": "up"}, "must be a dict with 'mode'"),
    ({"mode": "nearest", "seed": 1}, "no other entry"),
    ({"mode": "stochastic"}, "exactly the entries"),
    ({"mode": "stochastic", "bit_generator": {"bit_generator": "MT19937"}}, "PCG64 state"),
    ({"mode": "stochastic", "bit_generator": {"bit_generator": "PCG64", "state": {}}},
     "not a valid PCG64 state"),
    ({"mode": "stochastic", "bit_generator": {}, "key": 1}, "first format"),
    ({"mode": "stochastic", "format": 2, "key": 1}, "exactly the entries"),
    ({"mode": "stochastic", "format": 3, "key": 1, "counter": 0}, "must be 2"),
    ({"mode": "stochastic", "format": 2, "key": -1, "counter": 0}, r"'key'\] must be"),
    ({"mode": "stochastic", "format": 2, "key": 2 ** 64, "counter": 0}, r"'key'\] must be"),
    ({"mode": "stochastic", "format": 2, "key": 1.0, "counter": 0}, r"'key'\] must be"),
    ({"mode": "stochastic", "format": 2, "key": 1, "counter": True}, r"'counter'\] must be"),
    ({"mode": "stochastic", "format": 2, "key": 1, "counter": "3"}, r"'counter'\] must be"),
])
def test_a_bad_rounding_entry_is_refused_before_anything_changes(rounding, match):
    t = np.zeros((5, 2), np.float16)
    opt = fastopt.Adagrad(t, lr=0.01).set_rounding("stochastic", seed=2)
    opt.step(np.ones((5, 2), np.float32))
    sd = opt.state_dict()
    before = opt.state_dict()
    sd["state"][0]["sum"] = sd["state"][0]["sum"] + 1
    sd["rounding"] = rounding
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(sd)
    after = opt.state_dict()
    assert np.array_equal(after["state"][0]["sum"], before["state"][0]["sum"])
    assert after["rounding"] == before["rounding"]


def test_a_first_format_rounding_entry_is_converted():
    """A PCG64 state (the entry of fastopt before the counter-based stream) still loads:
    the stream goes on under a key derived from it, the same for the same state."""
    old = {"mode": "stochastic", "bit_generator": np.random.PCG64(11).state}
    runs = []
    for _ in range(2):
        t = np.zeros((50, 4), np.float16)
        opt = fastopt.Adagrad(t, lr=0.01)
        opt.load_state_dict(dict(opt.state_dict(), rounding=old))
        sd = opt.state_dict()["rounding"]
        assert sd["format"] == 2 and sd["counter"] == 0 and 0 <= sd["key"] < 2 ** 64
        for g in _stochastic_run(t, 3):
            opt.step(g)
        assert opt.state_dict()["rounding"]["counter"] == 3
        runs.append(t)
    assert np.array_equal(_hbits(runs[0]), _hbits(runs[1]))
    other = dict(old, bit_generator=np.random.PCG64(12).state)
    opt = fastopt.Adagrad(np.zeros((50, 4), np.float16), lr=0.01)
    opt.load_state_dict(dict(opt.state_dict(), rounding=other))
    assert opt.state_dict()["rounding"]["key"] != sd["key"]


def test_half_state_checkpoints_and_bad_input():
    p = np.ones((4, 2), np.float16)
    opt = fastopt.Adam(p)
    opt.step(np.ones((4, 2), np.float16))  # a 16-bit gradient is widened too
    sd = opt.state_dict()
    assert sd["state"][0]["exp_avg"].dtype == np.float32
    fastopt.Adam(np.ones((4, 2), np.float16)).load_state_dict(sd)
    sd["state"][0]["exp_avg"] = sd["state"][0]["exp_avg"].astype(np.float16)
    with pytest.raises(ValueError, match="dtype float16, the parameter float16 .state: float32"):
        fastopt.Adam(np.ones((4, 2), np.float16)).load_state_dict(sd)
    with pytest.raises(TypeError, match=r"grads\[0\] has dtype float64 but params\[0\] has dtype "
                                        r"float16 \(or float32\)"):
        opt.step(np.ones((4, 2)))
    with pytest.raises(ValueError, match="LAMB does not take float16/bfloat16"):
        fastopt.LAMB(np.ones(3, np.float16))
    with pytest.raises(ValueError, match="with per_row_step does not take"):
        fastopt.Adam(np.ones((3, 2), np.float16), per_row_step=True)
    with pytest.raises(ValueError, match="mode must be"):
        opt.set_rounding("up")
    with pytest.raises(TypeError, match="seed must be"):
        opt.set_rounding("stochastic", seed=-1)


@pytest.mark.parametrize("backend", ["python", "numba", "cython"])
@pytest.mark.parametrize("half", HALF, ids=str)
def test_state_assigned_to_a_16_bit_parameter_is_float32(backend, half):
    """``opt.state[i]["exp_avg"] = array`` for a 16-bit parameter: its state is float32, so
    a float32 array is taken (it was refused, "the parameter float16") and one of the
    parameter's 16-bit dtype is refused (it was taken; the step then failed in the
    compiled backends and ran the reference's arithmetic in 16 bits)."""
    from conftest import require
    require(backend)
    rng = np.random.default_rng(11)
    start = rng.standard_normal((3, 4)).astype(half)
    params, twins = [start.copy(), np.zeros(2, half)], [start.copy(), np.zeros(2, half)]
    opt = fastopt.Adam(params, lr=0.1, backend=backend)
    ref = fastopt.Adam(twins, lr=0.1, backend=backend)
    grads = [rng.standard_normal((3, 4)).astype(half), np.ones(2, half)]
    opt.step(grads)
    ref.step(grads)
    with pytest.raises(TypeError, match=rf"opt.state\[0\]\['exp_avg'\] has dtype {half}, "
                                        r"expected float32"):
        opt.state[0]["exp_avg"] = np.zeros((3, 4), half)
    edit = np.full((3, 4), 0.25, np.float32)
    opt.state[0]["exp_avg"] = edit
    ref.state[0]["exp_avg"][...] = edit
    for _ in range(2):
        opt.step(grads)
        ref.step(grads)
    assert opt.state[0]["exp_avg"] is edit
    for a, b in zip(params, twins):
        assert a.tobytes() == b.tobytes()
    np.testing.assert_array_equal(edit, ref.state[0]["exp_avg"])


@pytest.mark.parametrize("backend", ["python", "numba", "cython"])
@pytest.mark.parametrize("case", ["LAMB", "per_row_step"])
def test_a_refused_16_bit_group_leaves_the_optimizer_as_it_was(backend, case):
    """``add_param_group`` refused a 16-bit group (a rule with a second pass, per-row
    step counters) after registering it: every later step raised IndexError and
    ``state_dict`` numbered a parameter that does not exist."""
    from conftest import require
    require(backend)
    shape = (3, 2)
    params = [np.zeros(shape), np.zeros(shape)]
    opt = (fastopt.LAMB(params, lr=0.1, backend=backend) if case == "LAMB"
           else fastopt.SparseAdam(params, lr=0.1, backend=backend))
    twin_params = [p.copy() for p in params]
    twin = type(opt)(twin_params, lr=0.1, backend=backend)
    grads = [np.ones(shape), np.full(shape, 0.5)]
    opt.step(grads)
    twin.step(grads)
    extra = {"params": [np.zeros(shape, np.float16)]}
    if case == "per_row_step":
        extra["per_row_step"] = True
    with pytest.raises(ValueError, match="does not take float16/bfloat16"):
        opt.add_param_group(extra)
    assert len(opt.param_groups) == 1
    assert opt.state_dict()["param_groups"][0]["params"] == [0, 1]
    opt.step(grads)
    twin.step(grads)
    for a, b in zip(params, twin_params):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("make", [
    lambda x: fastopt.LBFGS(x),
    lambda x: fastopt.AveragedWeights([x]),
    lambda x: fastopt.L1(fastopt.SGD(x), 0.1),
    lambda x: fastopt.DecoupledWeightDecay(fastopt.SGD(x), 0.1),
    lambda x: fastopt.ElasticNet(fastopt.SGD(x), 0.1, 0.1),
], ids=["LBFGS", "AveragedWeights", "L1", "DecoupledWeightDecay", "ElasticNet"])
def test_only_the_optimizers_take_16_bit_parameters(make):
    """float32-only tools refuse a float16 parameter before anything runs (their compiled
    kernels have no 16-bit version), with the dtypes they do take."""
    with pytest.raises(TypeError, match="float32 or float64"):
        make(np.zeros(4, np.float16))
