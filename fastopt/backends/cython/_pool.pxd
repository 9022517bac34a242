# C-API of fastopt.backends.cython._pool (csrc/_pool.pyx): the parallel-for of every
# multi-threaded Cython kernel.  ``fn(ctx, lo, hi)`` handles the elements [lo, hi).
ctypedef void (*range_fn)(const void* ctx, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil

cdef void parallel_range(range_fn fn, const void* ctx, Py_ssize_t n, Py_ssize_t chunk,
                         int n_threads) noexcept nogil
