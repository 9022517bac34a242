"""fastopt's update rules called from the user's own ``@numba.njit`` code.

``fastopt.backends.numba.<algorithm>`` exposes, for every rule, ``<algorithm>_serial``
(one update of 1-D contiguous arrays: the dense kernel's arguments without
``n_threads``) and ``<algorithm>_element`` (one element: returns the new parameter and
state values).  A hand-written training loop can call them per row, as GloVe or
word2vec loops do; the results are the reference kernel's, bit for bit.
"""
import numpy as np
import pytest

from fastopt.backends import _dispatch

from conftest import bits

numba = pytest.importorskip("numba")


def test_row_update_from_user_njit_loop_matches_reference():
    from fastopt.backends.numba.adagrad import adagrad_serial

    @numba.njit(nogil=True)
    def train(table, state_sum, rows, grads, clr, eps):
        for k in range(rows.size):
            r = rows[k]
            adagrad_serial(table[r], grads[k], state_sum[r], clr, 0.0, eps, False)

    rng = np.random.default_rng(0)
    table = rng.standard_normal((50, 8)).astype(np.float32)
    state_sum = np.zeros_like(table)
    rows = rng.integers(0, 50, 200)
    grads = rng.standard_normal((200, 8)).astype(np.float32)
    clr, eps = float(np.float32(0.05)), float(np.float32(1e-10))
    want_t, want_s = table.copy(), state_sum.copy()
    reference = _dispatch.kernel("python", "adagrad")
    for k in range(rows.size):  # the same sequence of row updates, one at a time
        r = rows[k]
        reference(want_t[r], grads[k], want_s[r], clr, 0.0, eps, False, 1)
    train(table, state_sum, rows, grads, clr, eps)
    np.testing.assert_array_equal(bits(table), bits(want_t))
    np.testing.assert_array_equal(bits(state_sum), bits(want_s))


def test_element_update_from_user_njit_code_matches_reference():
    from fastopt.backends.numba.adam import adam_element

    @numba.njit
    def step_all(p, g, m, v, scalars):
        b1, ob1, b2, ob2, ss, bc, eps = scalars
        for i in range(p.size):
            p[i], m[i], v[i], _ = adam_element(p[i], g[i], m[i], v[i], 0.0, b1, ob1, b2, ob2,
                                               ss, bc, eps, 0.0, 1.0, False, False)

    rng = np.random.default_rng(1)
    p, g = rng.standard_normal(100), rng.standard_normal(100)
    m, v = 0.1 * rng.standard_normal(100), rng.random(100)
    scalars = (0.9, 1 - 0.9, 0.999, 1 - 0.999, 1e-3 / (1 - 0.9 ** 3), np.sqrt(1 - 0.999 ** 3), 1e-8)
    want = [p.copy(), m.copy(), v.copy()]
    _dispatch.kernel("python", "adam")(want[0], g, want[1], want[2], np.empty(0), *scalars,
                                      0.0, 1.0, False, False, 1)
    step_all(p, g, m, v, scalars)
    for got, w in zip((p, m, v), want):
        np.testing.assert_array_equal(bits(got), bits(w))
