"""The validation fast path of ``Optimizer.step`` (issue 13): from the second step on, a
step like the last replays its kernel calls and re-checks only what can have changed.

Every change between two steps that the first step's checks would refuse must still be
refused by the second, before anything is written; and the replayed steps must give the
bits of the full path (the reference backend, stepped the same way).
"""
import numpy as np
import pytest

import fastopt

from conftest import require

BACKENDS = ["python", "cython", "numba"]
backends = pytest.mark.parametrize("backend", BACKENDS)
#: Layouts of three parameters: one array, separate arrays, one buffer (flat_arrays).
LAYOUTS = ["single", "separate", "flat"]
layouts = pytest.mark.parametrize("layout", LAYOUTS)
SHAPES = {"single": [(4, 3)], "separate": [(4, 3), (5,), (2, 2)],
          "flat": [(4, 3), (5,), (2, 2)]}


def make(backend, layout, cls=fastopt.Adam, dtype=np.float64, **kwargs):
    require(backend)
    shapes = SHAPES[layout]
    rng = np.random.default_rng(0)
    params = (fastopt.flat_arrays(shapes, dtype) if layout == "flat"
              else [np.zeros(s, dtype) for s in shapes])
    for p in params:
        p[...] = rng.standard_normal(p.shape)
    opt = cls(params if layout != "single" else params[0], backend=backend,
              **({"lr": 0.1} | kwargs))
    return params, opt


def grads_for(params, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(p.shape).astype(p.dtype) for p in params]


def snapshot(params, opt):
    arrays = [p.copy() for p in params]
    for i in range(len(params)):
        arrays += [v.copy() if isinstance(v, np.ndarray) else v
                   for _, v in sorted(opt.state[i].items())]
    return arrays


def assert_unchanged(before, params, opt):
    after = snapshot(params, opt)
    assert len(before) == len(after)
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def arg(params, grads):
    return grads[0] if len(params) == 1 else grads


def two_steps(backend, layout, **kwargs):
    """An optimizer after two steps (the second on the fast path) and its parameters."""
    params, opt = make(backend, layout, **kwargs)
    for t in range(2):
        opt.step(arg(params, grads_for(params, t)))
    assert opt._plan is not None
    return params, opt


RULES = {"Adam-amsgrad": (fastopt.Adam, dict(amsgrad=True)),
         "AdamW": (fastopt.AdamW, dict()),
         "SGD-nesterov": (fastopt.SGD, dict(momentum=0.9, nesterov=True)),
         "NAdam": (fastopt.NAdam, dict()),
         "Adagrad": (fastopt.Adagrad, dict(lr_decay=0.01))}


@backends
@layouts
@pytest.mark.parametrize("rule", list(RULES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reuse", [False, True], ids=["new-grads", "same-grads"])
def test_fast_steps_give_the_bits_of_the_reference(backend, layout, rule, dtype, reuse):
    cls, kwargs = RULES[rule]
    ref_params, ref = make("python", layout, cls, dtype, **kwargs)
    params, opt = make(backend, layout, cls, dtype, **kwargs)
    fixed = grads_for(params, 7)
    for t in range(5):
        grads = fixed if reuse else grads_for(params, t)
        opt.step(arg(params, grads))
        ref._plan = None  # the reference takes the full path at every step
        ref.step(arg(ref_params, [g.copy() for g in grads]))
        assert opt._plan is not None
    for a, b in zip(params, ref_params):
        np.testing.assert_array_equal(a, b)
    for i in range(len(params)):
        for name, value in ref.state[i].items():
            np.testing.assert_array_equal(opt.state[i][name], value)


@backends
@layouts
def test_learning_rate_edited_to_a_negative_value_is_refused(backend, layout):
    params, opt = two_steps(backend, layout)
    before = snapshot(params, opt)
    opt.param_groups[0]["lr"] = -0.1
    with pytest.raises(ValueError, match=r"param_groups\[0\]\.lr must be >= 0"):
        opt.step(arg(params, grads_for(params, 3)))
    assert_unchanged(before, params, opt)
    opt.param_groups[0] |= {"lr": -0.2}  # dict's in-place union is an edit too
    with pytest.raises(ValueError, match=r"param_groups\[0\]\.lr must be >= 0"):
        opt.step(arg(params, grads_for(params, 3)))
    assert_unchanged(before, params, opt)
    opt.param_groups[0]["lr"] = 0.1
    opt.step(arg(params, grads_for(params, 3)))  # fixed: steps again
    assert opt.state[0]["step"] == 3


@backends
@layouts
def test_param_groups_list_replaced_between_steps_is_refused(backend, layout):
    params, opt = two_steps(backend, layout)
    before = snapshot(params, opt)
    opt.param_groups = [dict(opt.param_groups[0])]
    with pytest.raises(TypeError, match="param_groups was changed as a list"):
        opt.step(arg(params, grads_for(params, 3)))
    assert_unchanged(before, params, opt)


@backends
@layouts
def test_state_array_replaced_by_a_read_only_one_is_refused(backend, layout):
    params, opt = two_steps(backend, layout)
    before = snapshot(params, opt)
    ro = opt.state[0]["exp_avg"].copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"opt.state\[0\]\['exp_avg'\] is read-only"):
        opt.state[0]["exp_avg"] = ro
    opt.step(arg(params, grads_for(params, 3)))  # the state kept its own array
    assert not np.array_equal(opt.state[0]["exp_avg"], before[len(params) + 0])


@backends
@layouts
def test_state_array_replaced_between_steps_is_used(backend, layout):
    """A replacement (checked at assignment) drops the plan: the next step updates it."""
    params, opt = two_steps(backend, layout)
    new = np.full_like(opt.state[0]["exp_avg"], 0.5)
    opt.state[0]["exp_avg"] = new
    opt.step(arg(params, grads_for(params, 3)))
    assert opt.state[0]["exp_avg"] is new and not np.all(new == 0.5)


@backends
@layouts
def test_state_step_edit_between_steps_takes_effect(backend, layout):
    params, opt = two_steps(backend, layout)
    opt.state[0]["step"] = 0  # through ParamState: the plan is dropped
    opt.step(arg(params, grads_for(params, 3)))
    assert opt.state[0]["step"] == 1


@backends
@layouts
@pytest.mark.parametrize("bad", ["dtype", "shape", "strides", "read-only-ok", "list"])
def test_a_different_gradient_on_step_two_is_refused(backend, layout, bad):
    params, opt = two_steps(backend, layout)
    before = snapshot(params, opt)
    grads = grads_for(params, 3)
    g = grads[-1]
    if bad == "dtype":
        grads[-1] = g.astype(np.float32)
        error, match = TypeError, "has dtype float32"
    elif bad == "shape":
        grads[-1] = g.reshape(-1)[:, None] if g.ndim == 1 else g.reshape(-1)
        error, match = ValueError, "has shape"
    elif bad == "strides":
        grads[-1] = np.stack([g, g], axis=-1)[..., 0]
        error, match = ValueError, "not C-contiguous"
    elif bad == "read-only-ok":  # a read-only gradient is fine: it is only read
        g.flags.writeable = False
        opt.step(arg(params, grads))
        return
    else:
        grads[-1] = g.tolist()
        error, match = TypeError, "must be a numpy.ndarray"
    with pytest.raises(error, match=match):
        opt.step(grads if bad == "list" else arg(params, grads))
    assert_unchanged(before, params, opt)


@backends
@layouts
@pytest.mark.parametrize("target", ["param", "state", "other param"])
def test_a_gradient_aliasing_a_parameter_or_state_on_step_two_is_refused(backend, layout,
                                                                          target):
    params, opt = two_steps(backend, layout)
    before = snapshot(params, opt)
    grads = grads_for(params, 3)
    i = len(params) - 1
    if target == "param":
        grads[i] = params[i].view()
    elif target == "state":
        grads[i] = opt.state[i]["exp_avg_sq"].view()
    else:
        if len(params) == 1:
            pytest.skip("one parameter")
        grads[i] = params[0].reshape(-1)[:params[i].size].reshape(params[i].shape)
    with pytest.raises(ValueError, match="shares memory"):
        opt.step(arg(params, grads))
    assert_unchanged(before, params, opt)


@backends
@layouts
def test_non_finite_gradient_on_step_two_is_refused_when_checked(backend, layout):
    params, opt = two_steps(backend, layout)
    opt.check_finite = True
    before = snapshot(params, opt)
    grads = grads_for(params, 3)
    grads[-1].reshape(-1)[1] = np.nan
    with pytest.raises(ValueError, match="is not finite"):
        opt.step(arg(params, grads))
    assert_unchanged(before, params, opt)
    same = grads_for(params, 4)  # the same arrays at the next step: checked again
    opt.step(arg(params, same))
    same[-1].reshape(-1)[0] = np.inf
    with pytest.raises(ValueError, match="is not finite"):
        opt.step(arg(params, same))


@backends
def test_reused_gradient_reinterpreted_in_place_is_refused(backend):
    params, opt = make(backend, "single")
    g = grads_for(params, 0)[0]
    opt.step(g)
    opt.step(g)
    before = snapshot(params, opt)
    g.shape = (3, 4)
    with pytest.raises(ValueError, match=r"grads\[0\] has shape \(3, 4\)"):
        opt.step(g)
    g.shape = (4, 3)
    g.dtype = np.int64
    with pytest.raises(TypeError, match="has dtype int64"):
        opt.step(g)
    assert_unchanged(before, params, opt)


@backends
def test_parameter_reshaped_in_place_between_steps_needs_gradients_of_its_new_shape(backend):
    params, opt = two_steps(backend, "single")
    params[0].shape = (3, 4)
    before = snapshot(params, opt)
    with pytest.raises(ValueError, match=r"grads\[0\] has shape \(4, 3\)"):
        opt.step(grads_for([np.zeros((4, 3))], 3)[0])
    assert_unchanged(before, params, opt)
    opt.step(np.ones((3, 4)))
    assert opt.state[0]["step"] == 3


@backends
@layouts
def test_after_an_in_place_reshape_schedules_and_checkpoints_go_on(backend, layout):
    """A parameter reshaped in place keeps stepping (its state keeps the shape it was made
    with): an ``lr`` edit was then refused ("the options no longer fit the state"), and the
    optimizer could not load its own checkpoint nor be deep-copied (the state's shape was
    compared with the parameter's new shape).  Everything goes on as for a parameter never
    reshaped, bit for bit."""
    import copy
    params, opt = two_steps(backend, layout)
    twins, twin = two_steps(backend, layout)
    params[0].shape = (2, 6)
    for t in range(2, 5):
        grads = grads_for(twins, t)
        opt.param_groups[0]["lr"] = twin.param_groups[0]["lr"] = 0.1 / t
        opt.step(arg(params, [grads[0].reshape(2, 6)] + grads[1:]))
        twin.step(arg(twins, grads))
        if t == 3:
            opt.load_state_dict(opt.state_dict())
            params, opt = copy.deepcopy((params, opt))
    for a, b in zip(params, twins):
        np.testing.assert_array_equal(a.reshape(-1), b.reshape(-1))
    for i in range(len(params)):
        for name, value in twin.state[i].items():
            np.testing.assert_array_equal(np.reshape(opt.state[i][name], np.shape(value)),
                                          value)


@backends
@layouts
@pytest.mark.parametrize("steps", [0, 2])
def test_parameter_dtype_reassigned_in_place_is_refused_before_any_write(backend, layout,
                                                                         steps):
    """``params[0].dtype = np.float32`` on a float64 parameter reinterprets its bytes as
    twice as many elements: its state, the group's spans and the checked tables were made
    for the dtype it was given with.  The step is refused (a TypeError naming the
    parameter), with a gradient of the new dtype and shape or of the old, before anything
    is written -- also before the parameter's first step -- and goes on once the dtype is
    restored."""
    params, opt = make(backend, layout)
    for t in range(steps):
        opt.step(arg(params, grads_for(params, t)))
    old_shape = params[0].shape
    params[0].dtype = np.float32
    before = snapshot(params, opt)
    for g0 in (np.ones(params[0].shape, np.float32), np.ones(old_shape)):
        grads = grads_for(params, 5)
        grads[0] = g0
        with pytest.raises(TypeError, match=r"params\[0\] has dtype float32 .*float64"):
            opt.step(arg(params, grads))
        assert_unchanged(before, params, opt)
    params[0].dtype = np.float64
    opt.step(arg(params, grads_for(params, 5)))
    assert opt.state[0]["step"] == steps + 1


@backends
def test_none_or_sparse_gradient_between_fast_steps(backend):
    """A step unlike the last (a skipped parameter) takes the full path and re-plans."""
    params, opt = two_steps(backend, "flat")
    ref_params, ref = make("python", "flat")
    for t in range(2):
        ref.step(grads_for(ref_params, t))
    for t, skip in ((2, 1), (3, None), (4, None)):
        for o, ps in ((opt, params), (ref, ref_params)):
            grads = grads_for(ps, t)
            if skip is not None:
                grads[skip] = None
            o.step(grads)
    assert [opt.state[i]["step"] for i in range(3)] == [5, 4, 5]
    for a, b in zip(params, ref_params):
        np.testing.assert_array_equal(a, b)


def test_backend_selection_change_drops_the_plan():
    require("cython")
    params, opt = make("cython", "single")
    opt.backend = None
    calls = []
    for t in range(3):
        with fastopt.use_backend("python"):
            opt.step(grads_for(params, t)[0])
            calls.append(opt._plan[7][0][2].__module__)  # the call's kernel
    assert all(m.startswith("fastopt.backends.python") for m in calls)


@backends
@layouts
def test_schedule_edits_between_fast_steps_give_the_bits_of_the_reference(backend, layout):
    """An lr schedule (and an option switched on: a new state array) between steps."""
    ref_params, ref = make("python", layout)
    params, opt = make(backend, layout)
    for t in range(6):
        for o, ps in ((opt, params), (ref, ref_params)):
            o.param_groups[0]["lr"] = 0.1 / (1 + t)
            if t == 3:
                o.param_groups[0]["amsgrad"] = True
            ref._plan = None
            o.step(arg(ps, grads_for(ps, t)))
    assert "max_exp_avg_sq" in opt.state[0]
    for a, b in zip(params, ref_params):
        np.testing.assert_array_equal(a, b)


def test_the_compiled_gradient_checks_agree_with_the_python_ones():
    require("cython")
    from fastopt.backends.cython._checks import grads_pass
    from fastopt.optim.optimizer import _grads_pass_py
    params, opt = two_steps("cython", "separate")
    starts, ends, _ = opt._occupied_ranges()
    dtypes = tuple(p.dtype for p in params)
    shapes = tuple(p.shape for p in params)
    good = grads_for(params, 5)
    cases = {"good": good, "same": list(opt._validated_grads), "short": good[:2],
             "f32": good[:2] + [good[2].astype(np.float32)],
             "shape": good[:2] + [good[2].reshape(-1)],
             "strided": good[:2] + [np.stack([good[2], good[2]], -1)[..., 0]],
             "list": good[:2] + [good[2].tolist()],
             "subclass": good[:2] + [np.ma.masked_array(good[2])],
             "param": good[:2] + [params[2].view()],
             "state": good[:2] + [opt.state[1]["exp_avg"][:4].reshape(2, 2)],
             "empty-ok": good}
    for name, grads in cases.items():
        answers = [f(tuple(params), grads, [None] * 3, dtypes, shapes, starts, ends)
                   for f in (grads_pass, _grads_pass_py)]
        assert answers[0] == answers[1] == (name in ("good", "same", "empty-ok")), name
    from fastopt.backends.cython._checks import overlap_index
    from fastopt.optim.optimizer import _overlap_index_py
    buffer = opt.state[1]["exp_avg_sq"]
    for a in (good[0], params[1], params[2][1:], buffer[2:], buffer[-1:], np.empty(0)):
        assert overlap_index(a, starts, ends) == _overlap_index_py(a, starts, ends)
    assert overlap_index(buffer[3:], starts, ends) >= 0
    assert overlap_index(good[0], starts, ends) == -1
    # A parameter reshaped in place fails both.
    params[0].shape = (3, 4)
    for f in (grads_pass, _grads_pass_py):
        assert not f(tuple(params), good, [None] * 3, dtypes, shapes, starts, ends)


def test_the_c_helpers_match_their_python_fallbacks():
    """``_call_kernel`` and ``_next_step`` (C, in ``_checks``) do what the Python versions
    used where the extension was not built do."""
    from fastopt.optim import optimizer as O
    require("cython")
    from fastopt.backends.cython import _checks
    seen = []
    for call in (_checks.call_kernel, O._call_kernel_py):
        args = []
        call(lambda *a: args.append(a), "p", "g", ("s0", "s1"), [1.5, 2.5], (True,), 3)
        seen.append(args)
    assert seen[0] == seen[1] == [("p", "g", "s0", "s1", 1.5, 2.5, True, 3)]
    many = tuple(range(40))  # past the C array: the plain call
    got = []
    _checks.call_kernel(lambda *a: got.append(a), 0, 1, many, (), (), 9)
    assert got == [(0, 1) + many + (9,)]
    for bump in (_checks.next_step, O._next_step_py):
        state = fastopt.optim.optimizer.ParamState.__new__(fastopt.optim.optimizer.ParamState)
        dict.__setitem__(state, "step", 4)
        assert bump(state) == 5 and dict.__getitem__(state, "step") == 5
    with pytest.raises(TypeError, match="state must be a dict"):
        _checks.next_step([("step", 1)])


def test_the_group_c_helpers_match_their_python_fallbacks():
    """``next_steps``, ``put_all`` and ``same_items`` (C, in ``_checks``: one call for a
    group's states or arrays) do what the Python versions do, and the C ones refuse a
    non-dict before writing anything."""
    from fastopt.optim import optimizer as O
    from fastopt.backends.numba import _jit
    require("cython")
    from fastopt.backends.cython import _checks
    ParamState = O.ParamState
    for bump, put in ((_checks.next_steps, _checks.put_all),
                      (O._next_steps_py, O._put_all_py)):
        states = [ParamState.__new__(ParamState) for _ in range(3)]
        for t, state in enumerate(states):
            dict.__setitem__(state, "step", 10 * t)
        for seq in (tuple(states), states):
            bump(seq)
        assert [dict.__getitem__(s, "step") for s in states] == [2, 12, 22]
        put(states[1:], "mu_product", 0.5)
        assert [dict.get(s, "mu_product") for s in states] == [None, 0.5, 0.5]
    for bad in ((states[0], [("step", 1)]), [states[0], 3]):
        before = dict.__getitem__(states[0], "step")
        with pytest.raises(TypeError, match="state must be a dict"):
            _checks.next_steps(bad)
        with pytest.raises(TypeError, match="state must be a dict"):
            _checks.put_all(bad, "step", -1)
        assert dict.__getitem__(states[0], "step") == before  # nothing written
    a, b, c = np.zeros(2), np.zeros(2), np.zeros(2)
    cases = [([a, b], (a, b), True), ([a, b], [a, b], True), ((a, b), (a, b), True),
             ([a, b], (a, c), False), ([a, b], (b, a), False), ([a, b], (a,), False),
             ([a], (a, b), False), ([], (), True),
             # equal values, other objects: not the same (== would say so for one element)
             ([np.ones(1)], (np.ones(1),), False)]
    for x, y, same in cases:
        assert _checks.same_items(x, y) is same
        assert O._same_items_py(x, y) is same
        assert _jit._same_items_py(x, y) is same
    with pytest.raises(TypeError, match="lists or tuples"):
        _checks.same_items(iter([a]), (a,))


@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.0, 0.999), (0.9, 0.0), (0.5, 0.25)])
@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_plan_scalars_are_the_scalars_of_the_full_path(betas, decoupled):
    """The plan's step scalars (logs of the betas taken once) are the doubles of
    ``Adam._scalars`` (``one_minus_pow``) at every step."""
    p = np.zeros(3)
    opt = fastopt.Adam(p, betas=betas, weight_decay=0.01, decoupled_weight_decay=decoupled)
    group = opt.param_groups[0]
    planned = opt._scalars_for(group)
    for t in [1, 2, 3, 7, 100, 12345, 10**7]:
        assert planned({"step": t}) == opt._scalars(group, {"step": t})



@backends
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("cls,kwargs,cost", [
    (fastopt.SGD, {}, 0.25), (fastopt.SGD, {"momentum": 0.9}, 0.4), (fastopt.ASGD, {}, 0.5),
    (fastopt.Lion, {}, 0.5), (fastopt.Adam, {}, 1.0), (fastopt.Adagrad, {}, 1.0)])
def test_threads_from_the_rules_cost_per_element(monkeypatch, backend, cls, kwargs, cost,
                                                 layout):
    # A cheap rule's call stays on one thread up to PARALLEL_THRESHOLD / cost elements, in
    # the full step and in the replayed ones (the threads each call asks for are recorded).
    from conftest import lowered_threshold
    from fastopt.backends import _dispatch
    asked = []
    monkeypatch.setattr(_dispatch, "get_num_threads", lambda: asked.append(1) or 2)
    params, opt = make(backend, layout, cls, **kwargs)
    as_given = (lambda g: g) if layout != "single" else (lambda g: g[0])
    opt.step(as_given(grads_for(params, 0)))
    calls = opt._plan[7]  # (kind, ...): one per parameter, or one for the group
    largest = max(params[c[1]].size if c[0] == "one" else sum(p.size for p in params)
                  for c in calls)
    for threshold, parallel in ((largest * cost, True), (largest * cost + 1, False)):
        asked.clear()
        with lowered_threshold(threshold):
            for seed in range(3):  # the plan's replays
                opt.step(as_given(grads_for(params, seed)))
        assert bool(asked) is parallel, (threshold, largest, [c[0] for c in calls])
    opt.state[0].clear()  # the full step again
    asked.clear()
    with lowered_threshold(largest * cost + 1):
        opt.step(as_given(grads_for(params, 5)))
    assert not asked


def _replay_impl(monkeypatch, replay):
    """The one-call replay and the plan's scalars in C (``_checks.ReplayOne``,
    ``_checks.StepScalars``) or their Python twins."""
    from fastopt.optim import optimizer as O
    if replay == "python":
        monkeypatch.setattr(O, "_ReplayOne", None)
        monkeypatch.setattr(O, "_StepScalars", None)
    elif O._ReplayOne is None:
        pytest.skip("the Cython extension is not built")


def _unaligned_like(g):
    raw = bytearray(g.nbytes + 1)
    out = np.frombuffer(raw, g.dtype, count=g.size, offset=1).reshape(g.shape)
    out[...] = g
    assert not out.flags.aligned
    return out


@backends
@pytest.mark.parametrize("replay", ["c", "python"])
def test_bad_steps_between_replayed_small_steps(monkeypatch, backend, replay):
    """A one-parameter model (the replayed small step, issue 13): each bad step is refused
    with the full path's error before anything is written, and the good steps around
    them (with hyperparameter edits) give the reference's bits."""
    _replay_impl(monkeypatch, replay)
    params, opt = make(backend, "single", dtype=np.float32)
    ref_params, ref = make("python", "single", dtype=np.float32)
    p = params[0]

    def good(t, edit=None):
        for o, ps in ((opt, params), (ref, ref_params)):
            if edit:
                o.param_groups[0].update(edit)
            o.step(grads_for(ps, t)[0])
        for a, b in [(p, ref_params[0])] + [(opt.state[0][k], ref.state[0][k])
                                            for k in ref.state[0]]:
            np.testing.assert_array_equal(a, b)

    g = grads_for(params, 9)[0]
    bad = [(lambda: [g, g], ValueError, "grads has 2 entries"),
           (lambda: [], ValueError, "grads has 0 entries"),
           (lambda: _unaligned_like(g), ValueError, r"grads\[0\] is not aligned"),
           (lambda: g.astype(np.float64), TypeError, "has dtype float64"),
           (lambda: np.asfortranarray(np.stack([g, g], -1))[..., 0], ValueError,
            "not C-contiguous"),
           (lambda: p, ValueError, "shares memory with params"),
           (lambda: opt.state[0]["exp_avg"], ValueError, "shares memory"),
           (lambda: {"lr": -1.0}, ValueError, "lr must be >= 0"),
           (lambda: {"betas": (0.9, 1.5)}, ValueError, r"betas\[1\]"),
           (lambda: "read-only", ValueError, r"params\[0\] is read-only")]
    for t in range(3):
        good(t)
    for k, (make_bad, error, match) in enumerate(bad):
        before = snapshot(params, opt)
        arg_ = make_bad()
        saved = dict(opt.param_groups[0])
        with pytest.raises(error, match=match):
            if isinstance(arg_, dict):
                opt.param_groups[0].update(arg_)
                opt.step(g)
            elif isinstance(arg_, str):
                p.flags.writeable = False
                opt.step(g)
            else:
                opt.step(arg_)
        assert_unchanged(before, params, opt)
        p.flags.writeable = True
        opt.param_groups[0].update(saved)
        good(10 + k, {"betas": (0.8, 0.99)} if k == 3 else
             {"betas": (0.0, 0.9), "weight_decay": 0.1} if k == 6 else None)
    assert opt.state[0]["step"] == 3 + len(bad)


@pytest.mark.parametrize("terms", [
    (), ((4, "over_one_minus_pow", 0.1, np.log(0.9)), (5, "sqrt_one_minus_pow", 0.0, np.log(0.999))),
    ((0, "over_decay", 0.01, 0.5),), ((1, "over_decay", 3e-4, 0.0),),
    ((2, "over_one_minus_pow", 1e-3, np.log(1e-300)), (3, "sqrt_one_minus_pow", 0.0, np.log(0.5)))])
def test_step_scalars_in_c_are_the_doubles_of_the_python_expressions(terms):
    """``_checks.StepScalars`` (C) against ``_step_scalars_py`` (the Python expressions),
    bit for bit, at small and large steps, with a step that is a NumPy integer and with
    constants that are not floats (the Python expressions then)."""
    require("cython")
    from fastopt.backends.cython._checks import StepScalars
    from fastopt.optim.optimizer import _step_scalars_py
    terms = tuple((j, kind, float(a), float(b)) for j, kind, a, b in terms)
    for floats in [(0.9, 0.1, 0.999, 1e-3, 0.0, 0.0, 1e-8), (0.9, 1, 0.5, 2, 0.0, 0.0, 0)]:
        for flags in [(True, False), ()]:
            c, py = StepScalars(floats, flags, terms), _step_scalars_py(floats, flags, terms)
            for t in [1, 2, 3, 7, 100, 12345, 10 ** 7, 2 ** 60, np.int64(5)]:
                got, want = c({"step": t}), py({"step": t})
                assert got[1] == want[1] == flags
                assert [type(x) for x in got[0]] == [type(x) for x in want[0]]
                assert [float(x).hex() for x in got[0]] == [float(x).hex() for x in want[0]], t
    with pytest.raises(ValueError, match="bad term"):
        StepScalars((1.0,), (), ((3, "over_decay", 1.0, 1.0),))


@pytest.mark.parametrize("cls,kwargs", [(fastopt.Adagrad, dict(lr_decay=0.01, weight_decay=0.1)),
                                        (fastopt.RMSprop, dict(centered=True, momentum=0.5))])
def test_plan_scalars_of_adagrad_and_rmsprop_are_those_of_the_full_path(cls, kwargs):
    p = np.zeros(3)
    opt = cls(p, **kwargs)
    group = opt.param_groups[0]
    planned = opt._scalars_for(group)
    for t in [1, 2, 3, 7, 100, 12345, 10**7]:
        got, want = planned({"step": t}), opt._scalars(group, {"step": t})
        assert [x.hex() for x in got[0]] == [float(x).hex() for x in want[0]]
        assert got[1] == want[1]
