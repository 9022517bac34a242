"""The numba backend: one module per algorithm, compiled on first use and cached on disk.

Importing this package does not import numba; importing one of its modules does
(:func:`fastopt._dispatch.kernel` imports them lazily).  All numba flags live in
:mod:`fastopt.backends.numba._jit`.

Each module ``<algorithm>`` mirrors :mod:`fastopt.backends.python.<algorithm>` and holds:

``<algorithm>(..., n_threads)``
    the kernel of the contract of :mod:`fastopt.backends` (what the optimizers call):
    :func:`<algorithm>_serial` when ``n_threads == 1`` (or fewer than two elements),
    else :func:`<algorithm>_parallel` on ``min(n_threads, param.size)`` chunks.
    Its ``prepare(param, states)`` (:func:`fastopt.backends.numba._jit.prepare`) gives the
    call that the optimizer's plan replays: the same signature, for those arrays straight
    to the compiled loop, on one thread or on fastopt's pool (no dispatcher, nothing
    unboxed: see ``<algorithm>_address``).
``<algorithm>_address(args)``
    the address of a C function that runs ``<algorithm>_serial`` on arguments of the
    types of the tuple ``args`` (arrays from data pointers and sizes, floats, bools:
    :func:`fastopt.backends.numba._jit.c_function`), or, if ``args`` ends with the pair
    ``(n_threads, run)``, runs it on fastopt's pool as ``<algorithm>_pooled`` does; the
    prepared call calls them from C.  Compiled and cached like the loops (one per dtype).
    On the separate-arrays layout ``(ptrs, starts, like, rest)`` it gives the C function
    of ``<algorithm>_many_range`` on all the elements (or, with ``(n_threads, run)``, of
    ``<algorithm>_many_pooled``): what ``<algorithm>_many.prepare``'s call runs.
``<algorithm>_serial(...)``
    the same arguments without ``n_threads``: one vectorized loop in the calling
    thread, with the GIL released.  It can be called from users' own ``@njit`` code,
    e.g. on the rows of 2-D arrays that a sparse gradient touches.
``<algorithm>_parallel(..., n_chunks)``
    ``prange`` over ``n_chunks`` contiguous chunks, each one a ``_serial`` call: the
    fallback when the Cython extension (whose thread pool the twin uses) is not built.
``<algorithm>_pooled(..., n_threads, run)``
    its twin on fastopt's thread pool (what ``n_threads > 1`` runs; see "The pool" in
    :mod:`fastopt.backends.numba._jit`): chunks of the ``_serial`` loop, claimed by the
    calling thread and the pool's helpers, so a descheduled helper never stalls a step.
``<algorithm>_element(...)``
    the update of one element (scalars in the arrays' dtype, new values returned):
    the equations of the reference kernel, in its order of operations.  The loops
    are built from it, and users' ``@njit`` code can call it too.

``<algorithm>_many(params, grads, *state_lists, *scalars, n_threads)``
    many separate arrays in one call (see "Many arrays" in :mod:`fastopt.backends`): a
    :class:`fastopt.backends.numba._jit.Many` built from ``<algorithm>_many_range`` (the
    walk of a range of the arrays laid end to end, through ``<algorithm>_serial``),
    ``<algorithm>_many_parallel`` and its twin ``<algorithm>_many_pooled``;

and, for the sparse row kernels (see "Sparse row kernels" in :mod:`fastopt.backends`):

``<algorithm>_sparse(param, indices, values, *state, *scalars, slots, rows, coalesced,
n_threads)``
    the sparse kernel of the contract: flattens the state arrays (views) and calls
    :func:`<algorithm>_sparse_serial` when ``n_threads == 1`` (or fewer than two
    indices), else :func:`<algorithm>_sparse_parallel` on ``min(n_threads, k)`` chunks;
``<algorithm>_sparse_serial`` / ``<algorithm>_sparse_parallel(..., n_chunks)``
    :func:`fastopt.backends.numba._sparse.coalesce` (sequential, slot map), then
    ``<algorithm>_rows`` on all the distinct rows, or on ``n_chunks`` contiguous chunks
    of them in ``prange`` (``<algorithm>_sparse_pooled``: on chunks of them on fastopt's
    pool), then :func:`fastopt.backends.numba._sparse.release`;
``<algorithm>_rows(param, grad, *state, rows, lo, hi, *scalars)``
    ``<algorithm>_serial`` on the rows ``rows[lo:hi]`` (njit-callable), through row
    views of its arrays made :func:`fastopt.backends.numba._sparse.unowned` first (a
    view passed to a call numba does not inline otherwise costs two atomic reference
    count updates of its owner per row, which two threads fight over).

:mod:`fastopt.backends.numba.adagrad` also has the row-wise Adagrad kernels
``adagrad_rowwise`` (dense, 2-D) and ``adagrad_rowwise_sparse``, built the same way
from ``adagrad_rowwise_row`` (one row: sequential sum of squares, then the update).

:mod:`fastopt.backends.numba.adafactor` is built differently (its step is reductions, see
"Whole-array kernels" in :mod:`fastopt.backends`): ``adafactor`` runs six passes, each a
function on a range (rows, columns, ``DOT_BLOCK`` blocks or elements), all from one
compiled step: ``adafactor_serial``, or ``adafactor_pooled`` (one pool job per parallel
pass) and its ``prange`` twin ``adafactor_parallel``; ``adafactor_sparse`` runs it on the
touched rows, gathered.  For users' ``@njit`` loops it has the row pieces of the Cython
C-API instead of ``_serial``/``_element``: ``adafactor_sum_sq``, ``adafactor_row_stats``,
``adafactor_col_stats``, ``adafactor_den``, ``adafactor_row_sq``, ``adafactor_row``.

Each sparse kernel is compiled once per float dtype and index dtype (int32/int64), for
the serial and the parallel driver: ~0.5-3.5 s each on a 2-core machine (a few
seconds for the first sparse step of one algorithm), ~20 ms from the cache.

Every kernel reproduces the reference bit for bit, for any ``n_threads``.
"""
