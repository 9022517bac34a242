"""numba's prepared separate-arrays call (``Many.prepare``, what the optimizer's plan replays
for a group of separate arrays): after its first call it runs the walk from C (the rule's
``<rule>_address`` on the separate-arrays layout, ``_jit.c_function``) on one thread or on
fastopt's pool, without numba's dispatcher.

It must give the bits of the full call at every step and thread count, take the C
function only for the lists, gradients and options it checked (a new gradient object is
checked again, an option that changes which states are used is checked in full, before
anything is written), and fall back to the full call where there is no C function.
"""
import warnings

import numpy as np
import pytest

from fastopt.backends.numba import _jit

from conftest import bits, kernel, require
from kernel_cases import make_case, option_grid, stable_seed

require("numba")

SIZES = (0, 1, 17, 40, 3)  # 61 elements: chunks of 16 on the pool, ending inside arrays
#: The steps' thread counts (more threads than elements: the chunks of as many threads as
#: elements; beyond int64 too).
THREADS = (1, 2, 2, 3, 1, 2, 200, 2 ** 40, 10 ** 30)


def columns(cases):
    """The per-argument lists of the per-array cases (the ``_many`` arguments)."""
    return [list(column) for column in zip(*(arrays for arrays, _ in cases))]


def copied(lists):
    return [[a.copy() for a in column] for column in lists]


def assert_same(got, want, label):
    for j, (g, w) in enumerate(zip(got, want)):
        for i, (a, b) in enumerate(zip(g, w)):
            assert np.array_equal(bits(a), bits(b)), f"{label}: argument {j}[{i}] differs"


def jobs():
    """fastopt's pool: the parallel ranges run so far."""
    from fastopt.backends.cython import _pool
    info = _pool.info()
    return info["jobs"] + info["serial_fallbacks"]


def prepared_case(many, algorithm, options, dtype, rng):
    """``(prepared, mine, theirs, scalars)``: arrays of :data:`SIZES` (``mine``, which
    ``prepared`` is prepared for, and a copy, ``theirs``) and their scalars."""
    cases = [make_case(algorithm, options, n, dtype, rng) for n in SIZES]
    mine = columns(cases)
    return many.prepare(mine[0], *mine[2:]), mine, copied(mine), cases[0][1]


def counting_run(many, monkeypatch):
    """Record the calls of ``many.run`` (the walk through numba's dispatcher)."""
    runs = []
    run = many.run

    def spy(*args):
        runs.append(args)
        return run(*args)
    monkeypatch.setattr(many, "run", spy)
    return runs


@pytest.mark.parametrize("case", [("adam", np.float32), ("adam", np.float64),
                                  ("rmsprop", np.float64), ("sgd", np.float32)],
                         ids=lambda c: f"{c[0]}-{np.dtype(c[1]).name}")
def test_prepared_many_gives_the_full_calls_bits_from_c(case, monkeypatch):
    """Every option set, steps on 1, 2 and 3 threads, the same gradient objects and new
    ones: the bits of the full call (the dispatcher's walk) at each step; after the first
    call no step goes through the dispatcher, and each step on more threads is one range
    of fastopt's pool."""
    algorithm, dtype = case
    if _jit.POOL_RUN:
        require("cython")
    many = kernel("numba", f"{algorithm}_many", algorithm)
    runs = counting_run(many, monkeypatch)
    for options in option_grid(algorithm):
        label = f"{algorithm} {options}"
        rng = np.random.default_rng(stable_seed("many prepared", algorithm, dtype.__name__,
                                                *options.values()))
        prepared, mine, theirs, scalars = prepared_case(many, algorithm, options, dtype, rng)
        grads = mine[1]
        for step, n_threads in enumerate(THREADS):
            if step == 3:  # new gradient objects: checked again, then from C again
                grads = [g * dtype(2) for g in grads]
            many(theirs[0], [g.copy() for g in grads], *theirs[2:], *scalars, n_threads)
            before_runs, before_jobs = len(runs), jobs() if _jit.POOL_RUN else 0
            prepared(mine[0], grads, *mine[2:], *scalars, n_threads)
            assert len(runs) == before_runs, f"{label}: step {step} took the dispatcher"
            if _jit.POOL_RUN:
                assert jobs() == before_jobs + (n_threads > 1), label
            assert_same(mine[:1] + mine[2:], theirs[:1] + theirs[2:], f"{label} step {step}")
        assert prepared.entry is not None, label


def test_prepared_many_refuses_before_writing_what_the_full_call_refuses():
    """After steps from C: a gradient of another dtype, ``n_threads`` of 0, and an option
    that now uses a state the arrays were prepared without (RMSprop's momentum turned on
    with empty momentum buffers, which the C function would index) are refused with the
    full call's errors, nothing written; a NumPy integer thread count and NumPy float
    scalars run (the full call's way) with the same bits."""
    many = kernel("numba", "rmsprop_many", "rmsprop")
    options = dict(centered=True, momentum=False, weight_decay=True, maximize=False)
    prepared, mine, theirs, scalars = prepared_case(many, "rmsprop", options, np.float32,
                                                    np.random.default_rng(23))
    for n_threads in (1, 2):
        prepared(*mine, *scalars, n_threads)
        many(*theirs, *scalars, n_threads)
    before = copied(mine)
    bad_grads = list(mine[1])
    bad_grads[2] = bad_grads[2].astype(np.float64)
    with pytest.raises(ValueError, match=r"grads\[2\] has dtype float64"):
        prepared(mine[0], bad_grads, *mine[2:], *scalars, 2)
    with pytest.raises(ValueError, match="n_threads must be >= 1"):
        prepared(*mine, *scalars, 0)
    momentum_on = scalars[:5] + (0.9,) + scalars[6:]
    with pytest.raises(ValueError, match=r"momentum_buffer\[\d\] has shape \(0,\)"):
        prepared(*mine, *momentum_on, 2)
    assert_same(mine, before, "refused calls wrote")
    numpy_scalars = tuple(np.float32(x) if type(x) is float else x for x in scalars)
    prepared(*mine, *numpy_scalars, np.int64(2))
    many(*theirs, *scalars, 2)
    assert_same(mine, theirs, "NumPy scalars")


@pytest.mark.parametrize("without", ["pool", "c function", "jit"])
def test_without_a_c_function_the_prepared_many_runs_the_full_walk(without, monkeypatch):
    """No pool (``$FASTOPT_NUMBA_POOL=0``: its address switched off here), an address
    function that fails (with a warning) or the JIT off (a serial loop without
    overloads): the calls it cannot make from C go through the dispatcher, same bits."""
    many = kernel("numba", "adam_many", "adam")
    runs = counting_run(many, monkeypatch)
    monkeypatch.setattr(_jit._ManyEntry, "functions", {})
    if without == "pool":
        monkeypatch.setattr(_jit, "POOL_RUN", 0)
    elif without == "c function":
        def fails(args):
            raise RuntimeError("no C function here")
        monkeypatch.setitem(_jit._ADDRESS, many.serial_fn, fails)
    else:
        monkeypatch.setattr(many, "serial_fn", many.serial_fn.py_func)
    options = dict(amsgrad=True, weight_decay=False, decoupled=True, maximize=True)
    prepared, mine, theirs, scalars = prepared_case(many, "adam", options, np.float32,
                                                    np.random.default_rng(29))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n_threads in THREADS:
            before = len(runs)
            prepared(*mine, *scalars, n_threads)
            assert len(runs) == before + (without != "pool" or n_threads > 1), n_threads
            many(*theirs, *scalars, n_threads)
    assert_same(mine, theirs, without)
    warned = [w for w in caught if "no C function" in str(w.message)]
    # (once for the function on one thread, once for the one on the pool)
    assert len(warned) == ((1 + bool(_jit.POOL_RUN)) if without == "c function" else 0)


def test_prepared_many_follows_the_arrays_its_lists_hold_now():
    """An entry of ``params`` or of a state list replaced (the old array freed), or an
    array appended to every list, after steps from C: the next call steps the arrays the
    lists hold now, as the full call does (the kept table pointed at the old arrays: it
    wrote to freed memory, and skipped the appended arrays)."""
    many = kernel("numba", "adam_many", "adam")
    options = dict(amsgrad=True, weight_decay=False, decoupled=False, maximize=False)
    rng = np.random.default_rng(31)
    prepared, mine, theirs, scalars = prepared_case(many, "adam", options, np.float64, rng)
    for n_threads in (1, 2):
        prepared(*mine, *scalars, n_threads)
        many(*theirs, *scalars, n_threads)
    for where in (0, 3, 4):  # params[2], exp_avg_sq[2], max_exp_avg_sq[2]
        fresh = rng.standard_normal(SIZES[2])
        mine[where][2], theirs[where][2] = fresh, fresh.copy()
        for n_threads in (1, 2):
            prepared(*mine, *scalars, n_threads)
            many(*theirs, *scalars, n_threads)
        assert_same(mine, theirs, f"argument {where} replaced")
    extra, _ = make_case("adam", options, 5, np.float64, rng)
    for column, column_theirs, a in zip(mine, theirs, extra):
        column.append(a)
        column_theirs.append(a.copy())
    for n_threads in (1, 2):
        prepared(*mine, *scalars, n_threads)
        many(*theirs, *scalars, n_threads)
    assert_same(mine, theirs, "an array appended")


def test_prepared_many_refuses_a_new_gradient_that_shares_memory_with_a_written_array():
    """A new gradient object that overlaps a parameter or a used state of the call (after
    steps from C) is refused as the full call refuses it, before anything is written."""
    many = kernel("numba", "adam_many", "adam")
    options = dict(amsgrad=False, weight_decay=False, decoupled=False, maximize=False)
    prepared, mine, _, scalars = prepared_case(many, "adam", options, np.float32,
                                               np.random.default_rng(37))
    for n_threads in (1, 2):
        prepared(*mine, *scalars, n_threads)
    before = copied(mine)
    for where, name in ((0, r"params\[2\]"), (2, r"exp_avg\[2\]")):
        grads = list(mine[1])
        grads[2] = mine[where][2]
        with pytest.raises(ValueError, match=rf"{name} shares memory with grads\[2\]|"
                                             rf"grads\[2\] shares memory with {name}"):
            prepared(mine[0], grads, *mine[2:], *scalars, 2)
        assert_same(mine, before, f"refused call wrote ({name})")
    grads = list(mine[1])
    shared = np.concatenate([mine[1][3], mine[1][4][1:]])  # 40 + 2 elements
    grads[3], grads[4] = shared[:40], shared[39:]  # gradients may share memory
    theirs = copied(mine)
    prepared(mine[0], grads, *mine[2:], *scalars, 2)
    many(theirs[0], [g.copy() for g in grads], *theirs[2:], *scalars, 2)
    assert_same(mine, theirs, "gradients sharing memory")


def test_prepared_many_runs_an_entry_only_on_the_gradients_it_was_made_for():
    """Two threads stepping through one prepared call: one's entry (made for the old
    gradients) lands after the other checked new gradients.  The next call with the new
    gradients must not run that entry on the old gradients' addresses (it compared the
    gradients with the call's latest check, not with the entry's own)."""
    many = kernel("numba", "sgd_many", "sgd")
    options = next(iter(option_grid("sgd")))
    prepared, mine, theirs, scalars = prepared_case(many, "sgd", options, np.float64,
                                                    np.random.default_rng(41))
    old = mine[1]
    prepared(*mine, *scalars, 1)
    stale = prepared.entry
    new = [g * 3.0 for g in old]
    prepared(mine[0], new, *mine[2:], *scalars, 1)
    many(theirs[0], old, *theirs[2:], *scalars, 1)
    many(theirs[0], new, *theirs[2:], *scalars, 1)
    prepared.entry = stale  # (the other thread's assignment, late)
    prepared(mine[0], new, *mine[2:], *scalars, 1)
    many(theirs[0], new, *theirs[2:], *scalars, 1)
    assert_same(mine, theirs, "a stale entry")
