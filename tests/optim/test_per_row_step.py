"""Per-row step counters (``per_row_step=True``) of the sparse Adam-family rules.

The definition: with per-row counters, each row of a table is updated exactly as if it
were a parameter of its own, stepped by its own optimizer whenever a sparse gradient
lists it (with its duplicates summed) and by every dense gradient (NAdam: with its own
product of momentum coefficients, ``row_mu_product``).  Checked bit for bit against that
definition, in every backend, and across backends.  LAMB's trust ratio is over the rows
a step updates, so its rows are not independent: it is checked against a NumPy
statement of that rule, and, as every rule, against per_row_step=False when every row
is updated at every step.
"""
import numpy as np
import pytest

import fastopt

from conftest import FAST_BACKENDS, bits, require

N_ROWS, D = 40, 3
RULES = [(fastopt.Adam, dict(lr=0.05)), (fastopt.Adam, dict(lr=0.05, amsgrad=True,
                                                             weight_decay=0.01)),
         (fastopt.AdamW, dict(lr=0.05)), (fastopt.SparseAdam, dict(lr=0.05)),
         (fastopt.RAdam, dict(lr=0.05, betas=(0.9, 0.9))), (fastopt.Adamax, dict(lr=0.05)),
         (fastopt.NAdam, dict(lr=0.05, momentum_decay=0.1)),
         (fastopt.NAdam, dict(lr=0.05, weight_decay=0.01, decoupled_weight_decay=True))]
IDS = ["adam", "adam-amsgrad-wd", "adamw", "sparse_adam", "radam", "adamax", "nadam",
       "nadam-decoupled"]
#: Every rule with per_row_step, for the checks that hold for all of them.
ALL_RULES = RULES + [(fastopt.LAMB, dict(lr=0.05, weight_decay=0.01))]
ALL_IDS = IDS + ["lamb"]


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
    """The state arrays of the parameter's shape (not the per-row ``row_*`` entries)."""
    return [n for n, v in opt.state[0].items()
            if isinstance(v, np.ndarray) and not n.startswith("row_")]


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
    for name in want_opt_names(opt):
        got = opt.state[0][name]
        for r in range(N_ROWS):
            if counts[r]:
                assert np.array_equal(bits(got[r]), bits(rows[r].state[0][name])), (name, r)
    if cls is fastopt.NAdam:  # the product of each row's own momentum coefficients
        product = opt.state[0]["row_mu_product"]
        assert product.dtype == np.float64 and "mu_product" not in opt.state[0]
        for r in range(N_ROWS):
            want_product = rows[r].state[0]["mu_product"] if counts[r] else 1.0
            assert bits(product[r]) == bits(np.float64(want_product)), r


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


def _coalesced_rows(g):
    rows, inverse = np.unique(g.indices, return_inverse=True)
    summed = np.zeros((rows.size, D))
    np.add.at(summed, inverse.reshape(-1), g.values)
    return rows, summed


@pytest.mark.parametrize("backend", ("python",) + FAST_BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("cls,kwargs", ALL_RULES, ids=ALL_IDS)
def test_every_row_at_every_step_gives_the_per_call_bits(cls, kwargs, dtype, backend):
    """Rows all at one count: per-row counters are the per-call counter, bit for bit --
    dense gradients and sparse ones listing every row (shuffled, some twice)."""
    require(backend)
    rng = np.random.default_rng(4)
    grads = []
    for t in range(12):
        if t % 3 == 0:
            grads.append(rng.standard_normal((N_ROWS, D)).astype(dtype))
            continue
        idx = np.concatenate([rng.permutation(N_ROWS), rng.integers(0, N_ROWS, 5)])
        grads.append(fastopt.SparseGrad(idx, rng.standard_normal((idx.size, D)).astype(dtype)))
    start = np.random.default_rng(0).standard_normal((N_ROWS, D)).astype(dtype)
    per_call, per_row = start.copy(), start.copy()
    a = cls(per_call, backend=backend, **kwargs)
    b = cls(per_row, per_row_step=True, backend=backend, **kwargs)
    for g in grads:
        a.step(g)
        b.step(g)
    assert np.array_equal(bits(per_row), bits(per_call))
    for name in want_opt_names(a):
        assert np.array_equal(bits(b.state[0][name]), bits(a.state[0][name])), name
    assert (b.state[0]["row_step"] == len(grads)).all()
    if cls is fastopt.NAdam:
        product = bits(np.float64(a.state[0]["mu_product"]))
        assert (bits(b.state[0]["row_mu_product"]) == product).all()


def lamb_per_row(table, grads, lr, betas, eps, weight_decay):
    """LAMB with per-row step counters, in NumPy float64, from the definition: each
    updated row r takes m, v and the bias corrections of its own count t_r; the trust
    ratio ||theta|| / ||r|| is over the rows the step updates (all rows for a dense
    gradient)."""
    b1, b2 = betas
    table = table.copy()
    m, v = np.zeros_like(table), np.zeros_like(table)
    count = np.zeros(table.shape[0], np.int64)
    for g in grads:
        if isinstance(g, np.ndarray):
            rows, summed = np.arange(table.shape[0]), g
        else:
            rows, summed = _coalesced_rows(g)
        count[rows] += 1
        t = count[rows][:, None].astype(np.float64)
        m[rows] = b1 * m[rows] + (1 - b1) * summed
        v[rows] = b2 * v[rows] + (1 - b2) * summed * summed
        r = (m[rows] / (1 - b1 ** t)) / (np.sqrt(v[rows] / (1 - b2 ** t)) + eps) \
            + weight_decay * table[rows]
        theta_norm, r_norm = np.linalg.norm(table[rows]), np.linalg.norm(r)
        ratio = theta_norm / r_norm if theta_norm > 0 and r_norm > 0 else 1.0
        table[rows] -= lr * ratio * r
    return table, count


@pytest.mark.parametrize("backend", ("python",) + FAST_BACKENDS)
def test_lamb_takes_each_rows_bias_correction(backend):
    require(backend)
    rng = np.random.default_rng(5)
    grads = _gradients(rng, 25, np.float64, dense_every=7)
    kwargs = dict(lr=0.05, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.01)
    table, opt = _run(fastopt.LAMB, kwargs, backend, np.float64, grads)
    start = np.random.default_rng(0).standard_normal((N_ROWS, D))
    want, counts = lamb_per_row(start, grads, **kwargs)
    assert np.array_equal(opt.state[0]["row_step"], counts)
    assert len(set(counts.tolist())) > 3  # rows at many counts: the per-row path ran
    np.testing.assert_allclose(table, want, rtol=1e-10, atol=1e-12)
    # with the global count instead, the rows first listed late would differ
    global_table = start.copy()
    plain = fastopt.LAMB(global_table, backend=backend, **kwargs)
    for g in grads:
        plain.step(g)
    assert np.abs(global_table - want).max() > 1e-3


def _nadam_run(grads, n_before, table=None, opt=None):
    table = np.random.default_rng(0).standard_normal((N_ROWS, D)) if table is None else table
    opt = opt or fastopt.NAdam(table, lr=0.05, momentum_decay=0.1, per_row_step=True)
    for g in grads[:n_before]:
        opt.step(g)
    return table, opt


def test_nadam_row_products_survive_checkpoints_and_bad_ones_are_refused(tmp_path):
    rng = np.random.default_rng(6)
    grads = _gradients(rng, 14, np.float64, dense_every=5)
    straight, _ = _nadam_run(grads, len(grads))
    # state_dict, then a checkpoint file: both resume bit for bit
    for via_file in (False, True):
        table, first = _nadam_run(grads, 6)
        second = fastopt.NAdam(table, lr=0.05, momentum_decay=0.1, per_row_step=True)
        if via_file:
            fastopt.save_checkpoint(first, tmp_path / "nadam.npz")
            fastopt.load_checkpoint(second, tmp_path / "nadam.npz")
        else:
            second.load_state_dict(first.state_dict())
        assert np.array_equal(bits(second.state[0]["row_mu_product"]),
                              bits(first.state[0]["row_mu_product"]))
        for g in grads[6:]:
            second.step(g)
        assert np.array_equal(bits(table), bits(straight)), via_file
    good = first.state_dict()
    for bad, message in [
            (np.ones(N_ROWS + 1), r"\['row_mu_product'\] must be a float array of shape \(40,\)"),
            (np.ones(N_ROWS, np.int64), r"\['row_mu_product'\] must be a float array"),
            (np.full(N_ROWS, np.nan), r"\['row_mu_product'\] must be finite")]:
        target = fastopt.NAdam(np.zeros((N_ROWS, D)), per_row_step=True)
        target.step(np.ones((N_ROWS, D)))
        before = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                  for k, v in target.state[0].items()}
        sd = first.state_dict()
        sd["state"][0]["row_mu_product"] = bad
        with pytest.raises(ValueError, match=message):
            target.load_state_dict(sd)
        for k, v in before.items():  # refused before anything was written
            assert np.array_equal(target.state[0][k], v), k
        with pytest.raises(ValueError, match=message):
            target.state[0]["row_mu_product"] = bad
    # the per-row entries come together: counts without products are refused
    sd = first.state_dict()
    del sd["state"][0]["row_mu_product"]
    target = fastopt.NAdam(np.zeros((N_ROWS, D)), per_row_step=True)
    with pytest.raises(ValueError, match=r"has \['row_step'\] but lacks \['row_mu_product'\]"):
        target.load_state_dict(sd)
    assert not target.state[0]
    # a file holding a malformed entry is refused the same way, naming the file
    sd = first.state_dict()
    first.state[0]["row_mu_product"] = np.ones(N_ROWS)  # a valid edit is accepted
    first.state[0]["row_mu_product"] = good["state"][0]["row_mu_product"]
    fastopt.save_checkpoint(first, tmp_path / "ok.npz")
    with np.load(tmp_path / "ok.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["state/0/row_mu_product"] = np.full(N_ROWS, np.inf)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=r"bad.npz.*\['row_mu_product'\] must be finite"):
        fastopt.load_checkpoint(fastopt.NAdam(np.zeros((N_ROWS, D)), per_row_step=True),
                                tmp_path / "bad.npz")
    # per-call NAdam keeps its scalar product and refuses the per-row entry
    sd["param_groups"][0]["per_row_step"] = False
    with pytest.raises(ValueError, match=r"unknown entries \['row_mu_product', 'row_step'\]"):
        fastopt.NAdam(np.zeros((N_ROWS, D))).load_state_dict(sd)


def test_nadam_rows_at_one_count_with_other_products_step_apart():
    """momentum_decay edited mid-run: rows at the same count then carry different
    products (each its own history), and each row still steps as its own optimizer."""
    rng = np.random.default_rng(7)
    grads = _gradients(rng, 16, np.float64)
    table = np.random.default_rng(0).standard_normal((N_ROWS, D))
    opt = fastopt.NAdam(table, lr=0.05, momentum_decay=0.1, per_row_step=True)
    want = np.random.default_rng(0).standard_normal((N_ROWS, D))
    rows = [fastopt.NAdam(want[r], lr=0.05, momentum_decay=0.1) for r in range(N_ROWS)]
    for k, g in enumerate(grads):
        if k == 8:
            for o in [opt] + rows:
                o.param_groups[0]["momentum_decay"] = 0.5
        dense = g.to_dense((N_ROWS, D))
        opt.step(g)
        for r in np.unique(g.indices):
            rows[r].step(np.ascontiguousarray(dense[r]))
    assert np.array_equal(bits(table), bits(want))
    counts, products = opt.state[0]["row_step"], opt.state[0]["row_mu_product"]
    assert any(len(set(products[counts == c].tolist())) > 1 for c in set(counts.tolist()))
