"""The Cython backend: compiled kernels, one extension module per algorithm.

The modules are built by ``setup.py`` (``pip install -e .``) from ``csrc/*.pyx`` and,
for the update rules, from the Tempita templates ``csrc/<rule>.pyx.tp`` (see
``csrc/README.md``);
:mod:`fastopt.backends.cython._runtime` reports how they were built (OpenMP,
compiler flags).  Each kernel has the positional signature of its reference in
:mod:`fastopt.backends.python` and reproduces it bit for bit.

C-API for other Cython extensions: ``<algorithm>.pxd`` beside each module declares
``<algorithm>_row_f32`` / ``_f64`` (the dense kernel on one contiguous row, ``nogil``,
``noexcept``) and ``<algorithm>_element_f32`` / ``_f64`` (plus
``adagrad_rowwise_row_f32`` / ``_f64``), exported through the module's ``__pyx_capi__``:
``from fastopt.backends.cython.adam cimport adam_row_f32`` with
:func:`fastopt.get_include` on Cython's include path.  ``cimport`` binds to these
baseline modules, never to the ``x86_64_v3`` builds, which give the same bits.
``adafactor.pxd`` declares the row pieces of Adafactor's factored step instead (its
step is reductions over all the rows it updates): ``adafactor_sum_sq``, ``_row_stats``,
``_col_stats``, ``_den``, ``_row_sq`` and ``_row`` (``_f32`` / ``_f64``), for a user's
loop over the rows of a step in four passes (the .pxd describes them).
"""
