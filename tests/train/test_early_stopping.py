"""Early stopping: patience, min_delta, modes, baseline, restoring the best parameters in place."""
import numpy as np
import pytest

import fastopt
from fastopt.train.early_stopping import EarlyStopping


def feed(stopper, values):
    return [stopper.step(v) for v in values]


def test_patience_and_min_delta_in_min_mode():
    stopper = EarlyStopping(patience=2, min_delta=0.1, restore_best=False)
    # 1.0 improves; 0.95 is within min_delta; 0.8 improves; then two without improvement.
    assert feed(stopper, [1.0, 0.95, 0.8, 0.75, 0.9]) == [False, False, False, False, True]
    assert (stopper.best, stopper.best_step, stopper.wait, stopper.steps) == (0.8, 3, 2, 5)
    assert stopper.stopped and stopper.should_stop


def test_max_mode_nan_and_patience_zero():
    stopper = EarlyStopping(patience=0, mode="max", restore_best=False)
    assert feed(stopper, [0.5, 0.6]) == [False, False]
    assert stopper.step(float("nan"))                      # NaN never improves
    assert stopper.best == 0.6 and stopper.best_step == 2


def test_baseline_must_be_beaten():
    stopper = EarlyStopping(patience=3, baseline=0.5, restore_best=False)
    assert feed(stopper, [0.7, 0.6, 0.55]) == [False, False, True]
    assert stopper.best_step == 0


def test_restores_the_best_parameters_in_place():
    w, b = np.zeros(3), np.zeros(1)
    opt = fastopt.SGD([w, b], lr=1.0)
    stopper = EarlyStopping(patience=2, params=opt)
    snapshots = {}
    for epoch, loss in enumerate([3.0, 2.0, 2.5, 2.6], start=1):
        opt.step([np.full(3, -1.0), np.full(1, -1.0)])     # parameters move every epoch
        snapshots[epoch] = (w.copy(), b.copy())
        if stopper.step(loss):
            break
    buffers = stopper._snapshot
    assert stopper.best_step == 2 and epoch == 4
    w_id, b_id = id(w), id(b)
    assert stopper.restore()
    assert id(w) == w_id and id(b) == b_id                 # the same arrays, updated in place
    assert np.array_equal(w, snapshots[2][0]) and np.array_equal(b, snapshots[2][1])
    assert opt.param_groups[0]["params"][0] is w           # the optimizer sees the restored values
    assert stopper._snapshot is buffers                    # the buffers were allocated once


def test_restore_before_any_improvement_and_without_restore_best():
    w = np.ones(2)
    assert EarlyStopping(params=w).restore() is False
    assert EarlyStopping(restore_best=False).restore() is False


@pytest.mark.parametrize("kwargs,error,name", [
    (dict(patience=-1, restore_best=False), ValueError, "patience"),
    (dict(patience=1.5, restore_best=False), TypeError, "patience"),
    (dict(min_delta=-0.1, restore_best=False), ValueError, "min_delta"),
    (dict(mode="minimum", restore_best=False), ValueError, "mode"),
    (dict(), ValueError, "params"),
    (dict(params=[np.arange(3)]), TypeError, "params"),
    (dict(params=np.zeros(4)[::2]), ValueError, "params"),
    (dict(restore_best="yes", params=np.zeros(2)), TypeError, "restore_best"),
    (dict(baseline=float("inf"), restore_best=False), ValueError, "baseline"),
])
def test_bad_arguments(kwargs, error, name):
    with pytest.raises(error, match=name):
        EarlyStopping(**kwargs)
    with pytest.raises(TypeError, match="value"):
        EarlyStopping(restore_best=False).step("0.5")
