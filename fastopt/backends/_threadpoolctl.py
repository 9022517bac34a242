"""fastopt's threads as a threadpoolctl library (``threadpoolctl >= 3.5``).

scikit-learn and joblib users limit every native thread pool with
``threadpoolctl.threadpool_limits``; this controller makes fastopt one of them::

    from threadpoolctl import threadpool_limits, threadpool_info
    with threadpool_limits(1):            # or limits={"fastopt": 1}
        opt.step(grad)                    # fastopt runs on one thread here

threadpoolctl finds a controller through a loaded shared library: fastopt's is the
thread pool of the Cython kernels (``fastopt.backends.cython._pool``, which exports
``fastopt_pool_helpers``), so this works when the Cython backend is built.  The limit
is fastopt's thread count (:func:`fastopt.set_num_threads`), the one both compiled
backends use.
"""
import importlib
import importlib.metadata

from . import _dispatch

_registered = False


def register():
    """Register the controller with threadpoolctl if both are available; idempotent.

    Returns whether fastopt is registered (False without threadpoolctl >= 3.5 or
    without the Cython backend).
    """
    global _registered
    if _registered:
        return True
    try:
        import threadpoolctl
    except ImportError:
        return False
    if not hasattr(threadpoolctl, "register") or not _dispatch.is_available("cython"):
        return False
    importlib.import_module("fastopt.backends.cython._pool")  # load the library it finds

    class FastoptController(threadpoolctl.LibController):
        """fastopt's kernels: ``num_threads`` is :func:`fastopt.get_num_threads`."""

        user_api = "fastopt"
        internal_api = "fastopt"
        filename_prefixes = ("_pool.",)
        check_symbols = ("fastopt_pool_helpers",)

        def get_num_threads(self):
            return _dispatch.get_num_threads()

        def set_num_threads(self, num_threads):
            _dispatch.set_num_threads(int(num_threads))

        def get_version(self):
            try:
                return importlib.metadata.version("fastopt")
            except importlib.metadata.PackageNotFoundError:
                return None

    threadpoolctl.register(FastoptController)
    _registered = True
    return True
