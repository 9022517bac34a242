"""Build facts of the compiled Cython backend.

Importing this module is how :mod:`fastopt.backends._dispatch` tells whether the Cython
backend was built.
"""


cdef extern from "fastopt_omp.h":
    int FASTOPT_OPENMP
    const char* FASTOPT_COMPILE_ARGS
    const char* FASTOPT_CYTHON_VERSION
    int FASTOPT_DEBUG_CHECKS
    int omp_get_max_threads() noexcept nogil
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
