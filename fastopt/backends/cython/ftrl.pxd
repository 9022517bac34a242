# C-API of fastopt.backends.cython.ftrl, for other Cython extensions: the
# FTRL-Proximal update rule, callable without the GIL.  With
# fastopt.get_include() on Cython's include path:
#
#     from fastopt.backends.cython.ftrl cimport ftrl_row_f32
#
# This file only declares: the functions are compiled into fastopt's extension module
# (its flags, the dense kernel's loops) and bound when your module is imported, through
# the module's __pyx_capi__ -- always the baseline build, which gives the same bits as
# the x86-64-v3 one.  They give the bits of the reference kernel, keep no state of their
# own (threads may call them at once on disjoint rows) and never raise.
#
# ftrl_row_<f32|f64>: one step of the dense kernel
# fastopt.backends.python.ftrl.ftrl on ``n`` contiguous elements, in the calling
# thread: the kernel's arguments in its order, with ``n`` after the arrays and without
# ``n_threads``.  ``grad`` is read; ``param`` and the state arrays (``n`` elements each,
# none overlapping another) are updated in place.  Scalars are in the function's dtype,
# computed as the kernel contract of fastopt.backends says (the values the optimizer
# passes to the kernel).
#
# ftrl_element_<f32|f64>: the same for one element (a row of length 1): ``param`` and
# the states point to the element, ``grad`` is its gradient value.

cdef void ftrl_row_f32(float* param, const float* grad, float* accum, float* linear,
                       Py_ssize_t n, float lr, float l1, float two_l2, float two_l2_shrinkage,
                       float lr_power, bint maximize) noexcept nogil

cdef void ftrl_element_f32(float* param, float grad, float* accum, float* linear, float lr,
                           float l1, float two_l2, float two_l2_shrinkage, float lr_power,
                           bint maximize) noexcept nogil

cdef void ftrl_row_f64(double* param, const double* grad, double* accum, double* linear,
                       Py_ssize_t n, double lr, double l1, double two_l2,
                       double two_l2_shrinkage, double lr_power, bint maximize) noexcept nogil

cdef void ftrl_element_f64(double* param, double grad, double* accum, double* linear, double lr,
                           double l1, double two_l2, double two_l2_shrinkage, double lr_power,
                           bint maximize) noexcept nogil
