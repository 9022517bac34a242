"""Per-row step counters (``per_row_step=True``) of the sparse Adam-family rules.

The definition: with per-row counters, each row of a table is updated exactly as if it
were a parameter of its own, stepped by its own optimizer whenever a sparse gradient
lists it (with its duplicates summed) and by every dense gradient.  Checked bit for bit
against that definition, in every backend, and across backends.
"""
import numpy as np
import pytest

import fastopt

from conftest import FAST_BACKENDS, bits, require

N_ROWS, D = 40, 3
RULES = [(fastopt.Adam, dict(lr=0.05)), (fastopt.Adam, dict(lr=0.05, amsgrad=True,
                                                             weight_decay=0.01)),
         (fastopt.AdamW, dict(lr=0.05)), (fastopt.SparseAdam, dict(lr=0.05)),
         (fastopt.RAdam, dict(lr=0.05, betas=(0.9, 0.9))), (fastopt.Adamax, dict(lr=0.05))]
IDS = ["adam", "adam-amsgrad-wd", "adamw", "sparse_adam", "radam", "adamax"]


def _gradients(rng, steps, dtype, dense_every=0):
    out = []
    for t in range(steps):
        if dense_every and t % dense_every == dense_every - 1:
            out.append(rng.standard_normal((N_ROWS, D)).astype(dtype))
            continue
        k = int(rng.integers(0, 25))
        idx = (np.minimum(rng.zipf(1.3, k), N_ROWS) - 1).astype(np.int64)
        out.append(fastopt.SparseGrad(idx, rng.standard_normal((k, D)).astype(dtype)))
    return out


def want_opt_names(opt):
    return [n for n, v in opt.state[0].items() if isinstance(v, np.ndarray)]


def _run(cls, kwargs, backend, dtype, grads, seed=0):
    table = np.random.default_rng(seed).standard_normal((N_ROWS, D)).astype(dtype)
    opt = cls(table, per_row_step=True, backend=backend, **kwargs)
    for g in grads:
        opt.step(g)
    return table, opt


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("cls,kwargs", RULES, ids=IDS)
def test_each_row_steps_as_its_own_optimizer(cls, kwargs, dtype):
    rng = np.random.default_rng(1)
    grads = _gradients(rng, 25, dtype, dense_every=7)
    table, opt = _run(cls, kwargs, "python", dtype, grads)
    want = np.random.default_rng(0).standard_normal((N_ROWS, D)).astype(dtype)
    rows = [cls(want[r], backend="python", **kwargs) for r in range(N_ROWS)]
    counts = np.zeros(N_ROWS, np.int64)
    for g in grads:
        dense = g if isinstance(g, np.ndarray) else g.to_dense((N_ROWS, D))
        touched = range(N_ROWS) if isinstance(g, np.ndarray) else np.unique(g.indices)
        for r in touched:
            rows[r].step(np.ascontiguousarray(dense[r]))
            counts[r] += 1
    assert np.array_equal(bits(table), bits(want))
    assert np.array_equal(opt.state[0]["row_step"], counts)
    assert opt.state[0]["step"] == len(grads)
    for name in [n for n in want_opt_names(opt) if n != "row_step"]:
        got = opt.state[0][name]
        for r in range(N_ROWS):
            if counts[r]:
                assert np.array_equal(bits(got[r]), bits(rows[r].state[0][name])), (name, r)


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("cls,kwargs", RULES, ids=IDS)
def test_fast_backends_reproduce_the_reference(cls, kwargs, backend):
    require(backend)
    rng = np.random.default_rng(2)
    grads = _gradients(rng, 20, np.float32, dense_every=6)
    want_t, want = _run(cls, kwargs, "python", np.float32, grads)
    got_t, got = _run(cls, kwargs, backend, np.float32, grads)
    assert np.array_equal(bits(got_t), bits(want_t))
    for name, v in want.state[0].items():
        if isinstance(v, np.ndarray):
            assert np.array_equal(got.state[0][name], v), name


def test_a_row_first_touched_late_gets_the_first_steps_bias_correction():
    table = np.zeros((3, 2))
    opt = fastopt.Adam(table, lr=0.1, per_row_step=True)
    for _ in range(5):
        opt.step(fastopt.SparseGrad(np.array([0]), np.ones((1, 2))))
    opt.step(fastopt.SparseGrad(np.array([2]), np.ones((1, 2))))
    np.testing.assert_allclose(table[2], -0.1, rtol=1e-7)  # Adam's first step moves by ~lr
    global_step = np.zeros((3, 2))
    plain = fastopt.Adam(global_step, lr=0.1)
    for _ in range(5):
        plain.step(fastopt.SparseGrad(np.array([0]), np.ones((1, 2))))
    plain.step(fastopt.SparseGrad(np.array([2]), np.ones((1, 2))))
    assert abs(global_step[2, 0] + 0.1) > 0.01  # with the global step: not bias-corrected


def test_row_steps_survive_a_checkpoint_and_bad_ones_are_refused():
    rng = np.random.default_rng(3)
    grads = _gradients(rng, 12, np.float64)
    table, opt = _run(fastopt.Adam, dict(lr=0.05), "python", np.float64, grads)
    resumed = np.random.default_rng(0).standard_normal((N_ROWS, D))
    first = fastopt.Adam(resumed, lr=0.05, per_row_step=True)
    for g in grads[:5]:
        first.step(g)
    second = fastopt.Adam(resumed, lr=0.05, per_row_step=True)
    second.load_state_dict(first.state_dict())
    for g in grads[5:]:
        second.step(g)
    assert np.array_equal(bits(resumed), bits(table))
    sd = first.state_dict()
    sd["state"][0]["row_step"] = np.zeros(N_ROWS + 1, np.int64)
    with pytest.raises(ValueError, match=r"\['row_step'\] must be an integer array of shape"):
        fastopt.Adam(np.zeros((N_ROWS, D)), per_row_step=True).load_state_dict(sd)
    sd["state"][0]["row_step"] = -np.ones(N_ROWS, np.int64)
    with pytest.raises(ValueError, match=r"\['row_step'\] must be >= 0"):
        fastopt.Adam(np.zeros((N_ROWS, D)), per_row_step=True).load_state_dict(sd)
    with pytest.raises(TypeError, match="per_row_step must be a bool"):
        fastopt.SparseAdam(np.zeros(3), per_row_step=1)
