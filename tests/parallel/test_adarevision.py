"""The AdaRevision optimizer: sparse steps are the dense step on the touched rows, state
round-trips, bad snapshots are refused before anything is written."""
import numpy as np
import pytest

from fastopt import SparseGrad
from fastopt.parallel import AdaRevision

from conftest import bits


@pytest.mark.parametrize("backend", ["python", "numba", "cython"])
def test_sparse_step_is_the_dense_step_on_the_rows(backend):
    from fastopt.backends import _dispatch
    if not _dispatch.is_available(backend):
        pytest.skip(f"{backend} not available")
    rng = np.random.default_rng(0)
    table = rng.standard_normal((9, 3)).astype(np.float32)
    sparse_t, dense_t = table.copy(), table.copy()
    sparse = AdaRevision(sparse_t, lr=0.2, backend=backend)
    dense = AdaRevision(dense_t, lr=0.2, backend="python")
    for step in range(4):
        idx = np.array([4, 1, 4, 7])
        vals = rng.standard_normal((4, 3)).astype(np.float32)
        old_full = dense.snapshot(0) - (step % 2) * rng.random((9, 3)).astype(np.float32)
        sparse.step([SparseGrad(idx, vals)], [old_full[idx]])
        g = np.zeros_like(table)
        np.add.at(g, idx, vals)
        old = dense.snapshot(0)
        old[[1, 4, 7]] = old_full[[1, 4, 7]]  # untouched rows: no backlog, no change
        dense.step([g], [old])
    np.testing.assert_array_equal(bits(sparse_t), bits(dense_t))
    for k in ("sum", "max_sum", "grad_sum"):
        np.testing.assert_array_equal(bits(sparse.state[0][k]), bits(dense.state[0][k]))


def test_state_dict_round_trip_and_checks():
    t = np.ones((3, 2))
    opt = AdaRevision(t, lr=0.1)
    opt.step([np.ones((3, 2))], [opt.snapshot(0)])
    saved = opt.state_dict()
    other = AdaRevision(np.ones((3, 2)), lr=0.5)
    other.load_state_dict(saved)
    assert other.defaults["lr"] == 0.1 and other.state[0]["step"] == 1
    np.testing.assert_array_equal(other.state[0]["grad_sum"], np.ones((3, 2)))
    saved["state"][0]["sum"] = np.ones((2, 2))
    with pytest.raises(ValueError, match="sum"):
        other.load_state_dict(saved)


def test_bad_steps_write_nothing():
    t = np.zeros((3, 2))
    opt = AdaRevision(t)
    before = [opt.state[0][k].copy() for k in ("sum", "max_sum", "grad_sum")]
    with pytest.raises(ValueError, match="grad_sum_old"):
        opt.step([np.ones((3, 2))], [np.zeros((2, 2))])
    with pytest.raises(TypeError, match="grad_sum_old"):
        opt.step([np.ones((3, 2))], [np.zeros((3, 2), np.float32)])
    with pytest.raises(IndexError):
        opt.step([SparseGrad(np.array([3]), np.ones((1, 2)))], [np.zeros((1, 2))])
    with pytest.raises(ValueError, match="2-D"):
        AdaRevision(np.zeros(3))
    assert not t.any()
    for a, k in zip(before, ("sum", "max_sum", "grad_sum")):
        np.testing.assert_array_equal(a, opt.state[0][k])
