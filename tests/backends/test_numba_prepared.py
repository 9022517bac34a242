"""numba's prepared elementwise calls (``fastopt.backends.numba._jit.prepare``): the call the
optimizer's plan replays, without the dispatcher, with the scalars unrounded: from C through
the rule's C function (``<rule>_address``, ``_jit.c_function``) with the Cython extension,
else through the compiled overload's entry point.

They must give the kernel's bits, take the compiled loop only for the arrays they were
prepared for (one thread, a gradient the loop was compiled for, bound arrays still
writeable and of their dtype, float and bool scalars) and hand every other call to the
kernel; and the numba kernels must give the same bits whether or not the scalars were
rounded to the dtype before the call (the plan no longer rounds them).
"""
import functools

import numpy as np
import pytest

from fastopt.backends.numba import _jit

from conftest import bits, kernel, lowered_threshold, require
from kernel_cases import OPTIONS, make_case, option_grid, stable_seed

require("numba")

ALGORITHMS = sorted(OPTIONS)
#: PreparedCall (the Cython extension's) and the Python closure (without it).
IMPLS = ["cython", "python"]
N = 67


def unrounded(scalars, dtype, rng):
    """Doubles that round to ``scalars`` (floats of ``dtype``) in ``dtype``: float32 values
    moved by less than half an ulp, zeros replaced by tiny doubles that round to zero."""
    if dtype != np.float32:
        return scalars
    out = []
    for x in scalars:
        if type(x) is not float:
            out.append(x)
        elif x == 0.0:
            out.append(float(rng.choice([1e-50, -1e-50])))
        else:
            f = np.float32(abs(x))  # (the ulp below a power of two is half the one above)
            half_ulp = float(min(np.spacing(f), f - np.nextafter(f, np.float32(0)))) / 2
            u = x + half_ulp * float(rng.uniform(-0.9, 0.9))
            assert np.float32(u) == np.float32(x)
            out.append(u)
    return tuple(out)


def run(fn, arrays, scalars, n_threads):
    arrays = [a.copy() for a in arrays]
    fn(*arrays, *scalars, n_threads)
    return arrays


def assert_same(got, want, label):
    for j, (a, b) in enumerate(zip(got, want)):
        assert np.array_equal(bits(a), bits(b)), f"{label}: argument {j} differs"


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_unrounded_scalars_give_the_bits_of_rounded_ones(algorithm, n_threads):
    """Every numba elementwise kernel casts each scalar to the dtype before using it (as the
    Cython kernels do), so the plan may pass them unrounded: on 1 thread and on 2."""
    fn = kernel("numba", algorithm)
    for options in option_grid(algorithm):
        rng = np.random.default_rng(stable_seed(algorithm, *options.values()))
        arrays, scalars = make_case(algorithm, options, N, np.float32, rng)
        # unused states full-size, not empty: a kernel that took an option from an
        # unrounded scalar (a zero momentum read as 1e-50) would write them
        arrays = [a if a.size else rng.standard_normal(N).astype(np.float32) for a in arrays]
        with lowered_threshold(16):
            want = run(fn, arrays, scalars, n_threads)
            got = run(fn, arrays, unrounded(scalars, np.float32, rng), n_threads)
        assert_same(got, want, f"{algorithm} {options} n_threads={n_threads}")


@pytest.fixture(params=IMPLS)
def impl(request, monkeypatch):
    if request.param == "cython":
        if _jit._PreparedCall is None:
            pytest.skip("the Cython extension is not built")
    else:
        monkeypatch.setattr(_jit, "_PreparedCall", None)
    return request.param


def spied(algorithm, run=True):
    """The numba kernel ``algorithm`` wrapped to record the calls that reach it (and run
    them, if ``run``), its serial loop and its C function's address function."""
    fn = kernel("numba", algorithm)
    calls = []

    @functools.wraps(fn)
    def spy(*args):
        calls.append(args)
        return fn(*args) if run else None
    module = __import__(fn.__module__, fromlist=["_"])
    return (spy, getattr(module, algorithm + "_serial"), getattr(module, algorithm + "_address"),
            calls)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_prepared_call_gives_the_kernels_bits(algorithm, dtype, impl):
    """Three steps with new gradients (each checked again), unrounded scalars: the bits of
    the kernel called with rounded ones, and none of the calls reaches the kernel."""
    spy, serial, address, calls = spied(algorithm)
    fn = kernel("numba", algorithm)
    for options in option_grid(algorithm):
        rng = np.random.default_rng(stable_seed(algorithm, dtype.__name__, *options.values()))
        arrays, scalars = make_case(algorithm, options, N, dtype, rng)
        mine = [a.copy() for a in arrays]
        theirs = [a.copy() for a in arrays]
        prepared = _jit.prepare(spy, serial, mine[0], tuple(mine[2:]), address)
        for step in range(3):
            grad = (arrays[1] * dtype(1 + step)).astype(dtype)
            if step == 2:
                grad.flags.writeable = False  # only read: the same overload
            theirs[1] = grad.copy()
            fn(*theirs, *scalars, 1)
            prepared(mine[0], grad, *mine[2:], *unrounded(scalars, dtype, rng), 1)
        assert_same(mine[:1] + mine[2:], theirs[:1] + theirs[2:], f"{algorithm} {options}")
        if impl == "cython":
            assert prepared.address != 0 and prepared.entry == prepared.address
    assert calls == []


def prepared_adam(impl, dtype=np.float32, run=True, c_function=True, n_threads=1):
    """A prepared Adam call, resolved for one thread (and for ``n_threads``: its first call
    on more threads is the kernel's)."""
    spy, serial, address, calls = spied("adam", run)
    rng = np.random.default_rng(5)
    arrays, scalars = make_case("adam", dict(amsgrad=False, weight_decay=True, decoupled=False,
                                             maximize=False), N, dtype, rng)
    prepared = _jit.prepare(spy, serial, arrays[0], tuple(arrays[2:]),
                            address if c_function else None)
    prepared(*arrays, *scalars, 1)  # resolves the entry point
    assert calls == []
    if n_threads > 1:
        prepared(*arrays, *scalars, n_threads)  # resolves the C function on the pool
        assert len(calls) == 1 and calls[0][-1] == n_threads
        calls.clear()
    return prepared, arrays, scalars, calls


def misaligned(a):
    raw = np.zeros(a.nbytes + a.itemsize, np.uint8)
    view = raw[1:1 + a.nbytes].view(a.dtype)
    view[...] = a
    assert not view.flags.aligned and view.flags.c_contiguous
    return view


@pytest.mark.parametrize("threads", [1, 2], ids=["1 thread", "2 threads"])
@pytest.mark.parametrize("change", ["param", "state", "n_threads", "strided grad",
                                    "misaligned grad", "float64 arrays"])
def test_any_other_call_is_the_kernels(change, impl, threads):
    """Other arrays than the bound ones, the first call on more threads (or, once that
    resolved the C function on the pool, a thread count that is not an int), a gradient
    the overload was not compiled for: the kernel is called (with the same arguments),
    and gives its bits; on one thread and, the pooled C function resolved, on two."""
    if threads > 1 and impl == "cython" and not _jit.POOL_RUN:
        pytest.skip("the numba pool twins are switched off ($FASTOPT_NUMBA_POOL=0)")
    prepared, arrays, scalars, calls = prepared_adam(impl, n_threads=threads)
    if impl == "cython":
        assert (prepared.pooled_address != 0) == (threads > 1)
    args = [a.copy() for a in arrays] if change == "float64 arrays" else list(arrays)
    n_threads = threads
    if change == "param":
        args[0] = arrays[0].copy()
    elif change == "state":
        args[3] = arrays[3].copy()
    elif change == "n_threads":
        if threads > 1 and impl == "python":
            pytest.skip("the Python closure's calls on several threads are all the kernel's")
        n_threads = 2 if threads == 1 else True  # (True: not an int)
    elif change == "strided grad":
        args[1] = np.repeat(arrays[1], 2)[::2]
    elif change == "misaligned grad":
        args[1] = misaligned(arrays[1])
    else:
        args = [a.astype(np.float64) for a in args]
    want = [a.copy() for a in args]
    with lowered_threshold(16):
        kernel("numba", "adam")(*want, *scalars, n_threads)
        prepared(*args, *scalars, n_threads)
    assert len(calls) == 1 and calls[0][0] is args[0] and calls[0][1] is args[1]
    assert calls[0][-1] is n_threads
    assert_same(args, want, change)


@pytest.mark.parametrize("threads", [1, 2], ids=["1 thread", "2 threads"])
@pytest.mark.parametrize("change", ["float64 grad", "short grad", "2-D grad", "subclass grad",
                                    "fortran grad"])
def test_a_gradient_the_overload_was_not_compiled_for_goes_to_the_kernel(change, impl,
                                                                         threads):
    """The prepared call checks the gradient itself (dtype object, shape, exact ndarray,
    C-contiguous): whatever its caller checked, the entry point (or the C function on the
    pool) never sees another layout (the kernel is not run here: these calls break its
    contract)."""
    if threads > 1 and impl == "cython" and not _jit.POOL_RUN:
        pytest.skip("the numba pool twins are switched off ($FASTOPT_NUMBA_POOL=0)")
    prepared, arrays, scalars, calls = prepared_adam(impl, run=False, n_threads=threads)
    grad = {"float64 grad": lambda g: g.astype(np.float64),
            "short grad": lambda g: g[:-1].copy(),
            "2-D grad": lambda g: g.reshape(1, -1),
            "subclass grad": lambda g: g.view(type("Sub", (np.ndarray,), {})),
            "fortran grad": lambda g: np.asfortranarray(np.stack([g, g]))[0]}[change](arrays[1])
    prepared(arrays[0], grad, *arrays[2:], *scalars, threads)
    assert len(calls) == 1 and calls[0][1] is grad


def test_the_entry_point_is_the_overload_of_the_calls_types():
    """Without a C function, one overload per dtype: a float32 and a float64 call prepared
    side by side each take their own entry point."""
    if _jit._PreparedCall is None:
        pytest.skip("the Cython extension is not built")
    from fastopt.backends.numba import adam
    p32, arrays32, scalars, _ = prepared_adam("cython", np.float32, c_function=False)
    p64, arrays64, _, _ = prepared_adam("cython", np.float64, c_function=False)
    assert p32.entry is not p64.entry and p32.address == p64.address == 0
    for prepared, arrays in ((p32, arrays32), (p64, arrays64)):
        sig = tuple(adam.adam_serial.typeof_pyval(a) for a in (*arrays, *scalars))
        assert prepared.entry is adam.adam_serial.overloads[sig].entry_point


def test_the_c_function_is_the_one_of_the_calls_dtype():
    """One C function per dtype (the rule's ``<rule>_address`` of arguments of those
    types), each giving the kernel's bits."""
    if _jit._PreparedCall is None:
        pytest.skip("the Cython extension is not built")
    from fastopt.backends.numba import adam
    addresses = []
    for dtype in (np.float32, np.float64):
        prepared, arrays, scalars, calls = prepared_adam("cython", dtype)
        like = (np.empty(0, dtype),) * len(arrays)
        assert prepared.address == adam.adam_address(like + tuple(scalars)) != 0
        want = [a.copy() for a in arrays]
        kernel("numba", "adam")(*want, *scalars, 1)
        prepared(*arrays, *scalars, 1)
        assert calls == []
        assert_same(arrays, want, dtype.__name__)
        addresses.append(prepared.address)
    assert addresses[0] != addresses[1]


def test_the_c_function_on_a_long_array_gives_the_kernels_bits():
    """From 8,192 elements the C function runs with the GIL released (the other branch)."""
    if _jit._PreparedCall is None:
        pytest.skip("the Cython extension is not built")
    spy, serial, address, calls = spied("adam")
    rng = np.random.default_rng(11)
    arrays, scalars = make_case("adam", dict(amsgrad=True, weight_decay=True,
                                             decoupled=True, maximize=False),
                                10_007, np.float32, rng)
    want = [a.copy() for a in arrays]
    prepared = _jit.prepare(spy, serial, arrays[0], tuple(arrays[2:]), address)
    for _ in range(2):
        kernel("numba", "adam")(*want, *scalars, 1)
        prepared(*arrays, *scalars, 1)
    assert prepared.address != 0 and calls == []
    assert_same(arrays, want, "10,007 elements")


def test_without_a_c_function_the_entry_point_is_used_with_a_warning():
    """An address function that fails (a numba release that cannot compile it) leaves the
    prepared call on the overload's entry point, with a warning, and the kernel's bits."""
    if _jit._PreparedCall is None:
        pytest.skip("the Cython extension is not built")
    spy, serial, _, calls = spied("adam")

    def broken(args):
        raise RuntimeError("no C function here")
    rng = np.random.default_rng(7)
    arrays, scalars = make_case("adam", dict(amsgrad=True, weight_decay=False,
                                             decoupled=False, maximize=True),
                                N, np.float32, rng)
    want = [a.copy() for a in arrays]
    prepared = _jit.prepare(spy, serial, arrays[0], tuple(arrays[2:]), broken)
    for step in range(2):
        kernel("numba", "adam")(*want, *scalars, 1)
        if step == 0:
            with pytest.warns(RuntimeWarning, match="no C function here"):
                prepared(*arrays, *scalars, 1)
        else:
            prepared(*arrays, *scalars, 1)
    assert prepared.address == 0 and callable(prepared.entry) and calls == []
    assert_same(arrays, want, "entry point")


@pytest.mark.parametrize("threads", [1, 2], ids=["1 thread", "2 threads"])
@pytest.mark.parametrize("change", ["read-only param", "read-only state", "float32 scalar",
                                    "int scalar", "numpy bool flag", "int flag"])
def test_a_bound_array_or_scalar_the_c_function_does_not_take_goes_to_the_kernel(change,
                                                                                 threads):
    """The C function (on one thread, or on the pool) is called only with the bound arrays
    still writeable (and of their dtype, C-contiguous, aligned), Python floats and bools:
    the other calls are the kernel's, with the same arguments (not run here: nothing is
    written)."""
    if _jit._PreparedCall is None:
        pytest.skip("the Cython extension is not built")
    if threads > 1 and not _jit.POOL_RUN:
        pytest.skip("the numba pool twins are switched off ($FASTOPT_NUMBA_POOL=0)")
    prepared, arrays, scalars, calls = prepared_adam("cython", run=False, n_threads=threads)
    assert prepared.address != 0 and (prepared.pooled_address != 0) == (threads > 1)
    scalars = list(scalars)
    if change == "read-only param":
        arrays[0].flags.writeable = False
    elif change == "read-only state":
        arrays[2].flags.writeable = False
    elif change == "float32 scalar":
        scalars[0] = np.float32(scalars[0])
    elif change == "int scalar":
        scalars[0] = 0
    elif change == "numpy bool flag":
        scalars[-1] = np.bool_(scalars[-1])
    else:
        scalars[-1] = int(scalars[-1])
    want = [a.copy() for a in arrays]
    prepared(*arrays, *scalars, threads)
    assert len(calls) == 1 and calls[0][0] is arrays[0]
    assert all(a is b for a, b in zip(calls[0][-3:], scalars[-2:] + [threads]))
    assert_same(arrays, want, change)


def test_call_kernel_calls_a_prepared_call_with_the_kernels_bits():
    """``_checks.call_kernel`` (the plan's call) takes the entry point of a PreparedCall."""
    if _jit._PreparedCall is None:
        pytest.skip("the Cython extension is not built")
    from fastopt.backends.cython._checks import call_kernel
    prepared, arrays, scalars, calls = prepared_adam("cython")
    want = [a.copy() for a in arrays]
    kernel("numba", "adam")(*want, *scalars, 1)
    call_kernel(prepared, arrays[0], arrays[1], tuple(arrays[2:]), scalars[:-2],
                scalars[-2:], 1)
    assert calls == []
    assert_same(arrays, want, "call_kernel")
    other = arrays[0].copy()  # not the bound param: the kernel's
    call_kernel(prepared, other, arrays[1], tuple(arrays[2:]), scalars[:-2], scalars[-2:], 1)
    assert len(calls) == 1 and calls[0][0] is other


# --- n_threads > 1: the rule's C function on fastopt's pool -------------------------------


def require_pool():
    """``fastopt.backends.cython._pool`` where the prepared calls take it, else skip."""
    if _jit._PreparedCall is None:
        pytest.skip("the Cython extension is not built")
    if not _jit.POOL_RUN:
        pytest.skip("the numba pool twins are switched off ($FASTOPT_NUMBA_POOL=0)")
    from fastopt.backends.cython import _pool
    return _pool


def pool_ranges(pool):
    """The ranges the pool was given (run in parallel, serially by its backoff, or serially
    because it was busy)."""
    info = pool.info()
    return info["jobs"] + info["serial_fallbacks"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_the_pooled_c_function_gives_the_kernels_bits(algorithm, dtype):
    """With ``n_threads > 1`` the first call resolves the rule's C function on the pool (and
    is the kernel's); the next ones run it from C, one pool range each: the bits of the
    kernel on one thread, with unrounded scalars, on 2, 3 and more threads than elements."""
    pool = require_pool()
    spy, serial, address, calls = spied(algorithm)
    fn = kernel("numba", algorithm)
    for options in option_grid(algorithm):
        label = f"{algorithm} {options}"
        rng = np.random.default_rng(stable_seed("pooled", algorithm, dtype.__name__,
                                                *options.values()))
        arrays, scalars = make_case(algorithm, options, N, dtype, rng)
        mine = [a.copy() for a in arrays]
        theirs = [a.copy() for a in arrays]
        prepared = _jit.prepare(spy, serial, mine[0], tuple(mine[2:]), address)
        for step, n_threads in enumerate((2, 3, 2, 10 ** 30)):
            grad = (arrays[1] * dtype(1 + step)).astype(dtype)
            theirs[1] = grad.copy()
            fn(*theirs, *scalars, 1)
            ranges = pool_ranges(pool)
            prepared(mine[0], grad, *mine[2:], *unrounded(scalars, dtype, rng), n_threads)
            if step:
                assert pool_ranges(pool) == ranges + 1, label
        assert_same(mine[:1] + mine[2:], theirs[:1] + theirs[2:], label)
        assert prepared.pooled_address != 0 and prepared.run == _jit.POOL_RUN, label
        assert len(calls) == 1 and calls[0][-1] == 2, label
        calls.clear()


def test_the_pooled_call_takes_the_kernels_chunk_count():
    """``PreparedCall`` gives the C function on the pool ``_jit.n_chunks`` threads, as the
    kernel gives its twin."""
    if _jit._PreparedCall is None:
        pytest.skip("the Cython extension is not built")
    from fastopt.backends.cython._checks import n_chunks
    for n in (0, 1, 2, 3, 16, 67, 100_000):
        for t in (2, 3, 4, 16, 67, 68, 2 ** 40, 10 ** 30):
            assert n_chunks(t, n) == _jit.n_chunks(t, n), (t, n)


def test_the_pooled_c_function_gets_the_arrays_scalars_chunk_count_and_pool():
    """A C function that records its arguments (a ctypes callback in place of the rule's)
    gets the arrays' data and sizes, then ``_jit.n_chunks`` and the pool's address, the
    floats and the flags; on one element (one chunk) the call is the kernel's."""
    import ctypes
    require_pool()
    seen = []
    entry_type = ctypes.CFUNCTYPE(None, ctypes.POINTER(ctypes.c_void_p),
                                  ctypes.POINTER(ctypes.c_int64),
                                  ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_char))

    @entry_type
    def record(data, ints, floats, flags):
        seen.append(([data[j] for j in range(5)], [ints[j] for j in range(7)],
                     [floats[j] for j in range(9)], [flags[j] for j in range(2)]))
    typed = []

    def address_fn(args):
        typed.append(args)
        return ctypes.cast(record, ctypes.c_void_p).value
    spy, serial, _, calls = spied("adam")
    rng = np.random.default_rng(13)
    options = dict(amsgrad=True, weight_decay=True, decoupled=True, maximize=True)
    for n, threads in ((N, (2, 3, 200)), (1, (2, 3))):
        arrays, scalars = make_case("adam", options, n, np.float32, rng)
        prepared = _jit.prepare(spy, serial, arrays[0], tuple(arrays[2:]), address_fn)
        for t in threads:
            prepared(*arrays, *scalars, t)
    assert len(typed) == 2 and all(args[-1] == (0, 0) for args in typed)
    assert len(calls) == 3 and [c[-1] for c in calls] == [2, 2, 3]  # the first; one element
    assert len(seen) == 2
    for (data, ints, floats, flags), t in zip(seen, (3, 200)):
        arrays = calls[0][:5]
        assert data == [a.ctypes.data for a in arrays]
        assert ints == [N] * 5 + [_jit.n_chunks(t, N), _jit.POOL_RUN]
        assert floats == list(calls[0][5:14])
        assert flags == [b"\x01", b"\x01"]


@pytest.mark.parametrize("without", ["pool", "c function", "jit"])
def test_without_a_pooled_c_function_more_threads_are_the_kernels(without, monkeypatch):
    """No pool (``$FASTOPT_NUMBA_POOL=0``: here its address switched off), an address
    function that fails (with a warning) or the JIT off (a serial loop without overloads,
    as under ``$NUMBA_DISABLE_JIT``): every call with ``n_threads > 1`` is the kernel's, with
    its bits; the one-thread calls keep their C function."""
    if _jit._PreparedCall is None:
        pytest.skip("the Cython extension is not built")
    if without == "c function" and not _jit.POOL_RUN:
        pytest.skip("the numba pool twins are switched off ($FASTOPT_NUMBA_POOL=0)")
    spy, serial, address, calls = spied("adam")

    def pool_fails(args):
        if isinstance(args[-1], tuple):
            raise RuntimeError("no pool here")
        return address(args)
    if without == "pool":
        monkeypatch.setattr(_jit, "POOL_RUN", 0)
    rng = np.random.default_rng(17)
    arrays, scalars = make_case("adam", dict(amsgrad=False, weight_decay=False,
                                             decoupled=False, maximize=False),
                                N, np.float64, rng)
    want = [a.copy() for a in arrays]
    prepared = _jit.prepare(spy, serial.py_func if without == "jit" else serial, arrays[0],
                            tuple(arrays[2:]), pool_fails)
    for step, n_threads in enumerate((1, 2, 2, 1, 3)):
        kernel("numba", "adam")(*want, *scalars, 1)
        if step == 1 and without == "c function":
            with pytest.warns(RuntimeWarning, match="no C function on the pool.*no pool here"):
                prepared(*arrays, *scalars, n_threads)
        else:
            prepared(*arrays, *scalars, n_threads)
    assert prepared.pooled_address == 0
    assert (prepared.address != 0) == (without != "jit")
    assert [c[-1] for c in calls] == [2, 2, 3]
    assert_same(arrays, want, without)


def test_pooled_calls_from_two_python_threads_give_the_kernels_bits():
    """The C function on the pool runs with the GIL released: two Python threads stepping
    their own prepared calls at once (the pool runs a range serially while the other's is
    in it) get the bits of one thread."""
    import threading
    require_pool()
    n, steps = 50_000, 30
    work = []
    for j in range(2):
        spy, serial, address, calls = spied("adam")
        rng = np.random.default_rng(stable_seed("two threads", j))
        arrays, scalars = make_case("adam", dict(amsgrad=True, weight_decay=True,
                                                 decoupled=False, maximize=False),
                                    n, np.float32, rng)
        want = [a.copy() for a in arrays]
        for _ in range(steps):
            kernel("numba", "adam")(*want, *scalars, 1)
        prepared = _jit.prepare(spy, serial, arrays[0], tuple(arrays[2:]), address)
        work.append((prepared, arrays, scalars, want, calls))
    barrier = threading.Barrier(2)

    def run_steps(prepared, arrays, scalars, want, calls):
        barrier.wait()
        for _ in range(steps):
            prepared(*arrays, *scalars, 2)
    threads = [threading.Thread(target=run_steps, args=w) for w in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for prepared, arrays, scalars, want, calls in work:
        assert prepared.pooled_address != 0 and len(calls) == 1
        assert_same(arrays, want, "two Python threads")


def test_prepare_refuses_a_kernel_that_is_not_elementwise():
    with pytest.raises(TypeError, match="not an elementwise kernel"):
        _jit.prepare(lambda x, n_threads: None, None, np.zeros(1), ())


def test_a_prepared_call_holds_no_reference_cycle(impl):
    """Its arrays are freed with the last reference to it, the cycle collector off (the
    optimizer's plan holds it: see tests/optim/test_lifetime.py on main)."""
    import gc
    import weakref
    prepared, arrays, scalars, calls = prepared_adam(impl)
    prepared(*arrays, *scalars, 1)
    refs = [weakref.ref(a) for a in arrays]
    gc.disable()
    try:
        del prepared, arrays, calls
        assert all(r() is None for r in refs)
    finally:
        gc.enable()


CACHE_SCRIPT = """
import numpy as np
from fastopt.backends.numba import adam, _jit
p = np.ones(40, np.float32)
states = (np.zeros(40, np.float32), np.zeros(40, np.float32), np.empty(0, np.float32))
prepared = _jit.prepare(adam.adam, adam.adam_serial, p, states, adam.adam_address)
scalars = (0.9, 0.1, 0.999, 0.001, 0.01, 0.5, 1e-8, 0.0, 1.0, False, False)
want = [p.copy()] + [s.copy() for s in states]
for n_threads in (1, 1, 2, 2):
    grad = np.linspace(-1, 1, 40, dtype=np.float32)
    prepared(p, grad, *states, *scalars, n_threads)
    adam.adam(want[0], grad, *want[1:], *scalars, 1)
assert getattr(prepared, "address", 1) != 0
assert getattr(prepared, "pooled_address", 1) != 0 or not _jit.POOL_RUN
assert all(np.array_equal(a, b) for a, b in zip([p, *states], want))
print(sum(adam.adam_address.stats.cache_hits.values()),
      sum(adam.adam_address.stats.cache_misses.values()))
"""


def test_the_c_function_is_loaded_from_the_cache(tmp_path):
    """``<rule>_address`` (which compiles the C functions into its own library: on one
    thread and on the pool) is cached on disk like every numba function: a second process
    loads both, compiling nothing, and the loaded functions give the kernel's bits."""
    import os
    import pathlib
    import subprocess
    import sys
    import fastopt
    if _jit._PreparedCall is None:
        pytest.skip("the Cython extension is not built")
    root = str(pathlib.Path(fastopt.__file__).parents[1])
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), PYTHONPATH=root)
    runs = [subprocess.run([sys.executable, "-c", CACHE_SCRIPT], env=env, cwd=root,
                           capture_output=True, text=True, timeout=300) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
    k = 2 if _jit.POOL_RUN else 1  # (the functions on one thread and on the pool)
    assert runs[0].stdout.split() == ["0", str(k)]
    assert runs[1].stdout.split() == [str(k), "0"]
