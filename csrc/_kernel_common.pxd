# Helpers shared by the Cython kernels (inline only: this .pxd has no .pyx).
#
# Element-level arithmetic mirrors NumPy's ufuncs exactly (np.sqrt, np.abs,
# np.maximum), and the argument checks read the array fields directly through
# NumPy's C API: a handful of loads per array, no buffer acquisition.
cimport numpy as cnp
from cython cimport floating
from libc.math cimport sqrt, sqrtf, fabs, fabsf

from fastopt.backends.cython._pool cimport parallel_range, range_fn


cdef enum:
    # Arrays with at least this many elements are updated with the GIL released
    # (releasing and re-taking it costs ~0.1 us, worth it only for long loops).
    NOGIL_MIN = 8192
    # Chunk boundaries are multiples of this many elements (64 bytes of float32),
    # so that two threads never write the same cache line.
    CHUNK_ALIGN = 16
    # A range run on n threads is cut into up to this many chunks per thread, claimed
    # dynamically (fastopt/backends/cython/_pool.pxd): a thread the OS runs late or
    # preempts leaves its share to the others.
    CHUNKS_PER_THREAD = 4
    # Flags an array must have: read-only inputs and updated outputs.
    REQ_READ = cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_ALIGNED
    REQ_WRITE = cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_ALIGNED | cnp.NPY_ARRAY_WRITEABLE


cdef inline floating fsqrt(floating x) noexcept nogil:
    """np.sqrt in the dtype of ``x`` (sqrtf for float32: correctly rounded)."""
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline floating fabs_(floating x) noexcept nogil:
    """np.abs in the dtype of ``x``."""
    if floating is float:
        return fabsf(x)
    else:
        return fabs(x)


cdef inline floating fmax_nan(floating a, floating b) noexcept nogil:
    """np.maximum(a, b), bit for bit: ``a if a > b or a != a else b``.

    NaN propagates (a NaN ``a`` wins, else a NaN ``b``), and of two equal values
    NumPy returns ``b``: np.maximum(-0.0, 0.0) is +0.0 and np.maximum(0.0, -0.0)
    is -0.0, which ``>=`` would get wrong.  Bitwise ``|`` rather than ``or``: no
    short circuit, so the select vectorizes.
    """
    return a if ((a > b) | (a != a)) else b


cdef inline floating fclamp_nan(floating x, floating lo, floating hi) noexcept nogil:
    """np.minimum(np.maximum(x, lo), hi), bit for bit.

    With ``m = fmax_nan(x, lo)``, np.minimum(m, hi) is ``m if m < hi or m != m else hi``;
    ``m != m`` is written ``x != x or lo != lo`` (the same: ``m`` is NaN exactly when
    ``x`` or ``lo`` is).  Written on ``m``, gcc turned it into a select between the
    NaN tests of ``x`` and ``lo``, a select of booleans it cannot vectorize ("no vectype";
    Rprop's loop stayed scalar).
    """
    cdef floating m = fmax_nan(x, lo)
    return m if ((m < hi) | (x != x) | (lo != lo)) else hi


cdef inline floating fsign(floating x) noexcept nogil:
    """np.sign(x), bit for bit: +-1, +0.0 for either zero, NaN for NaN.

    Branch-free (two compares and selects of constants), so the loops that call it
    vectorize: with ``if``/``return`` per case gcc kept them scalar, and a random sign
    mispredicted every other element (Lion, Rprop, FTRL and proximal Adagrad ran at 5-10%
    of the roof).  Not ``(x > 0) - (x < 0)`` converted: for float64 that is a 32-bit int
    under a 64-bit mask, which gcc does not vectorize ("no vectype").
    """
    cdef floating s = <floating>1 if x > 0 else (<floating>-1 if x < 0 else <floating>0)
    return x if x != x else s


cdef inline double as_dtype(double x, int typenum) noexcept nogil:
    """``x`` rounded to the arrays' dtype, as the loops use it.

    The option tests (``weight_decay != 0``...) look at this value, so that they agree
    with the arithmetic even if a scalar were not already rounded as the contract says
    (then a C cast rounds it exactly as ``np.float32(x)`` does).
    """
    if typenum == cnp.NPY_FLOAT:
        return <float>x
    return x


cdef inline Py_ssize_t chunk_size(Py_ssize_t n, int n_threads) noexcept nogil:
    """Elements per chunk when ``n`` elements are run on ``n_threads`` threads.

    About ``n / (n_threads * CHUNKS_PER_THREAD)``, a multiple of CHUNK_ALIGN; ``>= n``
    means one chunk (run serially).  The result of every kernel is independent of the
    chunking: updates are elementwise, and a chunk never splits a sum.
    """
    cdef Py_ssize_t chunk
    if n_threads <= 1 or n <= CHUNK_ALIGN:
        return n
    chunk = (n + n_threads * CHUNKS_PER_THREAD - 1) // (n_threads * CHUNKS_PER_THREAD)
    return (chunk + CHUNK_ALIGN - 1) // CHUNK_ALIGN * CHUNK_ALIGN


cdef inline void run_range(range_fn fn, const void* ctx, Py_ssize_t n, Py_ssize_t chunk,
                           int n_threads) noexcept nogil:
    """``fn(ctx, lo, hi)`` over the chunks of ``[0, n)`` on ``n_threads`` threads (the
    pool of fastopt.backends.cython._pool); one direct call when serial."""
    if n_threads <= 1 or chunk >= n:
        fn(ctx, 0, n)
    else:
        parallel_range(fn, ctx, n, chunk, n_threads)


cdef inline int check_threads(int n_threads) except -1:
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    return 0


cdef inline int native_type(cnp.ndarray a) noexcept:
    """The typenum of ``a``'s dtype, or -1 (no type) if its byte order is not the
    machine's: such an array has the typenum of its native twin, and the kernels would
    read its bytes as native values.  Every dtype check of the kernels goes through it."""
    return cnp.PyArray_TYPE(a) if cnp.PyArray_ISNOTSWAPPED(a) else -1


cdef inline cnp.npy_intp param_size(cnp.ndarray param) except -1:
    """Length of ``param``, which must be 1-D float32 or float64."""
    cdef int typenum = native_type(param)
    if cnp.PyArray_NDIM(param) != 1:
        raise ValueError(f"param must be 1-D, got {cnp.PyArray_NDIM(param)} dimensions")
    if typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE:
        raise TypeError(f"param must be float32 or float64, got {(<object>param).dtype}")
    return cnp.PyArray_DIM(param, 0)


cdef inline void* array_data(cnp.ndarray a, int typenum, cnp.npy_intp n, int req,
                             str name) except? NULL:
    """Data pointer of ``a`` after checking that it is 1-D, of ``typenum``, of length ``n``,
    C-contiguous and aligned (and writeable if ``req`` says so); ValueError otherwise."""
    if (a is not None and native_type(a) == typenum and cnp.PyArray_NDIM(a) == 1
            and cnp.PyArray_DIM(a, 0) == n and (cnp.PyArray_FLAGS(a) & req) == req):
        return cnp.PyArray_DATA(a)
    bad_array(a, typenum, n, req, name)
    return NULL


cdef inline int bad_array(cnp.ndarray a, int typenum, cnp.npy_intp n, int req,
                          str name, bint check_shape=True) except -1:
    """Raise the ValueError that explains why ``array_data`` refused ``a``."""
    if a is None:
        raise ValueError(f"{name} is None but the selected options use it")
    want = cnp.PyArray_DescrFromType(typenum)
    if native_type(a) != typenum:
        raise ValueError(f"{name} has dtype {(<object>a).dtype}, expected {want} like param")
    if check_shape and (cnp.PyArray_NDIM(a) != 1 or cnp.PyArray_DIM(a, 0) != n):
        raise ValueError(f"{name} has shape {(<object>a).shape}, expected ({n},) like param")
    if not cnp.PyArray_CHKFLAGS(a, cnp.NPY_ARRAY_C_CONTIGUOUS):
        raise ValueError(f"{name} is not contiguous")
    if not cnp.PyArray_CHKFLAGS(a, cnp.NPY_ARRAY_ALIGNED):
        raise ValueError(f"{name} is not aligned")
    raise ValueError(f"{name} is read-only but is updated in place")


# ---------------------------------------------------------------------------
# Sparse row kernels (see "Sparse row kernels" in fastopt/backends/__init__.py).
#
# A module's ``<alg>_sparse`` checks its arguments with ``sparse_args`` and
# ``table_data`` (with the GIL), then calls ``sparse_step`` without it:
# ``coalesce`` sums the values of each distinct row into the workspace in one
# sequential pass, then the module's ``rows_fn`` applies the dense per-element
# loop of the algorithm to each distinct row (pointer + length d), over
# ``n_threads`` contiguous chunks of the distinct rows, and the slot map is reset.

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #define fastopt_prefetch_w(p) __builtin_prefetch((const void*)(p), 1, 3)
    #define fastopt_prefetch_r(p) __builtin_prefetch((const void*)(p), 0, 3)
    #else
    #define fastopt_prefetch_w(p) ((void)(p))
    #define fastopt_prefetch_r(p) ((void)(p))
    #endif
    """
    void fastopt_prefetch_w(const void* p) noexcept nogil
    void fastopt_prefetch_r(const void* p) noexcept nogil


cdef enum:
    # Prefetching (the rows of a sparse step are scattered over tables far larger than
    # the caches; it halves the time of a step on a 10**6-row table): coalescing asks
    # for the slot of the index this many positions ahead, the row update for the rows
    # of the distinct row this many rows ahead, at most PREFETCH_BYTES of each row.
    COALESCE_AHEAD = 16
    ROWS_AHEAD = 4
    PREFETCH_BYTES = 512
    # On several threads a sparse step is cut by rows into parts (see sparse_step):
    # this many per thread, claimed dynamically, at most MAX_PARTS.
    PARTS_PER_THREAD = 4
    MAX_PARTS = 64
    # Dense streams (``_run`` of csrc/_update_rule.pxi.tp): the ranges of an array of at
    # least STREAM_MIN_BYTES (a working set that streams from memory) are updated in
    # blocks of STREAM_BLOCK_BYTES, each after asking for the lines STREAM_AHEAD_BYTES
    # ahead in every array: one core then keeps enough misses in flight while it divides
    # (see csrc/README.md).  Smaller arrays run the plain loop (the same bits either way).
    STREAM_MIN_BYTES = 32 << 20
    STREAM_BLOCK_BYTES = 256
    STREAM_AHEAD_BYTES = 1024


cdef inline void prefetch_bytes(const void* start, Py_ssize_t nbytes) noexcept nogil:
    """Ask for the cache lines of ``[start, start + min(nbytes, PREFETCH_BYTES))``."""
    cdef const char* c = <const char*>start
    cdef Py_ssize_t b = 0
    if nbytes > PREFETCH_BYTES:
        nbytes = PREFETCH_BYTES
    while b < nbytes:
        fastopt_prefetch_w(c + b)
        b += 64


cdef inline void prefetch_block(const void* start, Py_ssize_t nbytes) noexcept nogil:
    """Ask for the cache lines of ``[start, start + nbytes)``, one per line."""
    cdef const char* c = <const char*>start
    cdef Py_ssize_t b = 0
    while b < nbytes:
        fastopt_prefetch_w(c + b)
        b += 64


ctypedef fused index_t:
    cnp.npy_int32
    cnp.npy_int64


ctypedef struct Sparse:
    const void* indices     # (k,) int32 or int64, every entry in [0, n_rows)
    const void* values      # (k, d) of the dtype
    cnp.npy_int64* slots    # (n_rows,): -1, or the slot of a row seen in this call
    cnp.npy_int64* rows     # (>= k,): rows[u] = the u-th distinct row
    void* coalesced         # (>= k, d): coalesced[u] = the summed values of rows[u]
    Py_ssize_t k, d, n_rows
    Py_ssize_t n_distinct   # set by coalesce; -1 if an index was out of range
    Py_ssize_t bad_index    # position of the first index out of range (n_distinct == -1)
    Py_ssize_t row_bytes    # d * itemsize
    int typenum             # of the float arrays
    bint wide_indices       # int64 (else int32) indices
    const void* tables[4]   # (n_rows, d) param and state tables (NULL: none), prefetched
    Py_ssize_t n_parts      # parts of a step on several threads (0: one sequential pass)
    Py_ssize_t part_start[MAX_PARTS + 1]  # part p: rows[part_start[p]:part_start[p + 1]]


# Updates the distinct rows rows[j0:j1]; ``args`` is the module's Args struct.
ctypedef void (*rows_fn)(const void* args, const Sparse* sp, Py_ssize_t j0,
                         Py_ssize_t j1) noexcept nogil


cdef inline floating* row_at(floating* a, Py_ssize_t offset) noexcept nogil:
    """``a + offset``, or NULL for an unused (empty, never touched) state array."""
    return a + offset if a != NULL else NULL


cdef inline void prefetch_rows(const Sparse* sp, Py_ssize_t j, Py_ssize_t j1, const void* t0,
                               const void* t1, const void* t2, const void* t3) noexcept nogil:
    """In a row update at distinct row ``j`` of a chunk ending at ``j1``: prefetch the row
    ROWS_AHEAD further of each (n_rows, d) table ``t0..t3`` (NULL: unused state, skipped)."""
    cdef Py_ssize_t offset
    if j + ROWS_AHEAD >= j1:
        return
    offset = sp.rows[j + ROWS_AHEAD] * sp.row_bytes
    prefetch_bytes(<const char*>t0 + offset, sp.row_bytes)
    if t1 != NULL:
        prefetch_bytes(<const char*>t1 + offset, sp.row_bytes)
    if t2 != NULL:
        prefetch_bytes(<const char*>t2 + offset, sp.row_bytes)
    if t3 != NULL:
        prefetch_bytes(<const char*>t3 + offset, sp.row_bytes)


cdef inline void prefetch_table_rows(const Sparse* sp, Py_ssize_t r) noexcept nogil:
    """Prefetch row ``r`` of each table of ``sp.tables``, when coalescing meets it first:
    the row update reads them only after the whole pass, so their loads overlap the
    coalescing (a 1M x 64 float32 Adagrad step of 8,192 Zipf rows, repeated: ~5% faster)."""
    cdef Py_ssize_t offset = r * sp.row_bytes, t
    for t in range(4):
        if sp.tables[t] != NULL:
            prefetch_bytes(<const char*>sp.tables[t] + offset, sp.row_bytes)


cdef inline Py_ssize_t _add_row(Py_ssize_t r, const floating* v, floating* co,
                                const Sparse* sp, Py_ssize_t lo, Py_ssize_t w) noexcept nogil:
    """Add the values ``v`` of row ``r`` into its coalesced row: slot ``slots[r]`` if it lies
    in ``[lo, w)`` and ``rows`` points back at ``r`` (so even a workspace that was not
    reset cannot make a write out of bounds), else a new slot ``w`` -- its sum started
    from +0.0, the row's table rows prefetched.  Returns the next free slot."""
    cdef Py_ssize_t d = sp.d, s = sp.slots[r], j
    cdef floating* c
    if lo <= s < w and sp.rows[s] == r:
        c = co + s * d
        for j in range(d):
            c[j] = c[j] + v[j]
        return w
    prefetch_table_rows(sp, r)
    sp.slots[r] = w
    sp.rows[w] = r
    c = co + w * d
    for j in range(d):
        c[j] = <floating>0.0 + v[j]  # as np.add.at into zeros: -0.0 -> +0.0
    return w + 1


cdef inline Py_ssize_t _coalesce(const index_t* idx, const floating* values,
                                 floating* co, Sparse* sp) noexcept nogil:
    """Sum the values of each distinct row in order of appearance, from +0.0.

    Returns the number of distinct rows ``u``; at the first index out of [0, n_rows)
    (the caller checked them: this costs one compare) it stops, sets ``sp.bad_index``
    and returns ``-1 - u`` (the slots of the ``u`` rows seen are still set).  A
    slot counts only if it is below ``u`` and ``rows`` points back at the row, so even
    a workspace that was not reset cannot make the loop write out of bounds.
    """
    cdef cnp.npy_int64* slots = sp.slots
    cdef Py_ssize_t d = sp.d, n_rows = sp.n_rows, k = sp.k, i, u = 0, r, ahead
    for i in range(k):
        ahead = i + COALESCE_AHEAD  # prefetch the slot of a later index (random access)
        if ahead < k and <size_t>idx[ahead] < <size_t>n_rows:
            fastopt_prefetch_w(slots + idx[ahead])
        r = <Py_ssize_t>idx[i]
        if <size_t>r >= <size_t>n_rows:
            sp.bad_index = i
            return -1 - u
        u = _add_row(r, values + i * d, co, sp, 0, u)
    return u


cdef inline void _reset_slots(Sparse* sp, Py_ssize_t u) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(u):
        sp.slots[sp.rows[j]] = -1


cdef inline Py_ssize_t coalesce(Sparse* sp, floating* co) noexcept nogil:
    """Fill ``rows``/``co`` (see _coalesce); on a bad index, reset the slots, return -1."""
    cdef Py_ssize_t u
    if sp.wide_indices:
        u = _coalesce(<const cnp.npy_int64*>sp.indices, <const floating*>sp.values, co, sp)
    else:
        u = _coalesce(<const cnp.npy_int32*>sp.indices, <const floating*>sp.values, co, sp)
    if u < 0:
        _reset_slots(sp, -1 - u)
        return -1
    return u


cdef inline Py_ssize_t rows_chunk(Py_ssize_t n_rows, int n_threads) noexcept nogil:
    """Rows per chunk when ``n_rows`` whole rows are run on ``n_threads`` threads."""
    if n_threads <= 1:
        return n_rows
    return (n_rows + n_threads * CHUNKS_PER_THREAD - 1) // (n_threads * CHUNKS_PER_THREAD)


ctypedef struct RowsJob:
    rows_fn update
    const void* args
    Sparse* sp


cdef inline void _rows_job(const void* job, Py_ssize_t j0, Py_ssize_t j1) noexcept nogil:
    cdef const RowsJob* r = <const RowsJob*>job
    r.update(r.args, r.sp, j0, j1)


# -- several threads: the step cut by rows into parts ----------------------------------
#
# The coalescing pass is most of a sparse step (~60% on the 1M x 64 float32 Adagrad case
# of the benchmark), so on several threads it is shared too: every row belongs to one of
# ``n_parts`` parts (a hash of its number), a sequential pass lists the positions of each
# part in order (``rows[part_start[p]:part_start[p + 1]]``), and each part -- a chunk
# claimed from the pool like any other -- coalesces its positions in order, updates its
# distinct rows and resets their slots.  A row's values are summed in order of
# appearance and its update is the same call as on one thread: the result does not
# depend on the number of parts or threads.  A thread the OS does not run leaves its
# parts to the others (the caller alone does them all, reading the indices once more).

cdef inline Py_ssize_t part_of(Py_ssize_t r, Py_ssize_t n_parts) noexcept nogil:
    """The part of row ``r``: Fibonacci hashing (a row's number says nothing of its
    traffic: Zipf-hot rows 0, 1, 2, ... land in different parts)."""
    cdef cnp.npy_uint64 h = (<cnp.npy_uint64>r * 0x9E3779B97F4A7C15ULL) >> 32
    return <Py_ssize_t>((h * <cnp.npy_uint64>n_parts) >> 32)


cdef inline Py_ssize_t _partition(const index_t* idx, Sparse* sp) noexcept nogil:
    """List the positions of each part, in order, in ``rows`` (``part_start``); returns 0,
    or -1 at the first index out of [0, n_rows) (``sp.bad_index`` set, nothing written
    but ``part_start``)."""
    cdef Py_ssize_t n_parts = sp.n_parts, n_rows = sp.n_rows, k = sp.k, i, p, r
    cdef Py_ssize_t fill[MAX_PARTS]
    cdef cnp.npy_int64* rows = sp.rows
    for p in range(n_parts + 1):
        sp.part_start[p] = 0
    for i in range(k):
        r = <Py_ssize_t>idx[i]
        if <size_t>r >= <size_t>n_rows:
            sp.bad_index = i
            return -1
        sp.part_start[part_of(r, n_parts) + 1] += 1
    for p in range(n_parts):
        sp.part_start[p + 1] += sp.part_start[p]
        fill[p] = sp.part_start[p]
    for i in range(k):
        p = part_of(<Py_ssize_t>idx[i], n_parts)
        rows[fill[p]] = i
        fill[p] += 1
    return 0


cdef inline Py_ssize_t _coalesce_part(const index_t* idx, const floating* values,
                                      floating* co, const Sparse* sp, Py_ssize_t j0,
                                      Py_ssize_t j1) noexcept nogil:
    """``_coalesce`` of the positions ``rows[j0:j1]`` (one part's, in order, their indices
    checked): its distinct rows go to ``rows[j0:j0 + u]`` (over positions already read)
    and their sums to ``co[j0:j0 + u]``; returns ``u``.  As in ``_coalesce``, a slot
    counts only if it lies in ``[j0, j0 + u)`` and ``rows`` points back at the row."""
    cdef cnp.npy_int64* slots = sp.slots
    cdef cnp.npy_int64* rows = sp.rows
    cdef Py_ssize_t d = sp.d, row_bytes = sp.row_bytes, j, i, w = j0, ahead, b
    cdef const char* va
    for j in range(j0, j1):
        ahead = j + COALESCE_AHEAD  # a later position of this part: its slot and values
        if ahead < j1:              # (rows[ahead] is still a position: w <= j < ahead)
            i = rows[ahead]
            fastopt_prefetch_w(slots + idx[i])
            va = <const char*>(values + i * d)
            b = 0
            while b < row_bytes and b < PREFETCH_BYTES:
                fastopt_prefetch_r(va + b)
                b += 64
        i = rows[j]
        w = _add_row(<Py_ssize_t>idx[i], values + i * d, co, sp, j0, w)
    return w - j0


cdef inline void _parts_job(const void* job, Py_ssize_t p0, Py_ssize_t p1) noexcept nogil:
    cdef const RowsJob* rj = <const RowsJob*>job
    cdef Sparse* sp = rj.sp
    cdef Py_ssize_t p, j0, u
    for p in range(p0, p1):
        j0 = sp.part_start[p]
        if j0 == sp.part_start[p + 1]:
            continue
        if sp.typenum == cnp.NPY_FLOAT:
            if sp.wide_indices:
                u = _coalesce_part(<const cnp.npy_int64*>sp.indices, <const float*>sp.values,
                                   <float*>sp.coalesced, sp, j0, sp.part_start[p + 1])
            else:
                u = _coalesce_part(<const cnp.npy_int32*>sp.indices, <const float*>sp.values,
                                   <float*>sp.coalesced, sp, j0, sp.part_start[p + 1])
        else:
            if sp.wide_indices:
                u = _coalesce_part(<const cnp.npy_int64*>sp.indices,
                                   <const double*>sp.values, <double*>sp.coalesced, sp, j0,
                                   sp.part_start[p + 1])
            else:
                u = _coalesce_part(<const cnp.npy_int32*>sp.indices,
                                   <const double*>sp.values, <double*>sp.coalesced, sp, j0,
                                   sp.part_start[p + 1])
        rj.update(rj.args, sp, j0, j0 + u)
        for j0 in range(j0, j0 + u):
            sp.slots[sp.rows[j0]] = -1


cdef inline void sparse_step(Sparse* sp, rows_fn update, const void* args,
                             int n_threads) noexcept nogil:
    """Coalesce, update the distinct rows on ``n_threads`` threads, reset the slots.

    One thread: one sequential coalescing pass, then the row updates.  Several: the
    step cut by rows into parts (above).  Every row is updated by exactly one thread,
    element by element: the result does not depend on ``n_threads``.  On an index out
    of range nothing is updated and ``sp.n_distinct`` is -1.
    """
    cdef Py_ssize_t u
    cdef RowsJob job
    job.update = update
    job.args = args
    job.sp = sp
    if n_threads > 1 and sp.k > 1:
        sp.n_parts = n_threads * PARTS_PER_THREAD
        if sp.n_parts > MAX_PARTS:
            sp.n_parts = MAX_PARTS
        if sp.wide_indices:
            u = _partition(<const cnp.npy_int64*>sp.indices, sp)
        else:
            u = _partition(<const cnp.npy_int32*>sp.indices, sp)
        sp.n_distinct = u
        if u < 0:
            return
        run_range(_parts_job, &job, sp.n_parts, 1, n_threads)
        return
    sp.n_parts = 0
    if sp.typenum == cnp.NPY_FLOAT:
        u = coalesce(sp, <float*>sp.coalesced)
    else:
        u = coalesce(sp, <double*>sp.coalesced)
    sp.n_distinct = u
    if u <= 0:
        return
    run_range(_rows_job, &job, u, rows_chunk(u, n_threads), n_threads)
    _reset_slots(sp, u)


cdef inline void* table_data(cnp.ndarray a, int typenum, cnp.npy_intp n0, cnp.npy_intp n1,
                             int req, str name) except? NULL:
    """Like ``array_data`` for a 2-D ``(n0, n1)`` array (a table, its state, the values)."""
    if (a is not None and native_type(a) == typenum and cnp.PyArray_NDIM(a) == 2
            and cnp.PyArray_DIM(a, 0) == n0 and cnp.PyArray_DIM(a, 1) == n1
            and (cnp.PyArray_FLAGS(a) & req) == req):
        return cnp.PyArray_DATA(a)
    if (a is not None and native_type(a) == typenum and (cnp.PyArray_NDIM(a) != 2
            or cnp.PyArray_DIM(a, 0) != n0 or cnp.PyArray_DIM(a, 1) != n1)):
        raise ValueError(f"{name} has shape {(<object>a).shape}, expected ({n0}, {n1})")
    bad_array(a, typenum, cnp.PyArray_DIM(a, 0) if a is not None else 0, req, name,
              check_shape=False)
    return NULL


cdef inline bint _is_int(cnp.ndarray a, int itemsize) noexcept:
    return (cnp.PyArray_ISINTEGER(a) and cnp.PyArray_ISSIGNED(a)
            and cnp.PyArray_ITEMSIZE(a) == itemsize and cnp.PyArray_ISNOTSWAPPED(a))


cdef inline int sparse_args(Sparse* sp, cnp.ndarray param, cnp.ndarray indices,
                            cnp.ndarray values, cnp.ndarray slots, cnp.ndarray rows,
                            cnp.ndarray coalesced, int n_threads) except -1:
    """Check the arguments every sparse kernel shares and fill ``sp``; returns param's dtype."""
    cdef int typenum = native_type(param)
    cdef cnp.npy_intp k, d, n_rows
    check_threads(n_threads)
    if typenum != cnp.NPY_FLOAT and typenum != cnp.NPY_DOUBLE:
        raise TypeError(f"param must be float32 or float64, got {(<object>param).dtype}")
    if cnp.PyArray_NDIM(param) != 2:
        raise ValueError(f"param must be 2-D (n_rows, d), got shape {(<object>param).shape}")
    n_rows = cnp.PyArray_DIM(param, 0)
    d = cnp.PyArray_DIM(param, 1)
    sp.typenum = typenum
    sp.n_rows = n_rows
    sp.d = d
    sp.row_bytes = d * cnp.PyArray_ITEMSIZE(param)
    table_data(param, typenum, n_rows, d, REQ_WRITE, "param")
    if (cnp.PyArray_NDIM(indices) != 1 or not (_is_int(indices, 4) or _is_int(indices, 8))
            or (cnp.PyArray_FLAGS(indices) & REQ_READ) != REQ_READ):
        raise ValueError(f"indices must be 1-D contiguous int32 or int64, got "
                         f"{(<object>indices).dtype} of shape {(<object>indices).shape}")
    sp.wide_indices = cnp.PyArray_ITEMSIZE(indices) == 8
    k = cnp.PyArray_DIM(indices, 0)
    sp.k = k
    sp.indices = cnp.PyArray_DATA(indices)
    sp.values = table_data(values, typenum, k, d, REQ_READ, "values")
    if (cnp.PyArray_NDIM(slots) != 1 or not _is_int(slots, 8)
            or cnp.PyArray_DIM(slots, 0) != n_rows
            or (cnp.PyArray_FLAGS(slots) & REQ_WRITE) != REQ_WRITE):
        raise ValueError(f"slots must be a writeable contiguous int64 array of shape "
                         f"({n_rows},), got {(<object>slots).dtype} {(<object>slots).shape}")
    sp.slots = <cnp.npy_int64*>cnp.PyArray_DATA(slots)
    if (cnp.PyArray_NDIM(rows) != 1 or not _is_int(rows, 8) or cnp.PyArray_DIM(rows, 0) < k
            or (cnp.PyArray_FLAGS(rows) & REQ_WRITE) != REQ_WRITE):
        raise ValueError(f"rows must be a writeable contiguous int64 array of at least {k} "
                         f"entries, got {(<object>rows).dtype} {(<object>rows).shape}")
    sp.rows = <cnp.npy_int64*>cnp.PyArray_DATA(rows)
    if cnp.PyArray_NDIM(coalesced) != 2 or cnp.PyArray_DIM(coalesced, 0) < k:
        raise ValueError(f"coalesced must be 2-D with at least {k} rows, got shape "
                         f"{(<object>coalesced).shape}")
    sp.coalesced = table_data(coalesced, typenum, cnp.PyArray_DIM(coalesced, 0), d,
                              REQ_WRITE, "coalesced")
    sp.n_distinct = 0
    sp.bad_index = -1
    sp.tables[0] = cnp.PyArray_DATA(param)
    sp.tables[1] = sp.tables[2] = sp.tables[3] = NULL
    return typenum


cdef inline int sparse_done(const Sparse* sp, cnp.ndarray indices) except -1:
    """Raise IndexError if ``sparse_step`` met an index out of range (nothing was updated)."""
    if sp.n_distinct < 0:
        raise IndexError(f"indices[{sp.bad_index}] = {(<object>indices)[sp.bad_index]} is out "
                         f"of range for {sp.n_rows} rows; no row was updated")
    return 0
