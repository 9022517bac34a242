"""Kernel backends: ``python`` (the reference), ``numba`` and ``cython``.

Every backend is a package with one module per algorithm, and every module
exposes one kernel function with the same name and the same positional
signature in all three backends.  The reference modules in
:mod:`fastopt.backends.python` are the specification: the compiled kernels
evaluate the same expressions in the same order, so they reproduce the
reference bit for bit.

The kernel contract (callers, i.e. :mod:`fastopt.optim.optimizer`, guarantee it;
kernels do not re-check what the caller already validated):

* every array argument is 1-D, C-contiguous, of one dtype (float32 or float64)
  and of the same length as ``param`` -- except optional state arrays that the
  selected options do not use, which are empty arrays of that dtype and are
  never touched;
* no output array overlaps another array argument;
* every floating-point scalar is a Python ``float`` already rounded to the
  arrays' dtype (step-dependent scalars such as bias corrections are computed
  in double precision by the optimizer and rounded once);
* booleans are Python ``bool``; ``n_threads >= 1`` is the number of threads that may
  work on the call (1 means serial, in the calling thread).  The Cython kernels cut
  the range into fixed chunks (about four per thread) that the calling thread and the
  helpers of fastopt's pool claim dynamically (``fastopt.backends.cython._pool``: the
  caller never waits for a helper the OS did not run); the numba kernels run
  ``n_threads`` chunks on numba's threading layer.  The result never depends on
  ``n_threads`` nor on which thread ran a chunk: every update is elementwise.

Kernels update ``param`` and the state arrays in place and return ``None``.

Many arrays
-----------
``fastopt.backends.<cython|numba>.<rule>.<rule>_many(params, grads, *state_lists,
*scalars, *flags, n_threads)`` takes lists (one entry per array, each entry as the
kernel's) and shared scalars, checks every array (the kernel's checks, and that no
written array shares memory with another array of the call) before writing any, and
updates them as if they were one array laid end to end on ``n_threads`` threads: the
bits of one kernel call per array.  The optimizer uses it for a group of separate arrays
at the same step.  The numba one (``fastopt.backends.numba._jit.Many``) puts the arrays'
addresses in an int64 table that one compiled function walks in chunks on fastopt's
pool; its ``prepare(params, *state_lists)`` gives the call the optimizer's plan replays
(the table kept while the lists hold the same arrays; new gradients checked, their
addresses renewed).

Whole-array kernels
-------------------
``adafactor`` (:data:`WHOLE_ARRAY_RULES`) is the whole step of a rule whose work is
reductions: ``adafactor(param, grad, row_var, col_var, variance, *scalars, maximize,
n_threads)`` on the n-D C-contiguous ``param`` (the statistics keep their own shapes; see
:mod:`fastopt.backends.python.adafactor`).  Its scalars are Python floats that the kernel
rounds.  The reference writes every sum in an explicit order (per row, per column, and
whole-array sums in ``DOT_BLOCK`` blocks) and the compiled kernels split only rows,
columns or whole blocks between threads: the same bits for any ``n_threads``.
``adafactor_sparse(param, indices, values, row_var, col_var, variance, *scalars,
maximize, slots, rows, coalesced, n_threads)`` is its sparse step (``param`` the table's
2-D view, the statistics in their own shapes): the backend's coalescing pass, the
distinct rows sorted, then ``adafactor`` on them, gathered and scattered back.

Sparse row kernels
------------------
Every algorithm module also has ``<algorithm>_sparse`` (and ``adagrad`` has
``adagrad_rowwise`` and ``adagrad_rowwise_sparse``), with the positional signature::

    <algorithm>_sparse(param, indices, values, *state, *scalars, *flags,
                       slots, rows, coalesced, n_threads)

* ``param`` and each used state array are 2-D ``(n_rows, d)`` C-contiguous views
  (unused state: empty arrays, untouched); for ``adagrad_rowwise*`` the state
  ``state_sum`` is 1-D ``(n_rows,)``;
* ``indices`` is 1-D C-contiguous int32 or int64 of length ``k``, every entry in
  ``[0, n_rows)`` (the caller has checked); ``values`` is ``(k, d)`` C-contiguous;
* the workspace belongs to the calling thread: ``slots`` is int64 ``(n_rows,)``,
  all ``-1`` on entry and restored to all ``-1`` on return; ``rows`` is int64 with
  at least ``k`` entries; ``coalesced`` is ``(>= k, d)`` of the arrays' dtype.  The
  reference backend ignores the workspace;
* semantics (the reference is the specification): the gradient of each distinct
  row is the sum of its values in order of appearance, starting from zero,
  ``((0 + v_first) + v_second) + ...``; then the dense update of the algorithm is
  applied to exactly those rows of ``param`` and of each state array, element by
  element as in the dense kernel (row-wise Adagrad: row by row, as in
  ``adagrad_rowwise``).  No other row is read or written.  The compiled kernels
  coalesce (slot map, first-appearance order) and then update the distinct rows: numba
  coalesces sequentially and updates in ``n_threads`` parallel chunks; Cython, on
  ``n_threads`` > 1, cuts the step by rows into parts (a hash of the row number), each
  part coalescing its positions in order and updating its rows, the parts shared out on
  the pool (``csrc/README.md``).  Either way the result never depends on ``n_threads``.

Training-toolkit kernels
------------------------
``regularization`` (``weight_decay``, ``soft_threshold``, ``soft_threshold_rows``),
``dropout`` (``dropout_apply``) and ``batchnorm`` (``batchnorm_forward_train``,
``batchnorm_forward_eval``, ``batchnorm_backward``) follow the same rules: the
reference module states each kernel's arguments and equations in its docstring, the
compiled modules reproduce it bit for bit for any ``n_threads`` (batch-norm column
sums are accumulated row after row in every backend; threads split columns, never a
sum), and the Python callers in :mod:`fastopt.train.regularization`, :mod:`fastopt.train.dropout`
and :mod:`fastopt.train.batchnorm` validate the arguments first.  Their module is named
explicitly when looked up: ``kernel(backend, "dropout_apply", "dropout")``.
``averaging`` (``ema``, ``ema_debiased``, ``swa``; callers in :mod:`fastopt.train.averaging`)
is one of them too.

Solver kernels
--------------
``lbfgs`` (``dot``, ``axpy``, ``axpy_dot``: the two-loop recursion of
:class:`fastopt.LBFGS`).  A dot product returns a float64 summed in a fixed blocked order
(:data:`fastopt.backends.python.lbfgs.DOT_BLOCK`), so it too is the same bits in every
backend and for any ``n_threads``.
"""

from ._families import ALGORITHMS, WHOLE_ARRAY_RULES  # noqa: E402

from . import _threadpoolctl  # noqa: E402  (fastopt's threads in threadpoolctl)

_threadpoolctl.register()
