"""Backend selection and thread control, shared by every optimizer.

Nothing backend-specific lives above this module: an optimizer asks
:func:`kernel` for ``(backend, algorithm)`` and calls what it gets with the
positional kernel signature of :mod:`fastopt.backends`.
"""
import contextlib
import importlib
import importlib.util
import os
import threading

from ._families import ALGORITHMS, WHOLE_ARRAY_RULES

BACKENDS = ("python", "numba", "cython")
_FASTEST_FIRST = ("cython", "numba", "python")

#: Parameters with fewer elements than this are updated on one thread: below
#: it, waking a second thread costs more than it saves (measured in ``bench``).
PARALLEL_THRESHOLD = 100_000

_HOW_TO_GET = {
    "cython": ("the compiled extension fastopt.backends.cython was not built; reinstall "
               "fastopt from source with a C compiler: pip install -e . (see README)"),
    "numba": "numba is not installed; pip install numba",
}
_NUMBA_JIT_OFF = ("NUMBA_DISABLE_JIT is set: numba runs its functions as plain Python, which "
                  "the numba kernels (compiled C entry points, thread pool) cannot; unset it")


def _numba_jit_disabled():
    """numba's own switch (``numba.config.DISABLE_JIT``), read as numba reads it."""
    value = os.environ.get("NUMBA_DISABLE_JIT", "0").strip()
    try:
        return bool(int(value))
    except ValueError:
        return bool(value)

_available = {}
_kernels = {}
_local = threading.local()
_global_backend = None
_num_threads = None
#: Incremented by every change of the backend selection (any thread), so that
#: optimizers can cache the kernel they resolved.
selection_version = 0


def _probe(name):
    if name == "python":
        return True
    if name == "numba":
        return importlib.util.find_spec("numba") is not None and not _numba_jit_disabled()
    if name == "cython":
        try:
            importlib.import_module("fastopt.backends.cython._runtime")
        except ImportError:
            return False
        return True
    return False


def is_available(name):
    """Whether backend ``name`` can run on this machine."""
    if name not in _available:
        _available[name] = _probe(name)
    return _available[name]


def available_backends():
    """The names of the backends that work here, fastest first.

    Returns:
        A list of str, a subset of ``["cython", "numba", "python"]`` in that order;
        ``"python"`` (the NumPy reference) is always there, ``"cython"`` when the
        extension was built, ``"numba"`` when numba is installed and its JIT is not
        switched off (``NUMBA_DISABLE_JIT``).
    """
    return [name for name in _FASTEST_FIRST if is_available(name)]


def check_backend(name):
    """Return ``name`` if it is a usable backend, else raise ``ValueError``/``RuntimeError``."""
    if name not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r}")
    if not is_available(name):
        why = _NUMBA_JIT_OFF if name == "numba" and _numba_jit_disabled() else _HOW_TO_GET[name]
        raise RuntimeError(f"backend {name!r} is not available: {why}")
    return name


def _default_backend():
    env = os.environ.get("FASTOPT_BACKEND")
    if env:
        return check_backend(env.strip().lower())
    return available_backends()[0]


def get_backend():
    """The backend used by optimizers that were not given ``backend=``.

    Returns:
        str: this thread's :func:`use_backend` choice, else the :func:`set_backend`
        choice, else ``$FASTOPT_BACKEND``, else the first of
        :func:`available_backends`.
    """
    override = getattr(_local, "stack", None)
    if override:
        return override[-1]
    global _global_backend
    if _global_backend is None:
        _global_backend = _default_backend()
    return _global_backend


def set_backend(name):
    """Select the backend for every optimizer without its own ``backend=``.

    Args:
        name: ``"python"``, ``"numba"``, ``"cython"``, or ``None`` to restore the
            default: ``$FASTOPT_BACKEND`` if set, else the fastest available.

    Raises:
        ValueError: an unknown name.
        RuntimeError: a backend that is not available here (e.g. ``"cython"`` when
            the extension was not built); the message says how to get it.
    """
    global _global_backend, selection_version
    _global_backend = None if name is None else check_backend(name)
    selection_version += 1


@contextlib.contextmanager
def use_backend(name):
    """Context manager: use backend ``name`` in this thread inside the ``with`` block.

    Optimizers created with their own ``backend=`` keep it.  Other threads are not
    affected; the previous choice is restored on exit.  Raises as :func:`set_backend`.
    Example::

        with fastopt.use_backend("python"):     # the reference, e.g. to compare
            opt.step(grads)
    """
    global selection_version
    check_backend(name)
    stack = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    stack.append(name)
    selection_version += 1
    try:
        yield name
    finally:
        stack.pop()
        selection_version += 1


_cython_variant = None


def cython_variant():
    """The build of the Cython kernels in use: ``"x86_64_v3"`` or ``"baseline"``.

    The x86-64-v3 (AVX2) build is used when it was built and this CPU supports
    it, unless ``FASTOPT_CPU=baseline``.  Both give the same bits.
    """
    global _cython_variant
    if _cython_variant is None:
        _cython_variant = "baseline"
        if os.environ.get("FASTOPT_CPU", "").strip().lower() != "baseline":
            try:
                from .cython import _cpu
                importlib.import_module("fastopt.backends.cython.x86_64_v3.adam")
                if _cpu.supports_x86_64_v3():
                    _cython_variant = "x86_64_v3"
            except ImportError:
                pass
    return _cython_variant


def _module_of(name):
    for algorithm in sorted(ALGORITHMS + WHOLE_ARRAY_RULES, key=len, reverse=True):
        if name == algorithm or name.startswith(algorithm + "_"):
            return algorithm
    return name.split("_")[0]


def kernel(backend, name, module=None):
    """The kernel function ``name`` of ``backend`` (imported once, then cached).

    A kernel lives in ``fastopt.backends.<backend>.<module>``; by default the module
    is the algorithm (:data:`fastopt.backends.ALGORITHMS`, ``WHOLE_ARRAY_RULES``) the name
    starts with, else
    the name's first word: ``"adam"`` and ``"adam_sparse"`` are in ``adam``,
    ``"sparse_adam_sparse"`` in ``sparse_adam``.
    """
    key = (backend, name)
    fn = _kernels.get(key)
    if fn is None:
        check_backend(backend)
        module = module or _module_of(name)
        package = f"fastopt.backends.{backend}"
        if backend == "cython" and cython_variant() != "baseline":
            package += "." + cython_variant()
        fn = getattr(importlib.import_module(f"{package}.{module}"), name)
        _kernels[key] = fn
    return fn


def _default_num_threads():
    env = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def get_num_threads():
    """Threads the compiled backends use for large arrays (default: ``$OMP_NUM_THREADS`` or the cores).

    Returns:
        int >= 1.  Arrays under ``PARALLEL_THRESHOLD`` (100,000) elements always run
        on one thread; the result never depends on the thread count.
    """
    global _num_threads
    if _num_threads is None:
        _num_threads = _default_num_threads()
    return _num_threads


def set_num_threads(n):
    """Set the number of threads of both compiled backends; ``None`` restores the default.

    Args:
        n: a positive int, or None (``$OMP_NUM_THREADS``, else the cores this process
            may use).

    Raises:
        ValueError: ``n`` is not a positive integer.
    """
    global _num_threads
    if n is None:
        _num_threads = None
        return
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    _num_threads = n


def threads_for(size):
    """Threads (chunks) for one kernel call on ``size`` elements."""
    if size < PARALLEL_THRESHOLD:
        return 1
    return get_num_threads()
