"""Kernel backends: ``python`` (the reference), ``numba`` and ``cython``.

Every backend is a package with one module per algorithm, and every module
exposes one kernel function with the same name and the same positional
signature in all three backends.  The reference modules in
:mod:`fastopt.backends.python` are the specification: the compiled kernels
evaluate the same expressions in the same order, so they reproduce the
reference bit for bit.

The kernel contract (callers, i.e. :mod:`fastopt.optimizer`, guarantee it;
kernels do not re-check what the caller already validated):

* every array argument is 1-D, C-contiguous, of one dtype (float32 or float64)
  and of the same length as ``param`` -- except optional state arrays that the
  selected options do not use, which are empty arrays of that dtype and are
  never touched;
* no output array overlaps another array argument;
* every floating-point scalar is a Python ``float`` already rounded to the
  arrays' dtype (step-dependent scalars such as bias corrections are computed
  in double precision by the optimizer and rounded once);
* booleans are Python ``bool``; ``n_threads >= 1`` is the number of contiguous
  chunks processed in parallel (1 means serial, in the calling thread).  The
  result never depends on ``n_threads``: every update is elementwise.

Kernels update ``param`` and the state arrays in place and return ``None``.
"""

ALGORITHMS = ("sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamax", "nadam")
