# C-API of fastopt.backends.cython.adagrad, for other Cython extensions: the
# Adagrad (and row-wise Adagrad) update rule, callable without the GIL.  With
# fastopt.get_include() on Cython's include path:
#
#     from fastopt.backends.cython.adagrad cimport adagrad_row_f32
#
# This file only declares: the functions are compiled into fastopt's extension module
# (its flags, the dense kernel's loops) and bound when your module is imported, through
# the module's __pyx_capi__ -- always the baseline build, which gives the same bits as
# the x86-64-v3 one.  They give the bits of the reference kernel, keep no state of their
# own (threads may call them at once on disjoint rows) and never raise.
#
# adagrad_row_<f32|f64>: one step of the dense kernel
# fastopt.backends.python.adagrad.adagrad on ``n`` contiguous elements, in the calling
# thread: the kernel's arguments in its order, with ``n`` after the arrays and without
# ``n_threads``.  ``grad`` is read; ``param`` and the state arrays (``n`` elements each,
# none overlapping another) are updated in place.  Scalars are in the function's dtype,
# computed as the kernel contract of fastopt.backends says (the values the optimizer
# passes to the kernel).
#
# adagrad_element_<f32|f64>: the same for one element (a row of length 1): ``param`` and
# the states point to the element, ``grad`` is its gradient value.
#
# adagrad_rowwise_row_<f32|f64>: one row of the row-wise kernel
# fastopt.backends.python.adagrad.adagrad_rowwise: ``param`` and ``grad`` are the row's
# ``n`` elements, ``state_sum`` points to the row's one accumulator.  A row of width 0
# is left alone.

cdef void adagrad_row_f32(float* param, const float* grad, float* state_sum, Py_ssize_t n,
                          float clr, float weight_decay, float eps,
                          bint maximize) noexcept nogil

cdef void adagrad_element_f32(float* param, float grad, float* state_sum, float clr,
                              float weight_decay, float eps, bint maximize) noexcept nogil

cdef void adagrad_row_f64(double* param, const double* grad, double* state_sum, Py_ssize_t n,
                          double clr, double weight_decay, double eps,
                          bint maximize) noexcept nogil

cdef void adagrad_element_f64(double* param, double grad, double* state_sum, double clr,
                              double weight_decay, double eps, bint maximize) noexcept nogil

cdef void adagrad_rowwise_row_f32(float* param, const float* grad, float* state_sum,
                                  Py_ssize_t n, float clr, float weight_decay, float eps,
                                  bint maximize) noexcept nogil

cdef void adagrad_rowwise_row_f64(double* param, const double* grad, double* state_sum,
                                  Py_ssize_t n, double clr, double weight_decay, double eps,
                                  bint maximize) noexcept nogil
