"""Parameters laid out back to back in one buffer are updated by one kernel call per group,
with exactly the result of one call per parameter."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastopt

from conftest import bits, examples, require
from optimizer_cases import GRIDS

SHAPES = [(0,), (30, 7), (1,), (0,), (64,), (5, 5, 3)]


def _maximal(cls):
    kwargs = {k: v[-1] for k, v in GRIDS[cls].items()}
    if cls is fastopt.SGD:
        kwargs.update(momentum=0.9, dampening=0.0, nesterov=True)
    kwargs.pop("rowwise", None)  # row-wise Adagrad updates row by row: no fused flat call
    return kwargs


def _run(cls, backend, flat, steps=12, seed=0, **kwargs):
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    if flat:
        params = fastopt.flat_arrays(SHAPES, np.float32)
        for p, s in zip(params, start):
            p[...] = s
        grads = fastopt.flat_arrays(SHAPES, np.float32)
    else:
        params = start
    opt = cls(params, backend=backend, **kwargs)
    calls = []
    for t in range(steps):
        values = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
        if flat:
            for g, v in zip(grads, values):
                g[...] = v
            opt.step(grads)
        else:
            opt.step(values)
    return params, opt


@pytest.mark.parametrize("backend", ["python", "numba", "cython"])
@pytest.mark.parametrize("cls", list(GRIDS), ids=lambda c: c.__name__)
def test_fused_group_equals_one_call_per_parameter(cls, backend):
    require(backend)
    kwargs = _maximal(cls)
    p_sep, o_sep = _run(cls, backend, flat=False, **kwargs)
    p_flat, o_flat = _run(cls, backend, flat=True, **kwargs)
    # Layer-wise rules (LAMB's norms per parameter) and per-row step counters are never
    # fused: one call per parameter there, with the same result.
    fusable = not o_flat._finishes and not kwargs.get("per_row_step")
    assert o_flat._lockstep[0] == fusable, "the flat group was not updated by the fused path"
    for a, b in zip(p_flat, p_sep):
        np.testing.assert_array_equal(bits(a), bits(b))
    for i, s in o_sep.state.items():
        for name, v in s.items():
            got = o_flat.state[i][name]
            if isinstance(v, np.ndarray):
                assert got.shape == v.shape
                np.testing.assert_array_equal(bits(got), bits(v))
            else:
                assert got == v


def test_flat_arrays_are_views_of_one_buffer():
    arrays = fastopt.flat_arrays([(2, 3), (4,), (0,)], np.float32)
    assert [a.shape for a in arrays] == [(2, 3), (4,), (0,)]
    assert all(a.dtype == np.float32 and a.base is arrays[0].base for a in arrays)
    assert arrays[0].base.size == 10 and not arrays[0].base.any()


def test_fused_path_one_kernel_call_per_group(monkeypatch):
    from fastopt.backends import _dispatch
    calls = []
    real = _dispatch.kernel("python", "adam")
    monkeypatch.setitem(_dispatch._kernels, ("python", "adam"),
                        lambda *a: calls.append(a[0].size) or real(*a))
    params = fastopt.flat_arrays([(3,), (4,), (5,)])
    grads = fastopt.flat_arrays([(3,), (4,), (5,)])
    opt = fastopt.Adam(params, backend="python")
    opt.step(grads)
    assert calls == [12]
    opt.step([grads[0], None, grads[2]])  # a skipped parameter: one call per parameter
    assert calls == [12, 3, 5]
    opt.step(grads)  # no longer in lockstep (params[1] is a step behind): per parameter
    assert calls == [12, 3, 5, 3, 4, 5]
    # separate gradient arrays: per parameter, same result
    opt.step([g.copy() for g in grads])
    assert calls[-3:] == [3, 4, 5]


def test_fused_group_checkpoint_round_trip():
    params = fastopt.flat_arrays([(3,), (4,)], np.float32)
    grads = fastopt.flat_arrays([(3,), (4,)], np.float32)
    for g in grads:
        g[...] = 0.5
    opt = fastopt.NAdam(params)
    for _ in range(3):
        opt.step(grads)
    sd = opt.state_dict()
    before = [p.copy() for p in params]
    opt.step(grads)
    after_one = [p.copy() for p in params]
    for p, b in zip(params, before):
        p[...] = b
    opt.load_state_dict(sd)
    opt.step(grads)
    for p, a in zip(params, after_one):
        np.testing.assert_array_equal(bits(p), bits(a))
    assert opt._lockstep[0]


@pytest.mark.parametrize("backend", ["python", "numba", "cython"])
def test_fused_first_step_then_per_parameter_steps_equal_separate_arrays(backend):
    """SGD's first momentum step (b = g) is taken once per parameter, fused or not."""
    require(backend)
    shapes = [(3,), (4,)]
    flat, grads = fastopt.flat_arrays(shapes), fastopt.flat_arrays(shapes)
    for g in grads:
        g[...] = 1.0
    separate = [np.zeros(3), np.zeros(4)]
    a = fastopt.SGD(flat, lr=0.1, momentum=0.9, backend=backend)
    b = fastopt.SGD(separate, lr=0.1, momentum=0.9, backend=backend)
    for fused_grads, separate_grads in [(grads, [np.ones(3), np.ones(4)]),
                                        ([grads[0], None], [np.ones(3), None]),
                                        (grads, [np.ones(3), np.ones(4)])]:
        a.step(fused_grads)
        b.step(separate_grads)
    for x, y in zip(flat, separate):
        np.testing.assert_array_equal(bits(x), bits(y))


@pytest.mark.parametrize("shapes", [[(3,), (3,)], [(3,), (2, 2)], [(0,), (4,)]])
def test_groups_with_equal_options_round_trip_checkpoints_and_copies(shapes):
    """Two groups with the same hyperparameters and as many arrays: loading a checkpoint
    (and so ``copy.deepcopy``) found each parameter's group by ``==`` on the group dicts,
    which compared their arrays (an error: the truth value of an array, or shapes that do
    not broadcast)."""
    import copy

    rng = np.random.default_rng(3)
    params = [rng.standard_normal(s) for s in shapes]
    opt = fastopt.Adam([{"params": [params[0]]}, {"params": [params[1]]}], lr=0.1)
    grads = [rng.standard_normal(s) for s in shapes]
    opt.step(grads)
    state = opt.state_dict()
    twin_params, twin = copy.deepcopy((params, opt))
    opt.step(grads)
    twin.step(grads)
    for p, q in zip(params, twin_params):
        np.testing.assert_array_equal(bits(p), bits(q))
    opt.load_state_dict(state)
    assert [opt.state[i]["step"] for i in range(2)] == [1, 1]


@pytest.mark.parametrize("backend", ["python", "numba", "cython"])
def test_a_groups_params_list_cannot_change_under_the_optimizer(backend):
    """``param_groups[0]["params"].append(x)`` (torch's way to add an array) made the
    one-call-per-group step read the group as one array longer: the next group's first
    parameter was stepped with this group's hyperparameters (and ``state_dict`` numbered
    a parameter that does not exist).  The list refuses to change in place; replacing it
    is refused at the next step (and by ``state_dict``), before anything is written; add
    arrays with ``add_param_group``."""
    require(backend)
    a, b, c = np.zeros(3), np.zeros(3), np.zeros(3)
    opt = fastopt.SGD([{"params": [a, b]}, {"params": [c], "lr": 100.0}], lr=1.0,
                      backend=backend)
    group = opt.param_groups[0]
    x = np.zeros(3)
    for change in (lambda ps: ps.append(x), lambda ps: ps.extend([x]),
                   lambda ps: ps.insert(0, x), lambda ps: ps.__setitem__(0, x),
                   lambda ps: ps.__delitem__(0), lambda ps: ps.pop(), lambda ps: ps.clear(),
                   lambda ps: ps.remove(a), lambda ps: ps.__iadd__([x])):
        with pytest.raises(TypeError, match=r"add_param_group"):
            change(group["params"])
    assert group["params"] == [a, b] and isinstance(group["params"], list)
    opt.step([np.ones(3)] * 3)
    np.testing.assert_array_equal(c, -100.0)
    assert [g["params"] for g in opt.state_dict()["param_groups"]] == [[0, 1], [2]]
    registered = group["params"]
    group["params"] = [a, b, x]
    before = [a.copy(), b.copy(), c.copy()]
    with pytest.raises(TypeError, match=r"param_groups\[0\]\['params'\] was replaced"):
        opt.step([np.ones(3)] * 3)
    with pytest.raises(TypeError, match=r"param_groups\[0\]\['params'\] was replaced"):
        opt.state_dict()
    for p, q in zip((a, b, c), before):
        np.testing.assert_array_equal(p, q)
    group["params"] = registered  # (the same list again: steps on)
    opt.step([np.ones(3)] * 3)
    np.testing.assert_array_equal(c, -200.0)
    import copy
    assert copy.deepcopy(group)["params"][0] is not a  # (copies as a plain list)


# -- any sequence of steps and edits ----------------------------------------------------------
# Several groups (separate arrays or one buffer each, 0-d to 3-d, empty arrays) stepped by one
# call per group (a span, <rule>_many, the plans that replay them), interleaved with what a
# user does between steps; after every step each parameter and its state must be what the
# reference gives the parameter stepped alone.

PROPERTY_RULES = [
    (fastopt.SGD, dict(lr=0.1, momentum=0.9, nesterov=True), dict(lr=0.2)),
    (fastopt.Adam, dict(lr=0.1, amsgrad=True, weight_decay=0.01), dict(betas=(0.5, 0.9))),
    (fastopt.NAdam, dict(lr=0.1, momentum_decay=0.1), dict(decoupled_weight_decay=True,
                                                          weight_decay=0.1)),
    (fastopt.ASGD, dict(lr=0.1, t0=2.0), dict(lr=0.05, weight_decay=0.1)),
    (fastopt.RMSprop, dict(lr=0.01, centered=True, momentum=0.9), dict(lr=0.02)),
    (fastopt.Ftrl, dict(lr=0.1, l1=0.3, l2=0.1), dict(lr=0.2)),
    (fastopt.RAdam, dict(lr=0.1, betas=(0.8, 0.9)), dict(lr=0.05)),
    (fastopt.LAMB, dict(lr=0.1), dict(weight_decay=0.1)),
]
PROPERTY_SHAPES = [(5,), (3, 4), (0,), (7,), (1,), (2, 1, 3), ()]
OPS = ["step"] * 6 + ["lr", "state step", "clear", "load", "threads"]


def _state_equal(got, want):
    assert set(got) == set(want)
    for name, v in want.items():
        if isinstance(v, np.ndarray):
            np.testing.assert_array_equal(bits(got[name]), bits(v), err_msg=name)
        else:
            assert got[name] == v, name


@settings(max_examples=examples(30), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(rule=st.sampled_from(PROPERTY_RULES), backend=st.sampled_from(["numba", "cython"]),
       dtype=st.sampled_from([np.float32, np.float64]),
       groups=st.lists(st.tuples(st.lists(st.sampled_from(PROPERTY_SHAPES), min_size=1,
                                          max_size=3), st.booleans()),
                       min_size=1, max_size=3),
       ops=st.lists(st.sampled_from(OPS), min_size=3, max_size=10),
       seed=st.integers(0, 2 ** 32 - 1))
def test_any_steps_and_edits_on_several_groups_equal_each_parameter_stepped_alone(
        rule, backend, dtype, groups, ops, seed):
    from conftest import lowered_threshold
    require(backend)
    cls, first, others = rule
    rng = np.random.default_rng(seed)
    spec = []
    for k, (shapes, flat) in enumerate(groups):
        arrays = fastopt.flat_arrays(shapes, dtype) if flat else [np.zeros(s, dtype)
                                                                  for s in shapes]
        for a in arrays:
            a[...] = rng.standard_normal(a.shape)
        spec.append({"params": arrays, **(first if k == 0 else {**first, **others})})
    params = [p for group in spec for p in group["params"]]
    alone = [cls([p.copy()], backend="python",
                 **{k: v for k, v in group.items() if k != "params"})
             for group in spec for p in group["params"]]
    opt = cls(spec, backend=backend)
    held = fastopt.flat_arrays([p.shape for p in params], dtype)
    with lowered_threshold(4):
        try:
            for op in ops:
                if op == "step":
                    values = [rng.standard_normal(p.shape).astype(dtype) for p in params]
                    if rng.integers(2):  # the same arrays as before (one buffer), new values
                        for h, v in zip(held, values):
                            h[...] = v
                        values = list(held)
                    grads = [None if rng.random() < 0.1 else g for g in values]
                    opt.step(tuple(grads) if rng.integers(2) else grads)
                    for one, g in zip(alone, grads):
                        if g is not None:
                            one.step([g.copy()])
                    for i, one in enumerate(alone):
                        np.testing.assert_array_equal(bits(params[i]),
                                                      bits(one.param_groups[0]["params"][0]))
                        _state_equal(opt.state[i], one.state[0])
                elif op == "lr":
                    gi = int(rng.integers(len(spec)))
                    opt.param_groups[gi]["lr"] *= 0.5
                    start = sum(len(g["params"]) for g in spec[:gi])
                    for one in alone[start:start + len(spec[gi]["params"])]:
                        one.param_groups[0]["lr"] *= 0.5
                elif op in ("state step", "clear"):
                    i = int(rng.integers(len(params)))
                    if op == "clear":
                        opt.state[i].clear()
                        alone[i].state[0].clear()
                    elif "step" in opt.state[i]:
                        opt.state[i]["step"] = alone[i].state[0]["step"] = 1
                elif op == "load":
                    saved = opt.state_dict()
                    opt = cls(spec, backend=backend)
                    opt.load_state_dict(saved)
                else:
                    fastopt.set_num_threads(int(rng.integers(1, 3)))
        finally:
            fastopt.set_num_threads(None)
