"""Sparse row kernels of the numba backend: the coalescing pass, shared by every algorithm.

A sparse step (see "Sparse row kernels" in :mod:`fastopt.backends`) is done in three
passes over the caller's per-thread workspace ``(slots, rows, coalesced)``:

1. :func:`coalesce` (sequential, prefetching the slot of the index ``COALESCE_AHEAD``
   positions ahead): the distinct rows, in order of first appearance, go
   to ``rows[:u]``, and the sum of each one's values to ``coalesced[:u]``, starting
   from ``+0.0`` and adding in order of appearance -- ``((0 + v_first) + v_second) +
   ...``, exactly what the reference's ``np.add.at`` into a zero table computes
   (``-0.0`` becomes ``+0.0`` as there);
2. the dense update of the algorithm on the ``u`` distinct rows: each module's
   ``<algorithm>_rows`` (``<algorithm>_serial`` on the 1-D row views of its arrays
   made :func:`unowned` first: no reference counting per row), called once by
   ``<algorithm>_sparse_serial`` or once per contiguous chunk of ``rows[:u]`` by
   ``<algorithm>_sparse_parallel`` (the rows are distinct, so the chunks touch
   disjoint rows and the result does not depend on the number of chunks); Adagrad's
   asks for the table and state rows ``ROWS_AHEAD`` distinct rows ahead
   (:func:`prefetch_row`, as the Cython kernels; measured in ``csrc/README.md``);
3. :func:`release`: ``slots`` back to all ``-1``.

State arrays reach the compiled code flattened to 1-D (the Python wrapper reshapes
them, a view): row ``r`` of a state of width ``d`` is ``state[r * d:r * d + d]``, and
the same slice of an *unused* (empty) state is empty -- it is never indexed, and no
out-of-bounds view is ever formed.  Flattening also keeps one compiled specialization
for used and unused states alike.

Caveat (as for :mod:`fastopt.backends.numba._jit`): numba does not invalidate the
cached kernels of the algorithm modules when this file changes; after editing it,
delete ``fastopt/backends/numba/__pycache__/*.nb[ic]``.
"""
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from fastopt.backends.numba import _jit

#: As the Cython kernels (``csrc/_kernel_common.pxd``): coalescing asks for the slot of
#: the index this many positions ahead (``slots`` is 8 bytes per table row, 8 MB for 10**6
#: rows, read at random: without it each lookup waits for memory).
COALESCE_AHEAD = 16
#: As the Cython kernels: a row update asks for the table and state rows of the distinct
#: row this many rows ahead (at most ``PREFETCH_BYTES`` of each).
ROWS_AHEAD = 4
PREFETCH_BYTES = 512


@intrinsic
def unowned(typingctx, items):
    """The tuple ``items`` with each array in it without its owner (its NRT meminfo and
    parent set to NULL; other items as they are): views made from these arrays
    (``param[r]``, ``state[a:b]``) update no reference count.

    A row loop that passes such views to a function it does not inline otherwise
    increments and decrements each owner's count, atomically, for every row: on one
    thread a locked instruction per view (a fence: the loads of the next rows cannot
    start early), on two a cache line that the threads take from each other (the
    2-thread sparse step was slower than the 1-thread one).  The arrays are valid only
    while the originals are alive, i.e. within the call that received them.
    """
    if not isinstance(items, types.BaseTuple):
        return None
    sig = items(items)

    def codegen(context, builder, sig, args):
        out = []
        for i, t in enumerate(sig.args[0].types):
            value = builder.extract_value(args[0], i)
            if isinstance(t, types.Array):
                ary = context.make_array(t)(context, builder, value)
                ary.meminfo = cgutils.get_null_value(ary.meminfo.type)
                ary.parent = cgutils.get_null_value(ary.parent.type)
                value = ary._getvalue()
            else:
                context.nrt.incref(builder, t, value)  # returned as a new reference
            out.append(value)
        return context.make_tuple(builder, sig.return_type, out)
    return sig, codegen


@_jit.element
def prefetch_row(arr, start, n):
    """Ask for the cache lines of the ``n`` elements of ``arr`` (flat, C-contiguous) from
    flat index ``start`` on, at most ``PREFETCH_BYTES`` of them, to be written."""
    step = 64 // _jit.itemsize(arr)
    stop = start + min(n, PREFETCH_BYTES // _jit.itemsize(arr))
    k = start
    while k < stop:  # (a while loop: range() with a non-constant step costs a division)
        _jit.prefetch_w(arr, k)
        k += step


@_jit.serial
def coalesce(indices, values, slots, rows, coalesced):
    """Sum the rows ``values[i]`` per distinct ``indices[i]``; returns ``u``, the number
    of distinct rows.

    Afterwards ``rows[:u]`` are the distinct indices in order of first appearance,
    ``coalesced[j]`` is the summed gradient of row ``rows[j]`` and ``slots[rows[j]] ==
    j``.  ``slots`` must be all ``-1`` on entry (on the rows of ``indices``, at least);
    :func:`release` restores it.  ``indices`` may be int32 or int64, every entry in
    ``[0, slots.size)`` (not checked here).
    """
    d = values.shape[1]
    zero = coalesced.dtype.type(0)
    u = 0
    k = indices.size
    for i in range(k):
        if i + COALESCE_AHEAD < k:
            _jit.prefetch_w(slots, indices[i + COALESCE_AHEAD])
        r = indices[i]
        s = slots[r]
        v = values[i]
        if s < 0:
            slots[r] = u
            rows[u] = r
            c = coalesced[u]
            for j in range(d):
                c[j] = zero + v[j]  # +0.0 + v: not folded to v without fastmath
            u += 1
        else:
            c = coalesced[s]
            for j in range(d):
                c[j] = c[j] + v[j]
    return u


@_jit.serial
def release(slots, rows, u):
    """Restore ``slots`` to all ``-1`` after a :func:`coalesce` that returned ``u``."""
    for j in range(u):
        slots[rows[j]] = -1


@_jit.callee
def for_rows(body, args):
    """The ``pooled`` twin of ``<algorithm>_sparse_parallel`` (``args``: its arguments,
    then ``n_threads`` and the pool's address): :func:`coalesce`, then ``body`` (the
    module's ``<algorithm>_rows``) on chunks of the distinct rows on fastopt's pool, then
    :func:`release`."""
    kargs = unowned(args[:-2])  # the chunks' calls then count no references either
    slots, rows, coalesced = kargs[-3], kargs[-2], kargs[-1]
    u = coalesce(kargs[1], kargs[2], slots, rows, coalesced)
    n_threads = args[-2]
    _jit.pool_for_rows(args[-1], u, _jit.chunk_size(u, n_threads, 1), n_threads, body,
                       (kargs,))
    release(slots, rows, u)
