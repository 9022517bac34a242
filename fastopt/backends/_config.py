"""``fastopt.show_config()``: which compiled paths this installation runs."""
import importlib.metadata
import platform

from . import _dispatch


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def config():
    """The configuration as a dict (what :func:`show_config` prints)."""
    import numpy as np

    info = {
        "fastopt": _version("fastopt"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": _version("numba"),
        "machine": platform.machine(),
        "available_backends": _dispatch.available_backends(),
        "backend": _dispatch.get_backend(),
        "num_threads": _dispatch.get_num_threads(),
        "parallel_threshold": _dispatch.PARALLEL_THRESHOLD,
        "cython": None,
    }
    if _dispatch.is_available("cython"):
        from .cython import _runtime
        info["cython"] = _runtime.build_info()
        info["cython"]["variant"] = _dispatch.cython_variant()
        from .cython import _pool
        info["cython"]["pool"] = _pool.info()
    return info


def show_config():
    """Print the backends, threads and build options in use; return them as a dict.

    Returns:
        dict with ``"fastopt"``, ``"python"``, ``"numpy"``, ``"numba"`` (versions, str;
        ``numba`` None if not installed), ``"machine"``, ``"available_backends"``
        (list), ``"backend"`` (in use), ``"num_threads"`` (int),
        ``"parallel_threshold"`` (int, elements) and ``"cython"`` (None if the
        extension is not built, else a dict: ``compile_args``, ``variant``
        (``"x86_64_v3"`` or ``"baseline"``), ``openmp``, ``openmp_max_threads``,
        ``debug_checks``)."""
    info = config()
    cy = info["cython"]
    lines = [
        f"fastopt {info['fastopt']}  (python {info['python']}, numpy {info['numpy']}, "
        f"{info['machine']})",
        f"  backend in use:      {info['backend']}  (available: "
        f"{', '.join(info['available_backends'])})",
        f"  threads:             {info['num_threads']}  (arrays under "
        f"{info['parallel_threshold']:,} elements use 1)",
        f"  numba:               {info['numba'] or 'not installed'}",
    ]
    if cy is None:
        lines.append("  cython extension:    not built")
    else:
        args = cy["compile_args"]
        args = " ".join(args) if isinstance(args, (list, tuple)) else str(args)
        lines.append(f"  cython extension:    built with {args}"
                     f"{' (bounds checks ON)' if cy.get('debug_checks') else ''}")
        lines.append(f"  cython kernels:      "
                     f"{'x86-64-v3 build (AVX2)' if cy['variant'] == 'x86_64_v3' else 'baseline build'}")
        pool = cy["pool"]
        lines.append(f"  cython threads:      "
                     + (f"fastopt pool (pthreads; {pool['helpers']} helpers started, idle "
                        f"spin {pool['spin_us']} us, {pool['quiet_spin_us']} us while quiet)"
                        if pool["threads"] else "serial build"))
    print("\n".join(lines))
    return info
