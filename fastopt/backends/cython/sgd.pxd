# C-API of fastopt.backends.cython.sgd, for other Cython extensions: the
# SGD (momentum, dampening, Nesterov) update rule, callable without the GIL.  With
# fastopt.get_include() on Cython's include path:
#
#     from fastopt.backends.cython.sgd cimport sgd_row_f32
#
# This file only declares: the functions are compiled into fastopt's extension module
# (its flags, the dense kernel's loops) and bound when your module is imported, through
# the module's __pyx_capi__ -- always the baseline build, which gives the same bits as
# the x86-64-v3 one.  They give the bits of the reference kernel, keep no state of their
# own (threads may call them at once on disjoint rows) and never raise.
#
# sgd_row_<f32|f64>: one step of the dense kernel
# fastopt.backends.python.sgd.sgd on ``n`` contiguous elements, in the calling
# thread: the kernel's arguments in its order, with ``n`` after the arrays and without
# ``n_threads``.  ``grad`` is read; ``param`` and the state arrays (``n`` elements each,
# none overlapping another) are updated in place.  Scalars are in the function's dtype,
# computed as the kernel contract of fastopt.backends says (the values the optimizer
# passes to the kernel).
#
# sgd_element_<f32|f64>: the same for one element (a row of length 1): ``param`` and
# the states point to the element, ``grad`` is its gradient value.
#
# ``momentum_buffer`` is only touched when ``momentum != 0`` (else it may be NULL).

cdef void sgd_row_f32(float* param, const float* grad, float* momentum_buffer, Py_ssize_t n,
                      float lr, float weight_decay, float momentum, float one_minus_dampening,
                      bint nesterov, bint maximize, bint first_step) noexcept nogil

cdef void sgd_element_f32(float* param, float grad, float* momentum_buffer, float lr,
                          float weight_decay, float momentum, float one_minus_dampening,
                          bint nesterov, bint maximize, bint first_step) noexcept nogil

cdef void sgd_row_f64(double* param, const double* grad, double* momentum_buffer, Py_ssize_t n,
                      double lr, double weight_decay, double momentum,
                      double one_minus_dampening, bint nesterov, bint maximize,
                      bint first_step) noexcept nogil

cdef void sgd_element_f64(double* param, double grad, double* momentum_buffer, double lr,
                          double weight_decay, double momentum, double one_minus_dampening,
                          bint nesterov, bint maximize, bint first_step) noexcept nogil
