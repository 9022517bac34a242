# C-API of fastopt.backends.cython.proximal_adagrad, for other Cython extensions: the
# proximal Adagrad update rule, callable without the GIL.  With
# fastopt.get_include() on Cython's include path:
#
#     from fastopt.backends.cython.proximal_adagrad cimport proximal_adagrad_row_f32
#
# This file only declares: the functions are compiled into fastopt's extension module
# (its flags, the dense kernel's loops) and bound when your module is imported, through
# the module's __pyx_capi__ -- always the baseline build, which gives the same bits as
# the x86-64-v3 one.  They give the bits of the reference kernel, keep no state of their
# own (threads may call them at once on disjoint rows) and never raise.
#
# proximal_adagrad_row_<f32|f64>: one step of the dense kernel
# fastopt.backends.python.proximal_adagrad.proximal_adagrad on ``n`` contiguous elements, in the calling
# thread: the kernel's arguments in its order, with ``n`` after the arrays and without
# ``n_threads``.  ``grad`` is read; ``param`` and the state arrays (``n`` elements each,
# none overlapping another) are updated in place.  Scalars are in the function's dtype,
# computed as the kernel contract of fastopt.backends says (the values the optimizer
# passes to the kernel).
#
# proximal_adagrad_element_<f32|f64>: the same for one element (a row of length 1): ``param`` and
# the states point to the element, ``grad`` is its gradient value.

cdef void proximal_adagrad_row_f32(float* param, const float* grad, float* accumulator,
                                   Py_ssize_t n, float lr, float l1, float l2, bint maximize) noexcept nogil

cdef void proximal_adagrad_element_f32(float* param, float grad, float* accumulator, float lr,
                                       float l1, float l2, bint maximize) noexcept nogil

cdef void proximal_adagrad_row_f64(double* param, const double* grad, double* accumulator,
                                   Py_ssize_t n, double lr, double l1, double l2, bint maximize) noexcept nogil

cdef void proximal_adagrad_element_f64(double* param, double grad, double* accumulator,
                                       double lr, double l1, double l2, bint maximize) noexcept nogil
