# C-API of fastopt.backends.cython.adafactor, for other Cython extensions: the pieces of
# one factored Adafactor step, row by row, callable without the GIL.  With
# fastopt.get_include() on Cython's include path:
#
#     from fastopt.backends.cython.adafactor cimport adafactor_row_f32
#
# This file only declares: the functions are compiled into fastopt's extension module
# (the dense kernel's own loops) and bound when your module is imported, through the
# module's __pyx_capi__.  They keep no state of their own and never raise.
#
# Adafactor's step is not a per-row update: the column statistic, the mean of the row
# statistic and the two RMS norms are over every row the step updates (a matrix, or the
# touched rows of a table: fastopt.backends.python.adafactor.adafactor_sparse).  A loop
# over those rows (in increasing order; N elements in all, each row of n = d elements)
# reproduces fastopt's step with four passes and a few scalars in between, in double
# unless said (beta = <T>beta2_hat, eps1_sq = <T>(eps1 * eps1), decay = <T>(1 - lr*wd),
# the values the optimizer computes; see fastopt.backends.python.adafactor):
#
#   1. S_theta = adafactor_sum_sq(theta_row, d, S_theta) over the rows, from 0.0;
#      alpha = max(eps2, sqrt(S_theta) / sqrt(N)) * rho  (max: x if x > eps2 else eps2)
#   2. adafactor_row_stats(g_row, d, &R[r], col_acc, beta) over the rows (col_acc: d
#      doubles, zeroed first), then adafactor_col_stats(C, col_acc, d, rows, beta);
#      den = adafactor_den(sum of <double>R[r] over the rows in order, rows, <T>eps1)
#   3. S_u = adafactor_row_sq(g_row, C, d, R[r], den, eps1_sq, maximize, S_u), from 0.0;
#      y = sqrt(S_u) / (sqrt(N) * d_clip); coef = <T>(alpha / (y if y > 1 else 1))
#   4. adafactor_row(theta_row, g_row, C, d, R[r], den, eps1_sq, decay, coef, maximize)
#
# The sums of 1. and 3. run on in one running sum across the rows: the reference sums
# per block of DOT_BLOCK = 4096 flat elements and then adds the blocks, so the bits
# are the same while N <= 4096 (beyond, add per-block partial sums in order to match).
#
# adafactor_sum_sq_<f32|f64>(x, n, s): s + sum of <double>x[j]^2 over j < n, in order.
# adafactor_row_stats_<f32|f64>(grad, n, row_var, col_acc, beta): the row statistic of
#     one row, R <- R + beta * (<T>(sum_j <double>g_j^2 / n) - R) (*row_var), and
#     col_acc[j] += <double>g_j^2 (skipped when col_acc is NULL).  A row of width 0 is
#     left alone.
# adafactor_col_stats_<f32|f64>(col_var, col_acc, n, rows, beta): C_j <- C_j + beta *
#     (<T>(col_acc[j] / rows) - C_j) for the n columns (nothing when rows == 0).
# adafactor_den_<f32|f64>(row_var_sum, rows, eps1): max(<T>(row_var_sum / rows), eps1),
#     NumPy's maximum (NaN propagates).
# adafactor_row_sq_<f32|f64>(grad, col_var, n, row_var, den, eps1_sq, maximize, s): s +
#     the sum of <double>u_j^2 in order, u_j = g_j / sqrt(max(row_var * C_j / den,
#     eps1_sq)) in the dtype, g negated first if maximize.
# adafactor_row_<f32|f64>(param, grad, col_var, n, row_var, den, eps1_sq, decay, coef,
#     maximize): param_j <- param_j * decay - coef * u_j (no product when decay == 1).

cdef double adafactor_sum_sq_f32(const float* x, Py_ssize_t n, double s) noexcept nogil
cdef void adafactor_row_stats_f32(const float* grad, Py_ssize_t n, float* row_var,
                                  double* col_acc, float beta) noexcept nogil
cdef void adafactor_col_stats_f32(float* col_var, const double* col_acc, Py_ssize_t n,
                                  Py_ssize_t rows, float beta) noexcept nogil
cdef float adafactor_den_f32(double row_var_sum, Py_ssize_t rows, float eps1) noexcept nogil
cdef double adafactor_row_sq_f32(const float* grad, const float* col_var, Py_ssize_t n,
                                 float row_var, float den, float eps1_sq, bint maximize,
                                 double s) noexcept nogil
cdef void adafactor_row_f32(float* param, const float* grad, const float* col_var,
                            Py_ssize_t n, float row_var, float den, float eps1_sq,
                            float decay, float coef, bint maximize) noexcept nogil

cdef double adafactor_sum_sq_f64(const double* x, Py_ssize_t n, double s) noexcept nogil
cdef void adafactor_row_stats_f64(const double* grad, Py_ssize_t n, double* row_var,
                                  double* col_acc, double beta) noexcept nogil
cdef void adafactor_col_stats_f64(double* col_var, const double* col_acc, Py_ssize_t n,
                                  Py_ssize_t rows, double beta) noexcept nogil
cdef double adafactor_den_f64(double row_var_sum, Py_ssize_t rows, double eps1) noexcept nogil
cdef double adafactor_row_sq_f64(const double* grad, const double* col_var, Py_ssize_t n,
                                 double row_var, double den, double eps1_sq, bint maximize,
                                 double s) noexcept nogil
cdef void adafactor_row_f64(double* param, const double* grad, const double* col_var,
                            Py_ssize_t n, double row_var, double den, double eps1_sq,
                            double decay, double coef, bint maximize) noexcept nogil
