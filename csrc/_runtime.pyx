"""Build facts of the compiled Cython backend.

Importing this module is how :mod:`fastopt.backends._dispatch` tells whether the Cython
backend was built.
"""
from cython.parallel cimport prange
from libc.stdlib cimport free, malloc


cdef extern from "fastopt_omp.h":
    int FASTOPT_OPENMP
    const char* FASTOPT_COMPILE_ARGS
    const char* FASTOPT_CYTHON_VERSION
    int FASTOPT_DEBUG_CHECKS
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil
    int omp_get_num_procs() noexcept nogil


def openmp_enabled():
    """Whether the kernels were compiled with OpenMP (else ``n_threads`` chunks run serially)."""
    return bool(FASTOPT_OPENMP)


def openmp_max_threads():
    """``omp_get_max_threads()``: OpenMP's default team size (1 without OpenMP)."""
    return omp_get_max_threads()


def openmp_num_procs():
    """``omp_get_num_procs()``: processors available to OpenMP (1 without OpenMP)."""
    return omp_get_num_procs()


def chunk_threads(int n_chunks):
    """The OpenMP thread number that ran each of ``n_chunks`` chunks, as a list.

    The chunks go through the loop every kernel uses for ``n_threads > 1``
    (``prange(n_chunks, num_threads=n_chunks, schedule="static")``), so with OpenMP
    the answer is ``[0, 1, ..., n_chunks - 1]``: one thread per chunk.  A build
    without OpenMP runs them all on thread 0.  For tests and support questions.
    """
    if n_chunks < 1:
        raise ValueError(f"n_chunks must be >= 1, got {n_chunks}")
    cdef int* who = <int*>malloc(n_chunks * sizeof(int))
    cdef int c
    if who == NULL:
        raise MemoryError()
    try:
        with nogil:
            for c in prange(n_chunks, num_threads=n_chunks, schedule="static"):
                who[c] = omp_get_thread_num()
        return [who[c] for c in range(n_chunks)]
    finally:
        free(who)


def compile_args():
    """The extra compiler flags the kernels were built with, as a tuple of strings."""
    return tuple(FASTOPT_COMPILE_ARGS.decode().split())


def cython_version():
    """The version of Cython that generated the C sources."""
    return FASTOPT_CYTHON_VERSION.decode()


def debug_checks():
    """Whether the build had ``FASTOPT_DEBUG_CHECKS=1`` (Cython bounds/wraparound checks on)."""
    return bool(FASTOPT_DEBUG_CHECKS)


def build_info():
    """All of the above, as a dict."""
    return {
        "openmp": openmp_enabled(),
        "openmp_max_threads": openmp_max_threads(),
        "compile_args": compile_args(),
        "cython_version": cython_version(),
        "debug_checks": debug_checks(),
    }
