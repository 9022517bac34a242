"""Every numba flag of the numba backend, in one place.

Each kernel module compiles three kinds of functions, with the decorators below:

``element``
    the update of one element: scalars in, new values out.  It holds the
    equations of the reference kernel, in the same order of operations.  It is
    also what users' own ``@njit`` code can call (it is plain njit, so LLVM
    inlines it into the caller's loop).
``serial``
    the loop over a whole 1-D array: it calls ``element`` for ``i`` in
    ``range(param.size)``.  The optimizer uses it directly for ``n_threads == 1``
    (no numba thread is ever started then), and users' njit code may call it on
    rows of 2-D arrays.
``parallel``
    ``prange`` over ``n_chunks`` contiguous chunks, each one a call of the
    ``serial`` loop on its slice (so the slice starts at 0: LLVM sees
    non-negative indices and the chunk loops vectorize like the serial one).

``pooled``
    the twin of a ``parallel`` function that runs its chunks on fastopt's own thread
    pool (the one of the Cython kernels, ``fastopt.backends.cython._pool``) instead of
    numba's ``prange`` (see "The pool" below).  :func:`call_parallel` picks it whenever
    the Cython extension is built.

The flags, and why:

``error_model="numpy"``
    division by zero gives inf/nan as in NumPy; the ``"python"`` model adds a
    zero check to every division, which blocks vectorization.
``fastmath=False``
    no reassociation, no FMA contraction, no reciprocal tricks: the kernels
    reproduce the reference (NumPy) kernels bit for bit.
``boundscheck=False``
    the loops index inside ``range(param.size)`` of arrays the caller guarantees
    to be of that size.
``nogil=True``
    several Python threads can run kernels at the same time (Hogwild-style
    training); the kernels hold no Python object.
``cache=True``
    compiled machine code is stored next to the sources (``__pycache__``, or
    ``$NUMBA_CACHE_DIR``), so a later process loads it instead of compiling:
    compiling every kernel (7 algorithms x 2 dtypes x serial/parallel) takes ~25 s
    on a 2-core machine, loading one from the cache ~20 ms after numba's own
    one-off start-up (~0.4-0.8 s: importing numba and initialising its compiler
    target, which imports scipy.linalg when scipy is installed).

``cache=True`` is set for the ``parallel=True`` functions too.  That combination
has a history of trouble, so it was tested (numba 0.68.1, OpenMP threading
layer): the parallel kernels are written to the cache, a second process loads
them without recompiling (``stats.cache_hits``, ~20 ms each), and numba starts
its thread pool on that load (``numba.core.typed_passes._reload_parfors``), which
happens only when a parallel kernel is first called -- never for ``n_threads ==
1``.  What makes a parallel function uncachable is calling
``numba.set_num_threads`` inside it ("uses dynamic globals"): that is why
:func:`call_parallel` does it from Python.  ``PARALLEL_CACHE = False`` turns the
cache off for the parallel functions alone if a numba release breaks it again.

The streaming settings (:func:`set_streaming`) are C int64s that the compiled code
reads through a symbol registered with LLVM at import
(``llvmlite.binding.add_symbol``, as numba's own runtime registers its functions), so
the cached code holds no address.

Caveat: numba invalidates a cached function when *its own* source file changes,
not when a function it calls (in another file) does.  After editing this module
(a flag, :func:`maximum`, :func:`chunk`), delete
``fastopt/backends/numba/__pycache__/*.nb[ic]``.

The pool
--------
``prange`` is fork-join: the region ends at a barrier that waits for every thread of
numba's team, so on a loaded machine one descheduled thread holds the caller for a
whole time slice (measured on 2 cores with 2 busy processes: Adam at 1e5 float32, 2
threads took 37x the 1-thread step at the median).  The ``pooled`` twins run the same
chunk work on fastopt's pool (``csrc/fastopt_pool.h``): the caller always works, chunks
are claimed from a shared counter, the caller waits only for chunks a running helper
claimed.  How a twin reaches it, all inside one compiled function (no Python in between):

- :func:`for_slices`, :func:`for_ranges` and :func:`fastopt.backends.numba._sparse.for_rows`
  (njit helpers the twin calls with the ``serial``, ``*_columns`` or ``rows`` function as
  an argument) compute the chunk size as the Cython kernels do (about 4 chunks per
  thread, a multiple of 16 elements) and call an intrinsic (:func:`pool_for_slices`,
  ``pool_for_ranges``, ``pool_for_rows``);
- the intrinsic compiles, for the argument types at hand, a small C-ABI function
  ``chunk(ctx, lo, hi)`` into the twin's own library: ``ctx`` points at the tuple of the
  arguments (on the caller's stack), and the chunk calls the body on the slices
  ``[lo:hi]`` of every array argument, with ``lo, hi`` appended, or on the distinct rows
  ``rows[lo:hi]``; then it calls the pool's ``parallel_range(chunk, ctx, n, chunk_size,
  n_threads)`` through its address, an argument of the twin (read once per process
  from the Cython module's C-API capsule, :data:`POOL_RUN`).  The compiled code holds no
  process-specific address, so the twins are cached on disk like every other function.

The optimizer's replayed steps do not call the twins of the elementwise rules through
their dispatcher: the prepared call (:func:`prepare`) calls a C function that does what
the twin does (:func:`c_function` with ``(n_threads, run)`` at the end of its arguments),
compiled into ``<rule>_address``'s library and cached with it.

The elementwise rules' twins call :func:`for_stream_slices` instead of
:func:`for_slices`: on long arrays each chunk runs in prefetched blocks (see "long
arrays" below; the prepared call's C function and a one-thread kernel call on a long
array go the same way).

The separate-arrays drivers (:class:`Many`, ``<rule>_many``) run the same way: their twin
calls :func:`for_many`, whose chunks are ranges of the arrays laid end to end, walked by
:func:`many_range` (see "many arrays in one call" below).  Their prepared call (the
optimizer's replayed steps, :meth:`Many.prepare`) runs the walk from C too: the C
function of :func:`c_function` on the separate-arrays layout, compiled into
``<rule>_address``'s library, called through ``ctypes`` with the table of addresses.

Chunk ``c`` covers the same elements whoever runs it, and the updates are elementwise
(the reductions of L-BFGS are summed per fixed block): bits do not depend on the thread
count.  Without the Cython extension (or with ``FASTOPT_NUMBA_POOL=0``), the ``prange``
functions run as before.
"""
import ctypes
import operator
import os
import struct
import warnings

import numba
import numpy as np
from llvmlite import binding as llvm_binding
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic, overload

from fastopt._internal import validation as _validation

#: Flags shared by every compiled function of the numba backend.
FLAGS = dict(error_model="numpy", fastmath=False, boundscheck=False, nogil=True, cache=True)

#: Whether the ``parallel=True`` functions are cached on disk too (see above).
PARALLEL_CACHE = True


def element(fn):
    """Compile a per-element update function."""
    return numba.njit(**FLAGS)(fn)


def serial(fn):
    """Compile a serial loop (also what runs for ``n_threads == 1``)."""
    return numba.njit(**FLAGS)(fn)


#: Every ``parallel`` function compiled (each must have a ``pooled`` twin: tested).
PARALLEL = []


def parallel(fn):
    """Compile a ``prange`` driver over contiguous chunks."""
    compiled = numba.njit(parallel=True, **dict(FLAGS, cache=PARALLEL_CACHE))(fn)
    PARALLEL.append(compiled)
    return compiled


@element
def maximum(a, b):
    """``np.maximum(a, b)`` of two scalars, bit for bit: NaN in either argument propagates,
    and of two equal values (+0.0 and -0.0) the second is returned, as NumPy does."""
    return a if (a > b or a != a) else b


@serial
def chunk(n, n_chunks, c):
    """``(start, stop)`` of chunk ``c`` of ``n`` elements cut in ``n_chunks`` contiguous chunks."""
    return c * n // n_chunks, (c + 1) * n // n_chunks


def call_parallel(fn, *args):
    """``fn(*args)``: a ``parallel`` function, whose last argument is ``n_chunks``, run on
    at most ``n_chunks`` threads: on fastopt's pool through ``fn``'s ``pooled`` twin
    when there is one (and the Cython extension is built), else with numba's ``prange``.

    For ``prange``: without this, numba would wake all its ``NUMBA_NUM_THREADS`` threads
    for every call, most of them to find no chunk to process.  ``numba.set_num_threads``
    is thread-local (Python threads running kernels concurrently do not interfere) and is
    restored afterwards.  It is called here rather than in the jitted code: calling it
    there makes the function uncachable ("uses dynamic globals").
    """
    twin = _POOLED.get(fn)
    if twin is not None and POOL_RUN:
        return twin(*args, POOL_RUN)
    if args[-1] >= numba.config.NUMBA_NUM_THREADS:
        return fn(*args)
    old = numba.get_num_threads()
    if args[-1] >= old:
        return fn(*args)
    numba.set_num_threads(args[-1])
    try:
        return fn(*args)
    finally:
        numba.set_num_threads(old)


def n_chunks(n_threads, n):
    """Chunks for ``n_threads`` threads on ``n`` elements (1 means: run serially).

    Raises ValueError if ``n_threads < 1`` (as the Cython kernels' ``check_threads``):
    every kernel asks here before it writes anything."""
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    return n_threads if n_threads <= n else max(n, 1)


@element
def minimum(a, b):
    """``np.minimum(a, b)`` of two scalars, bit for bit (NaN propagates; of two equal
    values the second is returned)."""
    return a if (a < b or a != a) else b


@element
def sign(x):
    """``np.sign(x)`` of a scalar, bit for bit, in its type: +-1, +0.0 for +-0.0, NaN for NaN."""
    one = type(x)(1)
    return one if x > 0 else (-one if x < 0 else (type(x)(0) if x == 0 else x))


# --- prepared calls (the optimizer's replayed small steps) ------------------------------


#: The C signature of the functions :func:`c_function` compiles: ``void f(void** data,
#: int64* ints, double* floats, char* flags)`` (see :func:`c_function`).
_C_FN_TYPE = ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t.as_pointer(),
                                             ir.IntType(64).as_pointer(),
                                             ir.DoubleType().as_pointer(),
                                             ir.IntType(8).as_pointer()])


def _c_argument_types(args):
    """``(types, pooled)``: the argument types of the C function's call for the typed
    arguments ``args`` (every array a writeable aligned C-contiguous 1-D array of its
    dtype, floats, bools) and whether ``args`` ends with the pair of ints ``(n_threads,
    run)`` (then ``types`` ends with two int64); None if another type is among them."""
    out, items = [], list(args.types)
    pooled = (len(items) > 0 and isinstance(items[-1], types.UniTuple) and items[-1].count == 2
              and isinstance(items[-1].dtype, types.Integer))
    if pooled:
        items.pop()
    for t in items:
        if isinstance(t, types.Array) and t.ndim == 1 and isinstance(t.dtype, types.Float):
            out.append(types.Array(t.dtype, 1, "C"))
        elif t in (types.float64, types.boolean):
            out.append(t)
        else:
            return None
    return (out + [types.int64, types.int64] if pooled else out), pooled


def _many_argument_types(args):
    """``(ptrs, starts, like, rest, pooled)`` for ``args`` laid out as the separate-arrays
    walk takes them, ``(ptrs, starts, like, rest)`` or ``(..., (n_threads, run))``: a
    tuple of 1-D int64 arrays, a 1-D int64 array, a 1-D float array, a tuple of floats
    and bools (then ints); None for any other ``args``."""
    items = list(args.types)
    pooled = (len(items) == 5 and isinstance(items[4], types.UniTuple) and items[4].count == 2
              and isinstance(items[4].dtype, types.Integer))
    if len(items) != 4 + pooled:
        return None
    ptrs, starts, like, rest = items[:4]
    int_array = types.Array(types.int64, 1, "C")

    def is_array(t, dtype):
        return isinstance(t, types.Array) and t.ndim == 1 and t.dtype == dtype
    if (not isinstance(ptrs, types.BaseTuple) or not len(ptrs.types)
            or not all(is_array(t, types.int64) for t in ptrs.types)
            or not is_array(starts, types.int64) or not isinstance(like, types.Array)
            or like.ndim != 1 or not isinstance(like.dtype, types.Float)
            or not isinstance(rest, types.BaseTuple)
            or any(t not in (types.float64, types.boolean) for t in rest.types)):
        return None
    return (types.UniTuple(int_array, len(ptrs.types)), int_array,
            types.Array(like.dtype, 1, "C"), types.BaseTuple.from_types(rest.types), pooled)


#: ``{serial loop: its walk of separate arrays}`` (the ``range_fn`` of each :class:`Many`),
#: for :func:`c_function` on the separate-arrays layout.
_MANY_RANGE = {}


def _c_entry(context, builder, call_sig, cres, leaves, build):
    """The C function ``void f(void** data, int64* ints, double* floats, char* flags)``
    (internal, in the caller's module) that reads ``leaves`` (types: 1-D C arrays from
    ``data[j]`` and their sizes ``ints[j]``; float64 from ``floats``; booleans from
    ``flags``; ``"int"`` from ``ints`` after the sizes), makes the argument of
    ``call_sig`` with ``build(fb, values)`` and calls ``cres`` on it."""
    module = builder.module
    fn = ir.Function(module, _C_FN_TYPE, name=module.get_unique_name("fastopt_c_entry"))
    fn.linkage = "internal"
    fb = ir.IRBuilder(fn.append_basic_block())
    data, ints, floats, flags = fn.args
    values, counts = [], {"array": 0, "float": 0, "flag": 0}
    for t in leaves:
        if isinstance(t, types.Array):
            j = ir.Constant(ir.IntType(32), counts["array"])
            counts["array"] += 1
            ary = context.make_array(t)(context, fb)
            itemsize = context.get_constant(
                types.intp, context.get_abi_sizeof(context.get_data_type(t.dtype)))
            context.populate_array(
                ary, data=fb.bitcast(fb.load(fb.gep(data, [j])), ary.data.type),
                shape=[fb.load(fb.gep(ints, [j]))], strides=[itemsize],
                itemsize=itemsize, meminfo=None)
            values.append(ary._getvalue())
        elif t == types.float64:
            j = ir.Constant(ir.IntType(32), counts["float"])
            counts["float"] += 1
            values.append(fb.load(fb.gep(floats, [j])))
        elif t == types.boolean:
            j = ir.Constant(ir.IntType(32), counts["flag"])
            counts["flag"] += 1
            values.append(fb.icmp_unsigned("!=", fb.load(fb.gep(flags, [j])),
                                           ir.Constant(ir.IntType(8), 0)))
        else:  # n_threads, run: after the sizes
            j = ir.Constant(ir.IntType(32), counts["array"])
            counts["array"] += 1
            values.append(fb.load(fb.gep(ints, [j])))
    context.call_internal_no_propagate(fb, cres.fndesc, call_sig, [build(fb, values)])
    fb.ret_void()
    return builder.ptrtoint(fn, context.get_value_type(types.intp))


def _compile_call(context, builder, src, scope, call_type):
    """Compile ``call(a)`` of ``src`` (globals ``scope``) for the tuple type ``call_type``
    as a subroutine of the caller: ``(its signature, the compile result)``."""
    exec(compile(src, "<fastopt c_function>", "exec"), scope)
    call_sig = types.void(call_type)
    return call_sig, context.compile_subroutine(builder, scope["call"], call_sig,
                                                caching=False)


def _many_c_function(serial, args):
    """:func:`c_function` on the separate-arrays layout ``args`` (see there), or None."""
    layout = _many_argument_types(args)
    if layout is None:
        return None
    ptrs, starts, like, rest, pooled = layout
    sig = types.intp(serial, args)

    def codegen(context, builder, sig, llargs):
        walk = _MANY_RANGE[sig.args[0].dispatcher]
        tail = (types.int64, types.int64) if pooled else ()
        call_type = types.Tuple((ptrs, starts, like, rest) + tail)
        if pooled:
            src = "def call(a):\n    for_many(walk, a)\n"
        else:
            src = ("def call(a):\n"  # (intp(0): a literal 0 would compile walk once more)
                   "    walk(a[0], a[1], a[2], a[3], intp(0), a[1][a[1].size - 1])\n")
        call_sig, cres = _compile_call(context, builder, src,
                                       {"walk": walk, "for_many": for_many, "intp": np.intp},
                                       call_type)
        leaves = list(ptrs.types) + [starts, like] + list(rest.types) + ["int"] * len(tail)

        def build(fb, values):
            r, s = len(ptrs.types), len(rest.types)
            packed = [context.make_tuple(fb, ptrs, values[:r]), values[r], values[r + 1],
                      context.make_tuple(fb, rest, values[r + 2:r + 2 + s])]
            return context.make_tuple(fb, call_type, packed + values[r + 2 + s:])
        return _c_entry(context, builder, call_sig, cres, leaves, build)
    return sig, codegen


@intrinsic
def c_function(typingctx, serial, args):
    """The address of a C function ``void f(void** data, int64* ints, double* floats,
    char* flags)`` compiled into the caller's library, that calls ``serial(*args)`` with
    the arrays of ``args`` made from ``data[j]`` and ``ints[j]`` (their sizes; 1-D,
    C-contiguous, in their order), its floats from ``floats`` and its bools from
    ``flags`` (nonzero: True), in their order: ``serial`` called from C without unboxing
    anything (the caller keeps the arrays alive and checked).  Only the types of ``args``
    are used.

    If the last item of ``args`` is a pair of ints ``(n_threads, run)``, the function
    runs what the rule's ``pooled`` twin runs, ``for_slices(serial, args)`` (chunks of
    ``serial`` on fastopt's pool: :func:`for_slices`), with ``n_threads`` and ``run`` (the
    pool's address, :data:`POOL_RUN`) read from ``ints`` after the arrays' sizes: the
    twin called from C.  It too holds no process-specific address.

    For the serial loop of a :class:`Many` and ``args`` laid out as its walk takes them,
    ``(ptrs, starts, like, rest)`` (a tuple of 1-D int64 arrays, a 1-D int64 array, a
    1-D float array, a tuple of floats and bools), the function runs that walk
    (:func:`many_range` through ``serial``) on all the elements, or with the pair
    ``(n_threads, run)`` after them, what the ``<rule>_many_pooled`` twin runs
    (:func:`for_many`): ``data`` holds the rows of ``ptrs``, then ``starts`` and ``like``,
    ``ints`` their sizes (then ``n_threads`` and ``run``), ``floats`` and ``flags`` the
    items of ``rest``.  This is what :meth:`Many.prepare`'s call runs."""
    if not isinstance(serial, types.Dispatcher) or not isinstance(args, types.BaseTuple):
        return None
    if serial.dispatcher in _MANY_RANGE:
        many = _many_c_function(serial, args)
        if many is not None:
            return many
    checked = _c_argument_types(args)
    if checked is None:
        return None
    arg_types, pooled = checked
    sig = types.intp(serial, args)

    def codegen(context, builder, sig, llargs):
        body = sig.args[0].dispatcher
        call_type = types.BaseTuple.from_types(arg_types)
        if pooled:
            src = "def call(a):\n    for_stream_slices(body, a)\n"
        else:
            src = "def call(a):\n    run_serial(body, a)\n"
        call_sig, cres = _compile_call(context, builder, src,
                                       {"body": body, "for_stream_slices": for_stream_slices,
                                        "run_serial": run_serial}, call_type)
        leaves = [t if t != types.int64 else "int" for t in arg_types]
        return _c_entry(context, builder, call_sig, cres, leaves,
                        lambda fb, values: context.make_tuple(fb, call_type, values))
    return sig, codegen


#: ``{serial loop: its <rule>_address}`` (given to :func:`elementwise`).
_ADDRESS = {}


def elementwise(serial_fn, address_fn=None):
    """Decorator of a rule's kernel ``<rule>(param, grad, *state, *scalars, *switches,
    n_threads)`` whose serial loop is ``serial_fn``: gives it ``prepare(param, states)``
    (see :func:`prepare`).  ``address_fn(args)`` is the rule's ``<rule>_address``: the
    address of ``serial_fn`` as a C function for arguments of the types of ``args``
    (:func:`c_function`)."""
    if address_fn is not None:
        _ADDRESS[serial_fn] = address_fn

    def register(kernel):
        def prepare_call(param, states):
            return prepare(kernel, serial_fn, param, states, address_fn)
        kernel.prepare = prepare_call
        return kernel
    return register


_PREPARED_SRC = """
def make(kernel, resolve, ndarray, bound_param, {bound}):
    entry = None
    dtype, shape = bound_param.dtype, bound_param.shape

    def prepared({args}):
        nonlocal entry
        if (n_threads == 1 and param is bound_param and {same}
                and type(grad) is ndarray and grad.dtype is dtype and grad.shape == shape):
            flags = grad.flags
            if flags.c_contiguous and flags.aligned:
                if entry is None:
                    result, entry = resolve({call})
                    return result
                return entry({call})
        return kernel({args})
    return prepared
"""


def prepare(kernel, serial_fn, param, states, address_fn=None):
    """``kernel`` with its arguments ``param`` and ``states`` (a tuple of the state arrays)
    bound: a callable with the kernel's signature for the optimizer's replayed steps.

    A call with these same array objects and ``n_threads == 1`` runs the compiled
    ``serial_fn`` without its dispatcher, which types every argument again at each call
    (~1 us for 16 arguments); with the extension, so does one with more threads, on
    fastopt's pool (see below).  Any other call (other arrays, a gradient that is not
    aligned) is the kernel's.

    With the Cython extension the callable is a ``fastopt.backends.cython._checks.
    PreparedCall``, which checks the gradient (an ``ndarray`` of ``param``'s dtype object
    and size, C-contiguous and aligned) and the bound arrays (still of that dtype,
    C-contiguous, aligned, writeable), and which ``_checks.call_kernel`` calls without a
    Python frame.  Its first such call takes the address of the C function ``address_fn``
    gives for those arguments' types (:func:`c_function`; compiled with the loop if
    needed, before anything is written), then runs ``serial_fn`` through the dispatcher;
    the next ones call that function directly from C with the arrays' data pointers and
    sizes, the floats and the bools: nothing is unboxed (~0.4 us less than numba's entry
    point, which unboxes 16 arguments).  If ``address_fn`` fails, a RuntimeWarning says
    so and the calls go to the entry point.  Without ``address_fn`` the calls go to the entry point of
    the overload of the first call's types (numba's own wrapper, which unboxes the
    arguments).  Without the extension, a Python closure with the same checks of the
    gradient calls that entry point.

    With ``n_threads > 1`` (an int) and the same checks, ``PreparedCall`` runs the loop on
    fastopt's pool from C too: its first such call takes the address of the C function
    ``address_fn`` gives for the arguments' types followed by the pair ``(n_threads,
    run)`` (:func:`c_function`: ``for_slices(serial_fn, args)``, what the kernel's
    ``pooled`` twin runs) and is the kernel's; the next ones call it, with the GIL
    released, giving it :func:`n_chunks` threads and :data:`POOL_RUN` after the sizes:
    neither the kernel's Python frame nor the twin's dispatcher (~18 arguments typed,
    4-17 us on the shared 2-core machine) is in between.  Where there is no such function
    (no pool: ``$FASTOPT_NUMBA_POOL=0`` or no extension; the JIT disabled; non-float
    scalars; ``address_fn`` failing, with a RuntimeWarning), every such call is the
    kernel's, as are the calls of the Python closure.

    The scalars are Python floats and bools (the types the C function and the overload
    take; any other type of scalar goes to the kernel).  They may be unrounded:
    ``serial_fn`` casts each one to the dtype before using it, as the Cython kernels do
    (the same bits).  A read-only gradient runs the same code: it is only read.
    """
    import inspect
    names = list(inspect.signature(kernel).parameters)
    if names[:2] != ["param", "grad"] or names[-1] != "n_threads":
        raise TypeError(f"{kernel.__name__} is not an elementwise kernel")
    n_arrays = 2 + len(states)

    def resolve(*args):
        """``(serial_fn(*args), the callable for the next calls)``: the entry point of the
        overload for these types (the dispatcher itself if it has none)."""
        if not hasattr(serial_fn, "overloads"):  # NUMBA_DISABLE_JIT: a Python function
            return serial_fn(*args), serial_fn
        sig = tuple(serial_fn.typeof_pyval(a) for a in args)
        result = serial_fn(*args)
        overload = serial_fn.overloads.get(sig)
        return result, serial_fn if overload is None else overload.entry_point

    def c_address(args, pooled):
        """``(n_flags, address)``: the trailing bools of ``args`` (no ``n_threads``) are the
        ``n_flags`` flags, the other scalars floats; ``address`` that of the C function for
        their types (:func:`c_function`; on the pool if ``pooled``), or None where there is
        none (a RuntimeWarning says why if ``address_fn`` failed)."""
        n_flags = 0
        while n_flags < len(args) - n_arrays and type(args[-1 - n_flags]) is bool:
            n_flags += 1
        scalars = args[n_arrays:len(args) - n_flags]
        if (address_fn is None or not hasattr(serial_fn, "overloads")
                or any(type(x) is not float for x in scalars)):
            return n_flags, None
        like = np.empty(0, args[0].dtype)  # (only the types count)
        pool = ((0, 0),) if pooled else ()  # (the types of n_threads and run)
        try:  # before anything is written
            return n_flags, address_fn((like,) * n_arrays + scalars
                                       + args[len(args) - n_flags:] + pool)
        except Exception as e:  # noqa: BLE001 (numba's errors have no common base)
            what, then = (("no C function on the pool", "runs the kernel for n_threads > 1")
                          if pooled else ("no C function", "uses numba's entry point"))
            warnings.warn(f"{kernel.__name__}: {what} ({type(e).__name__}: {e}); the "
                          f"prepared call {then}", RuntimeWarning)
            return n_flags, None

    def resolve_address(*args):
        """``(serial_fn(*args), entry, n_flags)`` for ``PreparedCall``: ``entry`` the
        address of the C function for the arguments' types (the trailing bools are the
        ``n_flags`` flags, the other scalars floats), else what :func:`resolve` gives."""
        n_flags, address = c_address(args, False)
        if address is None:
            return resolve(*args) + (n_flags,)
        return serial_fn(*args), address, n_flags

    def resolve_pooled(*args):
        """``(kernel(*args), entry, n_flags, run)`` for ``PreparedCall``'s first call with
        ``n_threads > 1`` (the last of ``args``): ``entry`` the address of the C function
        that runs ``serial_fn`` on the pool at ``run`` (:data:`POOL_RUN`) as the kernel's
        ``pooled`` twin does, for the arguments' types; 0 where there is none (no pool:
        the ``prange`` functions run, as ``$FASTOPT_NUMBA_POOL=0`` asks): the later such
        calls are then the kernel's."""
        address = None
        if POOL_RUN:
            n_flags, address = c_address(args[:-1], True)
        else:
            n_flags = 0
        return kernel(*args), address or 0, n_flags, POOL_RUN if address else 0

    if _PreparedCall is not None:
        return _PreparedCall(kernel, resolve_address, param, tuple(states), len(names),
                             resolve_pooled)
    bound = [f"bound_{j}" for j in range(len(states))]
    same = " and ".join(f"{a} is {b}" for a, b in zip(names[2:n_arrays], bound)) or "True"
    src = _PREPARED_SRC.format(bound=", ".join(bound), args=", ".join(names),
                               call=", ".join(names[:-1]), same=same)
    scope = {}
    exec(compile(src, f"<fastopt prepared {kernel.__name__}>", "exec"), scope)
    prepared = scope["make"](kernel, resolve, np.ndarray, param, *states)
    prepared.__name__ = prepared.__qualname__ = kernel.__name__ + "_prepared"
    return prepared


def _prepared_call_class():
    """``fastopt.backends.cython._checks.PreparedCall`` (None without the extension, or
    with ``$FASTOPT_NUMBA_PREPARED=python``: the Python closure of :func:`prepare`)."""
    if os.environ.get("FASTOPT_NUMBA_PREPARED", "") == "python":
        return None
    try:
        from fastopt.backends.cython._checks import PreparedCall
    except ImportError:
        return None
    return PreparedCall


_PreparedCall = _prepared_call_class()


_is = operator.is_


def _same_items_py(a, b):
    """Whether the sequences ``a`` and ``b`` hold the same objects (``is``) in order."""
    return len(a) == len(b) and all(map(_is, a, b))


try:  # (the same function in C: ~2 ns an item against ~25)
    from fastopt.backends.cython._checks import same_items as _same_items
except ImportError:
    _same_items = _same_items_py


# --- fastopt's pool (see "The pool" in the module docstring) ----------------------------

#: Elements per chunk are a multiple of this (as in the Cython kernels: whole cache lines).
CHUNK_ALIGN = 16
#: A range run on n threads is cut into about this many chunks per thread (as in Cython).
CHUNKS_PER_THREAD = 4

#: The pooled twins: ``{parallel function: pooled twin}``.
_POOLED = {}


def _pool_run_address():
    """The address of ``parallel_range`` of ``fastopt.backends.cython._pool`` (0 when the
    extension is not built or ``$FASTOPT_NUMBA_POOL`` is ``0``)."""
    if os.environ.get("FASTOPT_NUMBA_POOL", "1") == "0":
        return 0
    try:
        from fastopt.backends.cython import _pool
    except ImportError:
        return 0
    capsule = _pool.__pyx_capi__["parallel_range"]
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype = ctypes.c_void_p
    get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return get_pointer(capsule, get_name(capsule)) or 0


#: What the ``pooled`` twins get as their last argument (0: use the ``prange`` functions).
POOL_RUN = _pool_run_address()


def pooled(parallel_fn):
    """Compile the ``pooled`` twin of the ``parallel`` function ``parallel_fn``: the same
    arguments, ``n_chunks`` read as the number of threads, then the pool's address (given
    by :func:`call_parallel`)."""
    def register(fn):
        twin = numba.njit(**FLAGS)(fn)
        _POOLED[parallel_fn] = twin
        return twin
    return register


@serial
def chunk_size(n, n_threads, align):
    """Chunk size for ``n`` items on ``n_threads`` threads: about ``n / (n_threads *
    CHUNKS_PER_THREAD)``, rounded up to a multiple of ``align`` (``>= n``: one chunk)."""
    if n_threads <= 1 or n <= align:
        return n
    per = n_threads * CHUNKS_PER_THREAD
    c = (n + per - 1) // per
    return (c + align - 1) // align * align


def _chunk_impl(body, packed, mode):
    """``chunk(packed, lo, hi)`` for a body and the packed argument types ``(args,)``:
    ``body(*args[lo:hi])`` (mode "slices": every array argument sliced), ``body(*args, lo,
    hi)`` ("ranges") or, for the sparse row kernels ("rows", ``args`` those of
    ``<algorithm>_sparse``: ``param, indices, values, *state, *scalars, slots, rows,
    coalesced``), ``body(param, coalesced, *state, rows, lo, hi, *scalars)``.

    Generated source: which arguments are arrays (and how many states a sparse kernel
    has) is known only from the types."""
    (args,) = packed.types
    m = len(args.types)
    if mode in ("slices", "stream"):
        call = [f"a[{i}][lo:hi]" if isinstance(t, types.Array) else f"a[{i}]"
                for i, t in enumerate(args.types)]
        if mode == "stream":
            src = ("def chunk(packed, lo, hi):\n    a = packed[0]\n"
                   f"    s = ({', '.join(call)},)\n"
                   "    if long_step(a):\n        _, block, ahead = settings()\n"
                   "        size = itemsize(a[0])\n"
                   "        stream_blocks(body, s, block // size, ahead // size)\n"
                   "    else:\n        body(*s)\n")
            scope = {"body": body, "long_step": long_step, "itemsize": itemsize,
                     "stream_blocks": stream_blocks, "settings": stream_settings}
            exec(compile(src, "<fastopt pooled chunk: stream>", "exec"), scope)
            return scope["chunk"]
    elif mode == "ranges":
        call = [f"a[{i}]" for i in range(m)] + ["lo", "hi"]
    else:
        k = 3
        while k < m - 3 and isinstance(args.types[k], types.Array):
            k += 1
        call = (["a[0]", f"a[{m - 1}]"] + [f"a[{i}]" for i in range(3, k)]
                + [f"a[{m - 2}]", "lo", "hi"] + [f"a[{i}]" for i in range(k, m - 3)])
    src = f"def chunk(packed, lo, hi):\n    a = packed[0]\n    body({', '.join(call)})\n"
    scope = {"body": body}
    exec(compile(src, f"<fastopt pooled chunk: {mode}>", "exec"), scope)
    return scope["chunk"]


_CHUNK_FN_TYPE = ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t, ir.IntType(64),
                                                 ir.IntType(64)])
_RUN_FN_TYPE = ir.FunctionType(ir.VoidType(), [_CHUNK_FN_TYPE.as_pointer(), cgutils.voidptr_t,
                                               ir.IntType(64), ir.IntType(64), ir.IntType(32)])


def _pool_for_codegen(mode):
    def codegen(context, builder, sig, llargs):
        run, n, chunk, n_threads, _, packed = llargs
        packed_type = sig.args[5]
        body = sig.args[4].dispatcher
        impl = _chunk_impl(body, packed_type, mode)
        chunk_sig = types.void(packed_type, types.intp, types.intp)
        cres = context.compile_subroutine(builder, impl, chunk_sig, caching=False)
        # The C-ABI chunk function, in the caller's module: loads the packed arguments
        # from ctx and calls the compiled chunk.
        module = builder.module
        fn = ir.Function(module, _CHUNK_FN_TYPE, name=module.get_unique_name("fastopt_chunk"))
        fn.linkage = "internal"
        fb = ir.IRBuilder(fn.append_basic_block())
        ll_packed = context.get_value_type(packed_type)
        value = fb.load(fb.bitcast(fn.args[0], ll_packed.as_pointer()))
        context.call_internal_no_propagate(fb, cres.fndesc, chunk_sig,
                                           [value, fn.args[1], fn.args[2]])
        fb.ret_void()
        ctx = cgutils.alloca_once_value(builder, packed)
        run_fn = builder.inttoptr(run, _RUN_FN_TYPE.as_pointer())
        builder.call(run_fn, [fn, builder.bitcast(ctx, cgutils.voidptr_t), n, chunk,
                              builder.trunc(n_threads, ir.IntType(32))])
        return context.get_dummy_value()
    return codegen


def _pool_for(mode):
    def pool_for(typingctx, run, n, chunk, n_threads, body, packed):
        sig = types.void(types.intp, types.intp, types.intp, types.intp, body, packed)
        return sig, _pool_for_codegen(mode)
    pool_for.__name__ = pool_for.__qualname__ = f"pool_for_{mode}"
    pool_for.__doc__ = (f"``parallel_range`` (at address ``run``) of the chunks of ``[0, n)``"
                        f" of ``body`` on the packed arguments (mode {mode!r}).")
    return intrinsic(pool_for)


pool_for_slices = _pool_for("slices")
pool_for_stream = _pool_for("stream")
pool_for_ranges = _pool_for("ranges")
pool_for_rows = _pool_for("rows")


def callee(fn):
    """Compile a helper of the twins that takes a jitted function as an argument.

    It is inlined into the twin (numba's IR inliner): a jitted function passed as a
    value through a real call would be lowered to its process-specific address (a
    "dynamic global"), which makes the twin uncachable; inlined, the value is never
    used and LLVM drops it.  Never cached by itself."""
    return numba.njit(inline="always", **dict(FLAGS, cache=False))(fn)


@callee
def for_slices(body, args):
    """In a twin whose ``args`` end with ``(n_threads, run)``: ``body(*args[:-2])`` on
    chunks of the leading dimension of ``args[0]``, every array argument sliced
    ``[lo:hi]``, on the pool at ``run``."""
    kargs = args[:-2]
    n = kargs[0].shape[0]
    n_threads = args[-2]
    align = CHUNK_ALIGN if kargs[0].ndim == 1 else 1
    pool_for_slices(args[-1], n, chunk_size(n, n_threads, align), n_threads, body,
                     (kargs,))


@callee
def for_ranges(body, n, args):
    """In a twin whose ``args`` end with ``(n_threads, run)``: ``body(*args[:-2], lo, hi)``
    on chunks ``[lo, hi)`` of ``[0, n)`` (no alignment: rows, columns, blocks), on the pool
    at ``run``."""
    n_threads = args[-2]
    pool_for_ranges(args[-1], n, chunk_size(n, n_threads, 1), n_threads, body, (args[:-2],))


@callee
def for_aligned_ranges(body, n, align, args):
    """:func:`for_ranges` with chunks of a multiple of ``align`` items: for a pass that
    adds to one float64 per item again and again, 8 makes each chunk's whole cache lines
    its own (if the float64s start on a line), never shared with another thread's."""
    n_threads = args[-2]
    pool_for_ranges(args[-1], n, chunk_size(n, n_threads, align), n_threads, body,
                    (args[:-2],))


# --- long arrays: prefetched blocks ---------------------------------------------------
#
# The numba twin of the Cython kernels' ``_stream`` (``csrc/README.md``, "Long arrays"):
# one core streams an array from memory only as fast as it keeps cache misses in flight,
# and a rule that divides and takes square roots per element leaves the hardware
# prefetchers behind.  So the serial loop of an elementwise rule runs on an array of at
# least :data:`STREAM_MIN_BYTES` (decided on the whole array, so that every thread count
# streams the same arrays) in blocks of :data:`STREAM_BLOCK_BYTES`, each one a call of
# the rule's ``serial`` loop on views of the block made from the arrays' addresses (no
# reference counting), after asking for the lines :data:`STREAM_AHEAD_BYTES` ahead in
# every full-length array.  Elements are updated as the plain loop updates them: the
# same bits.  A step streams only when at least :data:`STREAM_MIN_ARRAYS` of its arrays
# are full-length: plain SGD (one array read, one read and written) was 4-5% slower
# streamed, as in Cython.  The ``prange`` functions (no Cython extension, or
# ``$FASTOPT_NUMBA_POOL=0``) do not stream.

#: An elementwise step on arrays of at least this many bytes each streams (the default
#: of :func:`set_streaming`).
STREAM_MIN_BYTES = 32 << 20
#: Elements per block: this many bytes (a call of the serial loop per block).
STREAM_BLOCK_BYTES = 256
#: Each block first asks for the lines this many bytes past its start.
STREAM_AHEAD_BYTES = 4096
#: ... in a step with at least this many full-length arrays (plain SGD has two).
STREAM_MIN_ARRAYS = 3


@intrinsic
def prefetch_w(typingctx, arr, i):
    """Ask for the cache line of element ``i`` (flat index) of the C-contiguous ``arr``,
    to be written (``llvm.prefetch``: a hint, it never faults)."""
    sig = types.void(arr, types.intp)

    def codegen(context, builder, sig, args):
        data = context.make_array(sig.args[0])(context, builder, args[0]).data
        ptr = builder.bitcast(builder.gep(data, [args[1]]), cgutils.voidptr_t)
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [cgutils.voidptr_t, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [ptr, i32(1), i32(3), i32(1)])  # write, keep in all caches, data
        return context.get_dummy_value()
    return sig, codegen


@intrinsic
def itemsize(typingctx, arr):
    """The size in bytes of an element of ``arr``, as a constant of the compiled code
    (``arr.itemsize`` is read from the array at run time: dividing by it costs a
    division)."""
    sig = types.intp(arr)

    def codegen(context, builder, sig, args):
        size = context.get_abi_sizeof(context.get_data_type(sig.args[0].dtype))
        return context.get_constant(types.intp, size)
    return sig, codegen


#: The settings in force, ``(min_bytes, block_bytes, ahead_bytes)``: C int64s that the
#: compiled code reads through their symbol at every step (:func:`stream_settings`;
#: cached code holds no address), set by :func:`set_streaming`.  Read, not constants:
#: with the block size known at compile time, LLVM built a block loop that made Adam,
#: RMSprop and FTRL 17-19% slower than the plain loop instead of 12% faster (the same
#: walk with the sizes as arguments; one process, interleaved).
_STREAM = (ctypes.c_int64 * 3)(STREAM_MIN_BYTES, STREAM_BLOCK_BYTES, STREAM_AHEAD_BYTES)
_STREAM_SYMBOL = "fastopt_numba_streaming"
llvm_binding.add_symbol(_STREAM_SYMBOL, ctypes.addressof(_STREAM))


def set_streaming(min_bytes=STREAM_MIN_BYTES, block_bytes=STREAM_BLOCK_BYTES,
                  ahead_bytes=STREAM_AHEAD_BYTES):
    """Stream the elementwise steps on arrays of at least ``min_bytes`` bytes (0: every
    step, as the tests do), in blocks of ``block_bytes`` (a positive multiple of 64),
    asking for the memory ``ahead_bytes`` ahead; the defaults are ``STREAM_*_BYTES``.
    Returns the previous ``(min_bytes, block_bytes, ahead_bytes)``.  For tests and A/B
    timings, process-wide (as the Cython modules' ``_set_streaming``, per module): set
    it while no kernel runs.

    Raises ValueError for anything but ints with ``min_bytes >= 0``, ``block_bytes`` a
    positive multiple of 64 and ``ahead_bytes >= 0``."""
    values = (min_bytes, block_bytes, ahead_bytes)
    if (any(isinstance(v, bool) or not isinstance(v, int) for v in values)
            or min_bytes < 0 or block_bytes < 64 or block_bytes % 64 or ahead_bytes < 0):
        raise ValueError(f"min_bytes >= 0, block_bytes a positive multiple of 64 and "
                         f"ahead_bytes >= 0, got {min_bytes!r}, {block_bytes!r}, "
                         f"{ahead_bytes!r}")
    old = tuple(_STREAM)
    _STREAM[0], _STREAM[1], _STREAM[2] = values
    return old


@intrinsic
def stream_settings(typingctx):
    """``(min_bytes, block_bytes, ahead_bytes)`` in force (:func:`set_streaming`), read at
    every call."""
    sig = types.UniTuple(types.int64, 3)()

    def codegen(context, builder, sig, args):
        module = builder.module
        gv = module.globals.get(_STREAM_SYMBOL)
        if gv is None:
            gv = ir.GlobalVariable(module, ir.ArrayType(ir.IntType(64), 3), name=_STREAM_SYMBOL)
            gv.linkage = "external"
        i32 = ir.IntType(32)
        values = [builder.load(builder.gep(gv, [i32(0), i32(k)])) for k in range(3)]
        return context.make_tuple(builder, sig.return_type, values)
    return sig, codegen


@intrinsic
def call_inlined(typingctx, body, args):
    """``body(*args)`` for a jitted ``body``, a call LLVM must inline (the call site is
    marked ``alwaysinline``): the block loop of :func:`stream_blocks` calls the serial loop.
    Measured against the same call marked ``noinline`` (1.6e7 elements, the prepared call,
    each rule in a process of its own, 9 interleaved rounds, streamed / plain loop's time,
    alwaysinline / noinline; part of it beside another engineer's tests at nice 10):
    float32 Adam 0.92 / 0.92 (1 thread) and 0.99 / 1.10 (2), RMSprop 0.92 / 1.01, FTRL
    0.91 / 0.91 and 1.02 / 1.15 (2), ASGD 0.68 / 0.70; float64 Adam 0.96-0.98 / 0.98-1.04,
    RMSprop 0.92-0.98 / 1.04-1.10, LAMB 1.01 / 1.03.  Left to LLVM's choice, the call was
    inlined in some callers only, and there made Adam, RMSprop and FTRL 7-22% slower.
    Costs compile time: 10-15% more for a rule's entries (Adam, RMSprop, FTRL float32,
    prepared call and kernel on 1 and 2 threads: 14.4-14.7 s against 16.2-16.9 s)."""
    if not isinstance(body, types.Dispatcher) or not isinstance(args, types.BaseTuple):
        return None
    body_sig = typingctx.resolve_function_type(body, args.types, {})
    sig = body_sig.return_type(body, args)

    def codegen(context, builder, sig, llargs):
        items = cgutils.unpack_tuple(builder, llargs[1])
        impl = context.get_function(sig.args[0], body_sig)
        block, start = builder.block, len(builder.block.instructions)
        result = impl(builder, items)
        calls = [instr for instr in block.instructions[start:]
                 if isinstance(instr, ir.CallInstr) and isinstance(instr.callee, ir.Function)
                 and not instr.callee.name.startswith("llvm.")]
        if len(calls) != 1:
            raise AssertionError(f"call_inlined: {len(calls)} calls emitted for one")
        calls[0].attributes.add("alwaysinline")
        return result
    return sig, codegen


def _full_arrays(args):
    """The indices of the 1-D array items of the tuple type ``args``."""
    return [i for i, t in enumerate(args.types) if isinstance(t, types.Array) and t.ndim == 1]


def long_step(args):
    """Whether the elementwise step on ``args`` streams (njit only): its 1-D arrays are all
    typed C-contiguous, its first array holds at least the threshold's bytes
    (:func:`set_streaming`), and at least :data:`STREAM_MIN_ARRAYS` of its 1-D
    arrays have that array's size."""
    raise NotImplementedError("long_step is only callable from compiled code")


@overload(long_step, jit_options=dict(FLAGS, cache=False))
def _long_step(args):
    arrays = _full_arrays(args)
    if any(args.types[i].layout != "C" for i in arrays):
        arrays = []  # blocks are views made from addresses: C-contiguous arrays only
    count = " + ".join(f"(args[{i}].size == n)" for i in arrays) or "0"
    src = ("def impl(args):\n"
           f"    n = args[{arrays[0] if arrays else 0}].size\n"
           f"    return (n * itemsize(args[{arrays[0] if arrays else 0}]) >= settings()[0]\n"
           f"            and {count} >= MIN_ARRAYS)\n") if arrays else \
        "def impl(args):\n    return False\n"
    scope = {"itemsize": itemsize, "settings": stream_settings,
             "MIN_ARRAYS": STREAM_MIN_ARRAYS}
    exec(compile(src, "<fastopt long_step>", "exec"), scope)
    return scope["impl"]


def stream_blocks(body, args, block, ahead):
    """``body(*args)`` in blocks of ``block`` elements (njit only): before each block, the
    lines ``ahead`` elements past its start are asked for in every array of the size of
    the first (the full-length ones); ``body`` gets every such array's ``[lo:hi]`` as a
    view made from its address, the other arrays whole (unused states, as views too) and
    the scalars as they are.  ``body`` must be elementwise (a rule's ``serial`` loop)."""
    raise NotImplementedError("stream_blocks is only callable from compiled code")


@overload(stream_blocks, inline="always", jit_options=dict(FLAGS, cache=False))
def _stream_blocks(body, args, block, ahead):
    arrays = _full_arrays(args)
    first = arrays[0]
    lines = ["def impl(body, args, block, ahead):",
             f"    n = args[{first}].size",
             f"    step = 64 // itemsize(args[{first}])"]
    for i in arrays:
        lines.append(f"    d{i} = intp(args[{i}].ctypes.data)")  # (int64, as in many_range)
        lines.append(f"    f{i} = args[{i}].size == n")
        lines.append(f"    m{i} = args[{i}].size")
    lines += ["    lo = zero = intp(0)",  # (a literal 0 would compile view_at once more)
              "    while lo < n:",
              "        hi = min(n, lo + block)",
              "        k = lo + ahead",
              "        while k < hi + ahead:"]
    for i in arrays:
        lines.append(f"            if f{i}:")
        lines.append(f"                prefetch_w(args[{i}], k)")
    lines.append("            k += step")
    call = [f"view_at(d{i}, m{i}, lo if f{i} else zero, hi if f{i} else m{i}, args[{i}])"
            if i in arrays else f"args[{i}]" for i in range(len(args.types))]
    lines += [f"        call_inlined(body, ({', '.join(call)},))", "        lo = hi"]
    scope = {"itemsize": itemsize, "prefetch_w": prefetch_w, "view_at": view_at,
             "call_inlined": call_inlined, "intp": np.intp}
    exec(compile("\n".join(lines) + "\n", "<fastopt stream_blocks>", "exec"), scope)
    return scope["impl"]


@callee
def run_serial(body, args):
    """``body(*args)``, or streamed in prefetched blocks when :func:`long_step` says so:
    an elementwise rule's serial loop on whole arrays (the C function of the prepared
    call, one thread)."""
    if long_step(args):
        _, block, ahead = stream_settings()
        size = itemsize(args[0])
        stream_blocks(body, args, block // size, ahead // size)
    else:
        body(*args)


def streams(param):
    """Whether a kernel's one-thread step on ``param`` may stream (a Python-level check):
    then the kernel calls its ``pooled`` twin on one thread, whose chunk (the whole
    array, run in the calling thread) streams if :func:`long_step` says so; without the
    pool (``$FASTOPT_NUMBA_POOL=0``, no Cython extension) the serial loop runs, as on
    short arrays."""
    return POOL_RUN != 0 and param.nbytes >= _STREAM[0]


@callee
def for_stream_slices(body, args):
    """:func:`for_slices` for an elementwise rule's serial loop ``body`` on 1-D arrays:
    each chunk streamed in prefetched blocks when the whole step is long
    (:func:`long_step` on the whole arrays)."""
    kargs = args[:-2]
    n = kargs[0].shape[0]
    n_threads = args[-2]
    pool_for_stream(args[-1], n, chunk_size(n, n_threads, CHUNK_ALIGN), n_threads, body,
                    (kargs,))


# --- many arrays in one call (``<rule>_many``) ------------------------------------------
#
# The numba twin of the Cython ``<rule>_many`` (``csrc/_update_rule.pxi.tp``): the arrays
# of a group are checked in Python, their data addresses go into an int64 table (one row
# per argument: params, grads, each state; a column per array) with ``starts`` (array
# ``i`` holds the elements ``[starts[i], starts[i + 1])`` of the arrays laid end to end),
# and one compiled function walks that range in chunks, each array's part through the
# rule's ``serial`` loop on views made from the addresses (so each element is updated as
# one kernel call per array updates it: the same bits).  The table's rows are a tuple of
# 1-D arrays (its length is the rule's, whatever the number of arrays: one compilation
# per dtype), and the scalars a tuple too.  The prepared call (the optimizer's replayed
# steps) calls the same walk from C (:class:`_ManyEntry`): numba's dispatcher, which
# types and unboxes the table's rows, ``starts`` and the scalars at every call, and the
# Python around it (rounding the scalars, a generator comparing 100 gradients) took ~40
# us of thread CPU per step of 100 arrays of 1e4 (the walk: ~800 us), which Cython's
# ``<rule>_many`` does not pay.  The prepared call compares the arrays it holds with
# the lists' in C where the extension is built (``_same_items``: ~1 us for Adam's 400
# arrays, against ~11 us through ``operator.is_``).


@intrinsic
def address_pointer(typingctx, address, like):
    """The int64 ``address`` as a pointer to elements of the dtype of the array ``like``."""
    sig = types.CPointer(like.dtype)(address, like)

    def codegen(context, builder, sig, llargs):
        return builder.inttoptr(llargs[0], context.get_value_type(sig.return_type))
    return sig, codegen


@element
def view_at(address, n, lo, hi, like):
    """``[lo:hi]`` of the 1-D array of ``n`` elements of ``like``'s dtype at ``address``
    (0: an unused optional state, an empty array)."""
    if address == 0:
        n = 0
    return numba.carray(address_pointer(address, like), n)[lo:hi]


def views(ptrs, i, n, lo, hi, like):
    """The tuple of :func:`view_at` of column ``i`` of the rows ``ptrs`` (njit only)."""
    raise NotImplementedError("views is only callable from compiled code")


@overload(views, jit_options=dict(FLAGS, cache=False))
def _views(ptrs, i, n, lo, hi, like):
    items = "".join(f"view_at(ptrs[{j}][i], n, lo, hi, like), " for j in range(len(ptrs)))
    src = f"def impl(ptrs, i, n, lo, hi, like):\n    return ({items})\n"
    scope = {"view_at": view_at}
    exec(compile(src, "<fastopt many views>", "exec"), scope)
    return scope["impl"]


@callee
def many_range(serial, ptrs, starts, like, rest, lo, hi):
    """``serial`` on the elements ``[lo, hi)`` of the arrays at ``ptrs`` laid end to end:
    each array's part as if that array were stepped alone (``rest``: the scalars)."""
    k = starts.size - 1
    i, j = 0, k  # i: the last array starting at or before lo (binary search)
    while j - i > 1:
        mid = (i + j) // 2
        if starts[mid] <= lo:
            i = mid
        else:
            j = mid
    while lo < hi and i < k:
        stop = min(hi, starts[i + 1])
        if stop > lo:
            s = starts[i]
            serial(*(views(ptrs, i, starts[i + 1] - s, lo - s, stop - s, like) + rest))
            lo = stop
        i += 1


@callee
def for_many(body, args):
    """In a twin whose ``args`` are ``(ptrs, starts, like, rest, n_threads, run)``:
    ``body(ptrs, starts, like, rest, lo, hi)`` on chunks of the whole range (a multiple of
    :data:`CHUNK_ALIGN` elements, as the Cython ``_many``), on the pool at ``run``."""
    n = args[1][args[1].size - 1]
    n_threads = args[-2]
    pool_for_ranges(args[-1], n, chunk_size(n, n_threads, CHUNK_ALIGN), n_threads, body,
                    (args[:-2],))


@serial
def address(a):
    """The data address of the array ``a``."""
    return a.ctypes.data


def same_dtype(a, b):
    """Whether the arrays ``a`` and ``b`` have the same dtype (njit only: a constant)."""
    raise NotImplementedError("same_dtype is only callable from compiled code")


@overload(same_dtype, jit_options=dict(FLAGS, cache=False))
def _same_dtype(a, b):
    same = a.dtype == b.dtype
    return lambda a, b: same


@serial
def grad_address(g, like, n):
    """The data address of the gradient ``g`` if it is a C-contiguous 1-D array of
    ``like``'s dtype and ``n`` elements, else -1."""
    if not same_dtype(g, like) or g.ndim != 1 or g.size != n:
        return -1
    if g.size > 1 and g.strides[0] != g.itemsize:
        return -1
    if g.ctypes.data % g.itemsize != 0:  # not aligned
        return -1
    return g.ctypes.data


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _bad_array(a, dtype, n, write, name, optional=False):
    """The ValueError (or TypeError) why ``a`` is not a 1-D C-contiguous aligned array
    of ``dtype`` and ``n`` elements (writeable if ``write``), or None: the checks and
    messages of ``array_data`` (``csrc/_kernel_common.pxd``; None is a TypeError unless
    the array is an ``optional`` state)."""
    if a is None and optional:
        return ValueError(f"{name} is None but the selected options use it")
    if not isinstance(a, np.ndarray):
        return TypeError(f"{name} must be a NumPy array, got {type(a).__name__}")
    flags = a.flags
    if (a.dtype == dtype and a.ndim == 1 and a.shape[0] == n and flags.c_contiguous
            and flags.aligned and (flags.writeable or not write)):
        return None
    if a.dtype != dtype:
        return ValueError(f"{name} has dtype {a.dtype}, expected {dtype} like param")
    if a.ndim != 1 or a.shape[0] != n:
        return ValueError(f"{name} has shape {a.shape}, expected ({n},) like param")
    if not flags.c_contiguous:
        return ValueError(f"{name} is not contiguous")
    if not flags.aligned:
        return ValueError(f"{name} is not aligned")
    return ValueError(f"{name} is read-only but is updated in place")


class Many:
    """``<rule>_many(params, grads, *state_lists, *scalars, *switches, n_threads)``: one
    step of the rule on many separate 1-D arrays of one dtype, in one call (the twin of
    the Cython ``<rule>_many``, with its checks and messages).

    ``params[i]``, ``grads[i]`` and the states' ``[i]`` are the arguments of ``<rule>``
    for array ``i``; the scalars and switches are shared.  Every array is checked before
    anything is written; the elements are then updated on ``n_threads`` threads as if the
    arrays were one laid end to end (each as ``<rule>`` updates it: the same bits).

    ``range_fn(ptrs, starts, like, rest, lo, hi)`` is the rule's walk of ``[lo, hi)``
    (:func:`many_range` on its ``serial`` loop), ``parallel_fn`` its ``prange`` driver over
    ``n_chunks`` chunks (with a pooled twin); ``states`` names the state arguments,
    ``optional`` maps an optional state to the condition (a Python expression of the
    scalars and switches, scalars rounded to the dtype: as in the Cython template) under
    which it is used; ``switches`` names the trailing boolean arguments.
    """

    def __init__(self, name, range_fn, parallel_fn, serial_fn, states, switches=(),
                 optional=None):
        import inspect
        self.__name__ = self.__qualname__ = name
        self.range_fn, self.parallel_fn = range_fn, parallel_fn
        self.states = tuple(states)
        names = list(inspect.signature(serial_fn.py_func).parameters)[2 + len(self.states):]
        self.switches = tuple(switches)
        self.scalars = tuple(names[:len(names) - len(self.switches)])
        assert tuple(names[len(self.scalars):]) == self.switches, (name, names)
        self.conditions = tuple(self._condition(name, state, (optional or {}).get(state))
                                for state in self.states)
        self.serial_fn = serial_fn
        _MANY_RANGE[serial_fn] = range_fn
        # The positions in ``(*scalars, *switches)`` of those the conditions read.
        read = set().union(*(compile(c, name, "eval").co_names
                             for c in (optional or {}).values()))
        self.condition_inputs = tuple(j for j, s in enumerate(self.scalars + self.switches)
                                      if s in read)

    def _condition(self, name, state, condition):
        """``used(t, *scalars, *switches)`` for the optional ``state`` (None: always used):
        ``condition`` with the scalars it names rounded by the dtype's type ``t``."""
        if condition is None:
            return None
        code = compile(condition, f"<{name}: {state}>", "eval")
        rounded = "".join(f"    {s} = t({s})\n" for s in self.scalars if s in code.co_names)
        src = (f"def used(t, {', '.join(self.scalars + self.switches)}):\n{rounded}"
               f"    return bool({condition})\n")
        scope = {}
        exec(compile(src, f"<{name}: {state}>", "exec"), scope)
        return scope["used"]

    def _used(self, dtype, rest):
        """Which states the options use (each optional state's condition)."""
        t = dtype.type
        return tuple(True if used is None else used(t, *rest) for used in self.conditions)

    def _rest(self, args):
        """The scalars as floats and the switches as bools (as the Cython signature types
        them), or the TypeError."""
        n = len(self.scalars)
        if len(args) != n + len(self.switches):
            raise TypeError(f"{self.__name__}() takes {n} scalars and {len(self.switches)} "
                            f"switches after the {len(self.states)} state lists, got "
                            f"{len(args)}")
        for name, x in zip(self.scalars, args[:n]):
            if isinstance(x, (str, bytes, bytearray)):  # (float() would parse it)
                raise TypeError(f"{self.__name__}(): {name} must be a real number, not "
                                f"{type(x).__name__}")
        return tuple(float(x) for x in args[:n]) + tuple(bool(x) for x in args[n:])

    def check(self, params, grads, lists, rest, n_threads):
        """The checks of the Cython ``<rule>_many``: ``(table, starts, used)``, with the
        table of data addresses ``(2 + states, k)`` and ``starts`` (int64), or ``None`` for
        no arrays; raises before anything is written."""
        if n_threads < 1:
            raise ValueError(f"n_threads must be >= 1, got {n_threads}")
        for name, seq in (("params", params), ("grads", grads),
                          *zip(self.states, lists)):
            if type(seq) is not list:
                raise TypeError(f"Argument '{name}' has incorrect type (expected list, "
                                f"got {type(seq).__name__})")
        k = len(params)
        for name, seq in (("grads", grads), *zip(self.states, lists)):
            if len(seq) != k:
                raise ValueError(f"{name} has {len(seq)} arrays, params has {k}")
        if k == 0:
            return None
        for i, p in enumerate(params):
            if not isinstance(p, np.ndarray):
                raise TypeError(f"params[{i}] must be a NumPy array")
        dtype = params[0].dtype
        used = self._used(dtype if dtype in _FLOATS else _FLOATS[1], rest)
        table = np.zeros((2 + len(self.states), k), np.int64)
        starts = np.empty(k + 1, np.int64)
        starts[0] = total = 0
        for i, p in enumerate(params):
            if p.ndim != 1:
                raise ValueError(f"params[{i}] must be 1-D, got {p.ndim} dimensions")
            if p.dtype not in _FLOATS:
                raise TypeError(f"params[{i}] must be float32 or float64, got {p.dtype}")
            if p.dtype != dtype:
                raise ValueError(f"params[{i}] has dtype {p.dtype}, expected {dtype} like "
                                 f"params[0]")
            n = p.shape[0]
            arrays = [(p, True, f"params[{i}]", False), (grads[i], False, f"grads[{i}]", False)]
            arrays += [(seq[i], True, f"{s}[{i}]", c is not None) if u else None
                       for s, seq, u, c in zip(self.states, lists, used, self.conditions)]
            for row, item in enumerate(arrays):
                if item is None:
                    continue
                error = _bad_array(item[0], dtype, n, *item[1:])
                if error is not None:
                    raise error
                table[row, i] = address(item[0])
            total += n
            starts[i + 1] = total
        self._refuse_overlaps(table, starts, dtype.itemsize, used)
        return table, starts, used

    def _refuse_overlaps(self, table, starts, itemsize, used):
        """Refuse a written array (a parameter, a used state) that shares memory with
        another array of the call (gradients may share memory with each other)."""
        rows = [r for r in range(table.shape[0]) if r < 2 or used[r - 2]]
        sizes = np.diff(starts) * itemsize
        lows, highs, written, where = [], [], [], []
        for r in rows:
            for i in np.flatnonzero(sizes).tolist():
                lows.append(int(table[r, i]))
                highs.append(int(table[r, i] + sizes[i]))
                written.append(r != 1)
                where.append((r, i))
        pair = _validation.first_overlap(lows, highs, written)
        if pair is not None:
            names = ("params", "grads") + self.states
            (r, i), (s, j) = where[pair[0]], where[pair[1]]
            raise ValueError(f"{names[s]}[{j}] shares memory with {names[r]}[{i}]; every "
                             f"array of the call must be a separate array")

    def __call__(self, params, grads, *args):
        m = len(self.states)
        if len(args) < m + 1:
            raise TypeError(f"{self.__name__}() takes params, grads, {m} state lists, the "
                            f"scalars, the switches and n_threads")
        lists, rest, n_threads = args[:m], self._rest(args[m:-1]), args[-1]
        checked = self.check(params, grads, lists, rest, n_threads)
        if checked is not None:
            table, starts, _ = checked
            self.run(tuple(table), starts, params[0], rest, n_threads)

    def run(self, ptrs, starts, like, rest, n_threads):
        """The compiled walk of the checked arrays (on the pool when ``n_threads > 1``),
        with the scalars rounded to the arrays' dtype first, as the Cython kernels cast
        them (the options, and so the arrays the walk touches, follow the rounded values)."""
        n = len(self.scalars)
        rest = tuple(np.array(rest[:n], like.dtype).tolist()) + rest[n:]
        total = int(starts[-1])
        if n_threads == 1 or total <= CHUNK_ALIGN:
            self.range_fn(ptrs, starts, like, rest, 0, total)
        else:
            call_parallel(self.parallel_fn, ptrs, starts, like, rest, n_chunks(n_threads, total))

    def prepare(self, params, *lists):
        """A callable with this signature for stepping the same arrays again (the
        optimizer's replayed steps): the arrays other than the gradients are checked
        at its first call and their addresses kept (with references to them); at each
        call the gradients get the checks again if they are other objects (and the lists
        must be the same objects, the options use the same states), else it runs the
        full call; lists that hold other arrays than those checked are checked again in
        full.  The walk then runs from C, without numba's dispatcher (see
        :class:`_PreparedMany`)."""
        return _PreparedMany(self, params, lists)


def _holds(params, lists, held):
    """Whether ``params`` and the state ``lists`` hold the arrays ``held`` (a tuple per
    list: the arrays in order) still: an entry replaced, added or removed since leaves a
    table of addresses that no longer describes them."""
    return len(lists) + 1 == len(held) and _same_items(params, held[0]) and all(
        map(_same_items, lists, held[1:]))


def _written_spans(table, starts, itemsize, used):
    """``(lows, highs, nbytes)`` of a checked table: the memory ranges ``[lows[j],
    highs[j])`` of its non-empty written arrays (parameters, used states), sorted (they are
    disjoint: checked), and each array's size in bytes (int64 arrays)."""
    nbytes = np.diff(starts) * itemsize
    rows = [r for r in range(table.shape[0]) if r != 1 and (r == 0 or used[r - 2])]
    lows = table[rows][:, nbytes > 0].ravel()
    highs = (table[rows] + nbytes)[:, nbytes > 0].ravel()
    order = np.argsort(lows, kind="stable")
    return lows[order], highs[order], nbytes


def _overlaps(addresses, lows, highs, nbytes):
    """Whether an array of ``nbytes[i]`` bytes at ``addresses[i]`` (one per array of the
    call: the new gradients) shares memory with a written array (see
    :func:`_written_spans`)."""
    j = np.searchsorted(lows, addresses + nbytes) - 1  # the last range starting before its end
    return bool(np.any((j >= 0) & (highs[j] > addresses) & (nbytes > 0))) if lows.size else False


class _PreparedMany:
    """:meth:`Many.prepare`'s callable.

    Its first call (and any call after the gradients, the options or the arrays the
    lists hold changed) checks as before and keeps the checked table, with references to
    the arrays whose addresses it holds; with it, an entry to the C functions that run
    the walk on these addresses (:func:`c_function` on the separate-arrays layout,
    compiled into ``<rule>_address``'s library and cached with it, called through
    ``ctypes`` with the GIL released): the next calls with the same lists holding the
    same arrays, the same gradient objects and the same options pack the scalars and
    switches and call that function, on one thread or on fastopt's pool, without numba's
    dispatcher (which types and unboxes the table's rows and the scalars at every call)
    or any per-array Python but the identity checks.  New gradient objects get the
    checks of the full call (layout, and no memory shared with a written array).  The
    same compiled walk on the same addresses: the same bits."""

    def __init__(self, many, params, lists):
        self.many, self.params, self.lists = many, params, lists
        # (ptrs, starts, used, grads seen, sizes, arrays held, written spans)
        self.checked = None
        self.entry = None    # the _ManyEntry for self.checked (None: none)

    def __call__(self, params, grads, *args):
        entry = self.entry
        if (entry is not None and params is self.params and type(grads) is list
                and len(args) == entry.n_args and len(grads) == entry.k
                and all(map(_is, args, self.lists))
                and _same_items(grads, entry.checked[3])
                and _holds(params, args[:len(self.lists)], entry.checked[5])
                and entry.key_of(args) == entry.key and entry(args)):
            return None
        many = self.many
        m = len(many.states)
        if (params is not self.params or type(grads) is not list or len(args) < m + 1
                or len(grads) != len(params) or not params
                or not all(map(_is, args[:m], self.lists))):
            return many(params, grads, *args)
        rest, n_threads = many._rest(args[m:-1]), args[-1]
        like = params[0]
        checked = self.checked
        if (checked is None or not _holds(params, args[:m], checked[5])
                or many._used(like.dtype, rest) != checked[2]):
            table, starts, used = many.check(params, grads, list(args[:m]), rest, n_threads)
            held = tuple(map(tuple, (params,) + args[:m]))
            checked = self.checked = (tuple(table), starts, used, tuple(grads),
                                      np.diff(starts).tolist(), held,
                                      _written_spans(table, starts, like.itemsize, used))
            self.entry = None
        elif n_threads < 1:
            raise ValueError(f"n_threads must be >= 1, got {n_threads}")
        elif not _same_items(grads, checked[3]):
            row = []
            for g, n in zip(grads, checked[4]):
                if type(g) is not np.ndarray:
                    return many(params, grads, *args)
                row.append(grad_address(g, like, n))
            row = np.array(row, np.int64)
            if row.min() < 0 or _overlaps(row, *checked[6]):
                return many(params, grads, *args)  # (which says what is wrong)
            ptrs = checked[0]
            checked = self.checked = ((ptrs[0], row) + ptrs[2:],
                                      *checked[1:3], tuple(grads), *checked[4:])
            self.entry = None
        entry = self.entry
        if entry is None or entry.checked is not checked:
            entry = self.entry = _ManyEntry.make(many, checked, like, args)
        if entry is None or not entry(args):
            many.run(checked[0], checked[1], like, rest, n_threads)
        return None


_C_ENTRY = ctypes.CFUNCTYPE(None, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                            ctypes.c_char_p)


class _ManyEntry:
    """The C functions of a :class:`Many` for one checked table (see :class:`_PreparedMany`):
    ``entry(args)`` (the arguments after ``params, grads``) runs the walk and returns
    True, or returns False having done nothing (scalars that are not numbers,
    ``n_threads`` not an int >= 1, no C function for the call: without the pool, on
    more threads): the caller's full path then runs, with its checks and messages.  Each
    C function (on one thread, on the pool) is compiled when a call first needs it."""

    #: ``{(many, dtype, pooled): the ctypes function, or None}``.
    functions = {}

    def __init__(self, many, checked, like, args):
        ptrs, starts, used, grads = checked[:4]
        m, n_scalars = len(many.states), len(many.scalars)
        self.many, self.dtype = many, like.dtype
        self.ptrs, self.starts = ptrs, starts  # (kept alive: their addresses are in data)
        # What it was made for (the arrays of its addresses kept alive; the caller compares
        # a call's arrays with those, not with its own ``checked``, which a call on another
        # thread may have renewed since).
        self.checked = checked
        self.k, self.n_args = len(grads), len(args)
        self.total = int(starts[-1])
        self.data = struct.pack(f"{len(ptrs) + 2}q", *(a.ctypes.data for a in ptrs),
                                starts.ctypes.data, like.ctypes.data)
        self.sizes = struct.pack(f"{len(ptrs) + 2}q", *(a.size for a in ptrs), starts.size, 0)
        self.floats = struct.Struct(f"{n_scalars}d").pack
        self.flags = struct.Struct(f"{len(many.switches)}?").pack
        self.pair = struct.Struct("2q").pack
        self.first, self.middle = m, m + n_scalars
        positions = [m + j for j in many.condition_inputs]
        self.key_of = (operator.itemgetter(*positions) if positions
                       else lambda args: None)
        self.key = self.key_of(args)

    @classmethod
    def make(cls, many, checked, like, args):
        """The entry for ``checked`` (``like``: the arrays' dtype), or None where there can
        be no C function (the JIT disabled, no ``<rule>_address``)."""
        if _ADDRESS.get(many.serial_fn) is None or not hasattr(many.serial_fn, "overloads"):
            return None
        return cls(many, checked, like, args)

    @classmethod
    def function(cls, many, dtype, pooled):
        """The ctypes function of the walk (on the pool if ``pooled``), compiled on first
        use (None where compiling failed: a RuntimeWarning says why)."""
        key = (many, dtype, pooled)
        fn = cls.functions.get(key, False)
        if fn is not False:
            return fn
        rows = tuple(np.empty(0, np.int64) for _ in range(2 + len(many.states)))
        rest = (0.0,) * len(many.scalars) + (False,) * len(many.switches)
        args = (rows, np.empty(0, np.int64), np.empty(0, dtype), rest)
        try:
            fn = _C_ENTRY(_ADDRESS[many.serial_fn](args + (((0, 0),) if pooled else ())))
        except Exception as e:  # noqa: BLE001 (numba's errors have no common base)
            fn = None
            warnings.warn(f"{many.__name__}: no C function{' on the pool' if pooled else ''}"
                          f" ({type(e).__name__}: {e}); the prepared call runs the "
                          f"compiled walk through numba's dispatcher", RuntimeWarning)
        cls.functions[key] = fn
        return fn

    def __call__(self, args):
        n_threads = args[-1]
        if type(n_threads) is not int or n_threads < 1:
            return False
        try:
            floats = self.floats(*args[self.first:self.middle])
        except struct.error:
            return False
        flags = self.flags(*args[self.middle:-1])
        if n_threads == 1 or self.total <= CHUNK_ALIGN:
            fn = self.function(self.many, self.dtype, False)
            if fn is None:
                return False
            fn(self.data, self.sizes, floats, flags)
        else:
            fn = POOL_RUN and self.function(self.many, self.dtype, True)
            if not fn:
                return False
            fn(self.data, self.sizes + self.pair(n_chunks(n_threads, self.total), POOL_RUN),
               floats, flags)
        return True
