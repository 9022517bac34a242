"""Every way torch users reset, roll back or replace optimizer state (issue 11, fault 3).

Each edit must act exactly as the same state given to a fresh optimizer (or be refused
with a clear error before anything changes), and ``state_dict()`` must show what the
kernels use.  The matrix: every rule x separate arrays / ``flat_arrays`` x each way.
"""
import copy

import numpy as np
import pytest

import fastopt

from conftest import bits

SHAPES = [(3,), (4, 2)]

#: Every rule, with options that give it all of its state arrays.
RULES = {
    "SGD": (fastopt.SGD, dict(lr=0.1, momentum=0.9)),
    "Adagrad": (fastopt.Adagrad, dict(lr=0.1, lr_decay=0.01)),
    "Adagrad-rowwise": (fastopt.Adagrad, dict(lr=0.1, rowwise=True)),
    "Adadelta": (fastopt.Adadelta, dict()),
    "RMSprop": (fastopt.RMSprop, dict(centered=True, momentum=0.5)),
    "Adam": (fastopt.Adam, dict(lr=0.1, amsgrad=True)),
    "AdamW": (fastopt.AdamW, dict(lr=0.1)),
    "Adamax": (fastopt.Adamax, dict()),
    "NAdam": (fastopt.NAdam, dict()),
}
rules = pytest.mark.parametrize("rule", list(RULES))
layouts = pytest.mark.parametrize("flat", [False, True], ids=["separate", "flat"])


def grads_at(t):
    rng = np.random.default_rng(100 + t)
    return [rng.standard_normal(s) for s in SHAPES]


def make(rule, flat, start=None):
    cls, kwargs = RULES[rule]
    params = fastopt.flat_arrays(SHAPES) if flat else [np.zeros(s) for s in SHAPES]
    rng = np.random.default_rng(0)
    for p, s in zip(params, start or [rng.standard_normal(s) for s in SHAPES]):
        p[...] = s
    opt = cls(params, **kwargs)
    GRAD_BUFFERS[id(opt)] = fastopt.flat_arrays(SHAPES) if flat else None
    return params, opt


GRAD_BUFFERS = {}   # per optimizer made by make(): flat gradients (the fused path), or None


def steps(opt, t0, t1):
    buffers = GRAD_BUFFERS.get(id(opt))
    for t in range(t0, t1):
        g = grads_at(t)
        if buffers is not None:
            for b, v in zip(buffers, g):
                b[...] = v
            g = buffers
        opt.step(g)


def same(params_a, opt_a, params_b, opt_b, pairs):
    """params_a[i] and opt_a's state of i equal params_b[j] and opt_b's state of j."""
    sa, sb = opt_a.state_dict()["state"], opt_b.state_dict()["state"]
    for i, j in pairs:
        assert bits(params_a[i]).tolist() == bits(params_b[j]).tolist()
        assert sorted(sa[i]) == sorted(sb[j])
        for name, v in sa[i].items():
            w = sb[j][name]
            if isinstance(v, np.ndarray):
                assert bits(v).tolist() == bits(w).tolist(), name
            else:
                assert v == w, name
        # what the kernels use is what opt.state and state_dict show
        for name, v in opt_a.state[i].items():
            if isinstance(v, np.ndarray):
                assert bits(v).tolist() == bits(sa[i][name]).tolist()


def fresh_single(rule, start, t0, t1, which):
    """A fresh optimizer on a copy of ``start[which]`` alone, stepped over [t0, t1)."""
    cls, kwargs = RULES[rule]
    p = start[which].copy()
    opt = cls([p], **kwargs)
    for t in range(t0, t1):
        opt.step([grads_at(t)[which]])
    return p, opt


@rules
@layouts
def test_clear_one_parameter_starts_it_afresh(rule, flat):
    params, opt = make(rule, flat)
    ref_params, ref = make(rule, flat)
    steps(opt, 0, 3)
    steps(ref, 0, 3)
    at_clear = [p.copy() for p in params]
    opt.state[0].clear()
    assert 0 not in opt.state and len(opt.state) == 1
    steps(opt, 3, 6)
    steps(ref, 3, 6)
    p0, fresh = fresh_single(rule, at_clear, 3, 6, 0)
    same(params, opt, [p0], fresh, [(0, 0)])
    same(params, opt, ref_params, ref, [(1, 1)])   # the other parameter did not notice


@rules
@layouts
@pytest.mark.parametrize("how", ["state = {}", "clear each", "del each entry"])
def test_reset_everything_equals_a_fresh_optimizer(rule, flat, how):
    params, opt = make(rule, flat)
    steps(opt, 0, 4)
    if how == "state = {}":
        opt.state = {}
    elif how == "clear each":
        for i in list(opt.state):
            opt.state[i].clear()
    else:
        for s in list(opt.state.values()):
            for name in list(s):
                del s[name]
    assert len(opt.state) == 0
    fresh_params, fresh = make(rule, flat, start=[p.copy() for p in params])
    steps(opt, 4, 7)
    steps(fresh, 4, 7)
    same(params, opt, fresh_params, fresh, [(0, 0), (1, 1)])


@rules
@layouts
@pytest.mark.parametrize("at", [0, 2])
def test_load_an_earlier_checkpoint_rolls_back(rule, flat, at):
    params, opt = make(rule, flat)
    steps(opt, 0, at)
    saved, saved_params = opt.state_dict(), [p.copy() for p in params]
    steps(opt, at, at + 5)
    opt.load_state_dict(saved)
    for p, s in zip(params, saved_params):
        p[...] = s
    steps(opt, at, at + 3)
    ref_params, ref = make(rule, flat)      # the same run, never rolled back
    steps(ref, 0, at + 3)
    same(params, opt, ref_params, ref, [(0, 0), (1, 1)])


def test_the_issue_flat_arrays_rollback():
    ps = fastopt.flat_arrays([(3,), (2,)])
    opt = fastopt.Adam(ps, lr=0.1)
    init = opt.state_dict()
    for _ in range(5):
        opt.step([np.ones(3), np.ones(2)])
    opt.load_state_dict(init)
    for p in ps:
        p[...] = 0
    opt.step([-np.ones(3), -np.ones(2)])
    np.testing.assert_allclose(ps[0], 0.1 / (1 + 1e-8), rtol=1e-15)   # lr * g / (|g| + eps)
    np.testing.assert_allclose(opt.state[0]["exp_avg"], -0.1, rtol=1e-12)
    np.testing.assert_allclose(opt.state_dict()["state"][0]["exp_avg"], -0.1, rtol=1e-12)


@rules
@layouts
def test_load_a_partial_checkpoint_starts_the_missing_parameter_afresh(rule, flat):
    params, opt = make(rule, flat)
    steps(opt, 0, 2)
    saved, saved_params = opt.state_dict(), [p.copy() for p in params]
    del saved["state"][1]
    steps(opt, 2, 4)
    opt.load_state_dict(saved)
    for p, s in zip(params, saved_params):
        p[...] = s
    steps(opt, 2, 5)
    ref_params, ref = make(rule, flat)
    steps(ref, 0, 5)
    same(params, opt, ref_params, ref, [(0, 0)])
    p1, fresh = fresh_single(rule, saved_params, 2, 5, 1)
    same(params, opt, [p1], fresh, [(1, 0)])


@rules
@layouts
def test_a_checkpoint_lacking_arrays_is_refused_before_any_change(rule, flat):
    params, opt = make(rule, flat)
    steps(opt, 0, 2)
    saved = opt.state_dict()
    before = copy.deepcopy(saved)
    for name in [n for n, v in saved["state"][0].items() if isinstance(v, np.ndarray)]:
        del saved["state"][0][name]
    if rule != "SGD":   # SGD creates a missing momentum buffer later, as torch does
        with pytest.raises(ValueError, match=r"state_dict\['state'\]\[0\] lacks"):
            opt.load_state_dict(saved)
        same(params, opt, params, _Frozen(before), [(0, 0), (1, 1)])


class _Frozen:
    def __init__(self, sd):
        self.sd = sd
        self.state = {i: s for i, s in sd["state"].items()}

    def state_dict(self):
        return self.sd


@rules
@layouts
def test_assigning_a_new_array_is_used_by_the_kernels(rule, flat):
    params, opt = make(rule, flat)
    steps(opt, 0, 2)
    names = [n for n, v in opt.state[0].items() if isinstance(v, np.ndarray)]
    # the oracle: the same state, with the replaced arrays, through load_state_dict
    wanted = opt.state_dict()
    new = {}
    for k, name in enumerate(names):
        new[name] = np.full(opt.state[0][name].shape, 0.25 * (k + 1))
        wanted["state"][0][name] = new[name].copy()
    ref_params, ref = make(rule, flat, start=[p.copy() for p in params])
    ref.load_state_dict(wanted)
    for name, a in new.items():
        opt.state[0][name] = a
    assert all(opt.state[0][name] is a for name, a in new.items())
    steps(opt, 2, 4)
    steps(ref, 2, 4)
    same(params, opt, ref_params, ref, [(0, 0), (1, 1)])
    for name, a in new.items():     # updated in place, as torch does with assigned tensors
        assert opt.state[0][name] is a
        assert bits(a).tolist() == bits(ref.state[0][name]).tolist()


@rules
@layouts
def test_assigning_a_wrong_array_is_refused_and_changes_nothing(rule, flat):
    params, opt = make(rule, flat)
    steps(opt, 0, 1)
    name = next(n for n, v in opt.state[0].items() if isinstance(v, np.ndarray))
    current = opt.state[0][name]
    shape = current.shape
    bad = [
        (np.zeros(shape + (1,)), ValueError, "shape"),
        (np.zeros(shape, np.float32), TypeError, "dtype"),
        (np.zeros(shape).tolist(), TypeError, "numpy.ndarray"),
        (np.zeros(shape[:-1] + (2 * shape[-1],))[..., ::2], ValueError, "C-contiguous"),
        (np.broadcast_to(0.0, shape), ValueError, "read-only"),
        (params[0], ValueError, "shares memory with params"),
        (opt.state[1][name] if opt.state[1][name].shape == shape else params[0], ValueError,
         "shares memory"),
    ]
    for value, error, match in bad:
        with pytest.raises(error, match=match):
            opt.state[0][name] = value
        assert opt.state[0][name] is current
    with pytest.raises(KeyError, match="keeps no state"):
        opt.state[0]["exp_avg_typo"] = np.zeros(shape)
    with pytest.raises(ValueError, match="non-negative integer"):
        opt.state[0]["step"] = -1
    ref_params, ref = make(rule, flat)
    steps(opt, 1, 3)
    steps(ref, 0, 3)
    same(params, opt, ref_params, ref, [(0, 0), (1, 1)])


@rules
@layouts
def test_an_update_with_a_wrong_entry_changes_nothing(rule, flat):
    """``opt.state[0].update({...})`` (and ``|=``) with one entry refused: the entries
    before it were already assigned when it raised."""
    params, opt = make(rule, flat)
    steps(opt, 0, 1)
    names = [n for n, v in opt.state[0].items() if isinstance(v, np.ndarray)]
    before = dict(opt.state[0])
    edit = {name: np.full_like(before[name], 0.5) for name in names}
    edit["step"] = 7
    edit[names[-1]] = np.zeros(before[names[-1]].size + 1)  # refused: the shape
    for apply in (lambda s: s.update(edit), lambda s: s.__ior__(edit)):
        with pytest.raises(ValueError, match="shape"):
            apply(opt.state[0])
        assert dict(opt.state[0]).keys() == before.keys()
        assert all(opt.state[0][k] is v for k, v in before.items())
    ref_params, ref = make(rule, flat)
    steps(opt, 1, 3)
    steps(ref, 0, 3)
    same(params, opt, ref_params, ref, [(0, 0), (1, 1)])


@rules
@layouts
def test_an_inconsistent_edit_is_refused_at_the_next_step_before_any_write(rule, flat):
    params, opt = make(rule, flat)
    steps(opt, 0, 2)
    saved = opt.state_dict()
    before = [p.copy() for p in params]
    del opt.state[0]["step"]
    with pytest.raises(ValueError, match=r"opt.state\[0\] has entries .* but no 'step'"):
        opt.step(grads_at(2))
    assert all(bits(p).tolist() == bits(b).tolist() for p, b in zip(params, before))
    opt.state[0]["step"] = saved["state"][0]["step"]
    if rule != "SGD":
        name = next(n for n, v in opt.state[0].items() if isinstance(v, np.ndarray))
        kept = opt.state[0].pop(name)
        with pytest.raises(ValueError, match=r"opt.state\[0\] is at step 2 but lacks"):
            opt.step(grads_at(2))
        assert all(bits(p).tolist() == bits(b).tolist() for p, b in zip(params, before))
        opt.state[0][name] = kept
    steps(opt, 2, 4)
    ref_params, ref = make(rule, flat)
    steps(ref, 0, 4)
    same(params, opt, ref_params, ref, [(0, 0), (1, 1)])


@rules
def test_setting_step_takes_effect_even_in_a_fused_group(rule):
    params, opt = make(rule, True)
    steps(opt, 0, 3)
    assert opt._lockstep[0] or rule == "Adagrad-rowwise"   # the fused path is in use
    saved = opt.state_dict()
    saved["state"][0]["step"] = 1
    ref_params, ref = make(rule, True, start=[p.copy() for p in params])
    ref.load_state_dict(saved)
    opt.state[0]["step"] = 1
    steps(opt, 3, 5)
    steps(ref, 3, 5)
    same(params, opt, ref_params, ref, [(0, 0), (1, 1)])


def test_state_is_a_mapping_with_errors_in_the_users_terms():
    from collections.abc import Mapping
    params = [np.zeros(2), np.zeros(3)]
    opt = fastopt.Adam(params)
    assert isinstance(opt.state, Mapping)
    assert len(opt.state) == 0 and list(opt.state.keys()) == [] and opt.state.get(0) == {}
    opt.step([np.ones(2), None])
    assert list(opt.state.keys()) == [0] and 0 in opt.state and 1 not in opt.state
    assert [s["step"] for s in opt.state.values()] == [1]
    assert opt.state[params[0]] is opt.state[0]
    for key, match in [(5, "parameter 5 does not exist: the optimizer has 2 parameter"),
                       (-1, "parameter -1 does not exist"), ("0", "position"),
                       (np.zeros(2), "not a parameter")]:
        with pytest.raises(KeyError, match=match):
            opt.state[key]
        assert key not in opt.state
    assert opt.state.get(5, "default") == "default"
    with pytest.raises(TypeError, match="cannot be replaced"):
        opt.state = {0: {}}
