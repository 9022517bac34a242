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

Caveat: numba invalidates a cached function when *its own* source file changes,
not when a function it calls (in another file) does.  After editing this module
(a flag, :func:`maximum`, :func:`chunk`), delete
``fastopt/backends/numba/__pycache__/*.nb[ic]``.
"""
import numba

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


def parallel(fn):
    """Compile a ``prange`` driver over contiguous chunks."""
    return numba.njit(parallel=True, **dict(FLAGS, cache=PARALLEL_CACHE))(fn)


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
    at most ``n_chunks`` numba threads.

    Without this, numba would wake all its ``NUMBA_NUM_THREADS`` threads for every call,
    most of them to find no chunk to process.  ``numba.set_num_threads`` is thread-local
    (Python threads running kernels concurrently do not interfere) and is restored
    afterwards.  It is called here rather than in the jitted code: calling it there makes
    the function uncachable ("uses dynamic globals").
    """
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
    """Chunks for ``n_threads`` threads on ``n`` elements (1 means: run serially)."""
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
