# C-API of fastopt.backends.cython.lamb, for other Cython extensions: the
# LAMB update rule, callable without the GIL.  With
# fastopt.get_include() on Cython's include path:
#
#     from fastopt.backends.cython.lamb cimport lamb_row_f32
#
# This file only declares: the functions are compiled into fastopt's extension module
# (its flags, the dense kernel's loops) and bound when your module is imported, through
# the module's __pyx_capi__ -- always the baseline build, which gives the same bits as
# the x86-64-v3 one.  They give the bits of the reference kernel, keep no state of their
# own (threads may call them at once on disjoint rows) and never raise.
#
# lamb_row_<f32|f64>: one step of the dense kernel
# fastopt.backends.python.lamb.lamb on ``n`` contiguous elements, in the calling
# thread: the kernel's arguments in its order, with ``n`` after the arrays and without
# ``n_threads``.  ``grad`` is read; ``param`` and the state arrays (``n`` elements each,
# none overlapping another) are updated in place.  Scalars are in the function's dtype,
# computed as the kernel contract of fastopt.backends says (the values the optimizer
# passes to the kernel).
#
# lamb_element_<f32|f64>: the same for one element (a row of length 1): ``param`` and
# the states point to the element, ``grad`` is its gradient value.

cdef void lamb_row_f32(float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
                       float* update, Py_ssize_t n, float beta1, float one_minus_beta1,
                       float beta2, float one_minus_beta2, float bias_correction1,
                       float bias_correction2, float eps, float weight_decay, bint maximize) noexcept nogil

cdef void lamb_element_f32(float* param, float grad, float* exp_avg, float* exp_avg_sq,
                           float* update, float beta1, float one_minus_beta1, float beta2,
                           float one_minus_beta2, float bias_correction1,
                           float bias_correction2, float eps, float weight_decay, bint maximize) noexcept nogil

cdef void lamb_row_f64(double* param, const double* grad, double* exp_avg, double* exp_avg_sq,
                       double* update, Py_ssize_t n, double beta1, double one_minus_beta1,
                       double beta2, double one_minus_beta2, double bias_correction1,
                       double bias_correction2, double eps, double weight_decay, bint maximize) noexcept nogil

cdef void lamb_element_f64(double* param, double grad, double* exp_avg, double* exp_avg_sq,
                           double* update, double beta1, double one_minus_beta1, double beta2,
                           double one_minus_beta2, double bias_correction1,
                           double bias_correction2, double eps, double weight_decay,
                           bint maximize) noexcept nogil
