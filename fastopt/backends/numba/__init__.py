"""The numba backend: one module per algorithm, compiled on first use and cached on disk.

Importing this package does not import numba; importing one of its modules does
(:func:`fastopt._backend.kernel` imports them lazily).  All numba flags live in
:mod:`fastopt.backends.numba._jit`.

Each module ``<algorithm>`` mirrors :mod:`fastopt.backends.python.<algorithm>` and holds:

``<algorithm>(..., n_threads)``
    the kernel of the contract of :mod:`fastopt.backends` (what the optimizers call):
    :func:`<algorithm>_serial` when ``n_threads == 1`` (or fewer than two elements),
    else :func:`<algorithm>_parallel` on ``min(n_threads, param.size)`` chunks.
``<algorithm>_serial(...)``
    the same arguments without ``n_threads``: one vectorized loop in the calling
    thread, with the GIL released.  It can be called from users' own ``@njit`` code,
    e.g. on the rows of 2-D arrays that a sparse gradient touches.
``<algorithm>_parallel(..., n_chunks)``
    ``prange`` over ``n_chunks`` contiguous chunks, each one a ``_serial`` call.
``<algorithm>_element(...)``
    the update of one element (scalars in the arrays' dtype, new values returned):
    the equations of the reference kernel, in its order of operations.  The loops
    are built from it, and users' ``@njit`` code can call it too.

Every kernel reproduces the reference bit for bit, for any ``n_threads``.
"""
