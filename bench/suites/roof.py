"""The roof: the fastest a kernel with a given memory traffic can run on this machine.

An optimizer step is a pure stream: per element it reads ``R`` arrays (param,
grad, states) and writes ``W`` of them back in place (all but grad).  The roof
kernel moves exactly that traffic with as little work as possible::

    s    = g_1[i] + ... + g_(R-W)[i]     # the read-only inputs (grad), each read once
    x_j[i] += s,  j = 1..W               # each written array read once, written once, in place

* In place, as the optimizers: the lines written were just read, so there is
  no write-allocate traffic.
* Minimal work per element.  On one core, bandwidth is bounded by how many
  cache misses are in flight, and every extra instruction per cache line
  lowers it: a loop doing five flops per element streams measurably slower
  than ``a += g`` (it was tried); this one matches NumPy's in-place ``add``.
* The read-only inputs hold ``2**-100`` (a normal number in float32 and
  float64) and the written ones values near 1, so ``x + s == x``: the values
  never drift, overflow or become subnormal however often it runs.
* Sizes: the working set is at least 4x the last-level cache and never smaller
  than the benchmark's largest dense size, rounded up to a whole million
  elements -- unless the section's arrays would then take more than
  :data:`ROOF_MEMORY_BYTES` (2 GiB; a 300 MiB L3 would need ~13 GiB): then as many
  elements as fit, and the rows' ``working_set_bytes`` say how far from 4x the LLC.  Never a power of two: with 2**24-element arrays, whose streams
  sit at exactly 64/128 MiB from each other, the same loop runs up to 2.7x
  slower on the reference machine (cache-set/DRAM-bank conflicts), which would
  be a floor, not a roof.

* Laid out as the optimizers' arrays are (:func:`make_arrays`): the first
  written array (the parameter) and the read-only ones (the gradient) come from
  NumPy's allocator as the user's arrays do, the other written ones (the state)
  from the same helper as fastopt's optimizer state, which starts each at its own
  offset within the 4 KiB page.  Arrays that all start at the same page offset
  stall each other (4K aliasing): a roof allocated plainly runs slower than the
  kernels it bounds.  The plain layout is timed too (``layout="plain"``), which
  measures what the staggering is worth.

Compiled with numba (``nogil``, no bounds checks, NumPy error model; LLVM
vectorizes the loop) and run on ``threads`` contiguous chunks by a pool of
Python threads (the main thread takes chunk 0): dispatch costs tens of
microseconds against tens of milliseconds of streaming.

Reported as GB/s = (R + W) * itemsize * n / time for each traffic pattern,
dtype and thread count; each dense kernel is reported as a fraction of the
roof of its own pattern, dtype and thread count.
"""
import concurrent.futures
import math

import numpy as np
from numba import njit

from ..peers import fastopt_impl

_FLAGS = dict(nogil=True, cache=True, error_model="numpy", boundscheck=False, fastmath=False)

#: Value of the read-only inputs: x + READ_ONLY_VALUE == x for the written arrays' values.
READ_ONLY_VALUE = 2.0 ** -100


@njit(**_FLAGS)
def _rw_2_1(a, g):
    for i in range(a.size):
        a[i] += g[i]


@njit(**_FLAGS)
def _rw_3_2(a, b, g):
    for i in range(a.size):
        s = g[i]
        a[i] += s
        b[i] += s


@njit(**_FLAGS)
def _rw_4_3(a, b, c, g):
    for i in range(a.size):
        s = g[i]
        a[i] += s
        b[i] += s
        c[i] += s


@njit(**_FLAGS)
def _rw_5_4(a, b, c, d, g):
    for i in range(a.size):
        s = g[i]
        a[i] += s
        b[i] += s
        c[i] += s
        d[i] += s


_KERNELS = {(2, 1): _rw_2_1, (3, 2): _rw_3_2, (4, 3): _rw_4_3, (5, 4): _rw_5_4}


def _generated(reads, writes):
    """A kernel for any other pattern (not cached on disk: generated source)."""
    if not 1 <= writes < reads:
        raise ValueError(f"need 1 <= writes < reads, got R={reads} W={writes}")
    names = [f"x{i}" for i in range(reads)]
    body = [f"def k({', '.join(names)}):",
            "    for i in range(x0.size):",
            f"        s = {' + '.join(n + '[i]' for n in names[writes:])}"]
    body += [f"        {n}[i] += s" for n in names[:writes]]
    ns = {}
    exec("\n".join(body), ns)  # noqa: S102 - source built above from integers
    return njit(**dict(_FLAGS, cache=False))(ns["k"])


def get_kernel(reads, writes):
    k = _KERNELS.get((reads, writes))
    if k is None:
        k = _KERNELS[(reads, writes)] = _generated(reads, writes)
    return k


_pool = None
_pool_size = 0


def _executor(n):
    global _pool, _pool_size
    if _pool is None or _pool_size < n:
        if _pool is not None:
            _pool.shutdown()
        _pool = concurrent.futures.ThreadPoolExecutor(max_workers=n, thread_name_prefix="roof")
        _pool_size = n
    return _pool


class Stream:
    """One roof kernel call on fixed arrays: ``Stream(...)()`` streams them once.

    ``arrays[:writes]`` are updated in place, ``arrays[writes:reads]`` only read.
    """

    def __init__(self, arrays, reads, writes, threads):
        self.arrays = arrays[:reads]
        self.reads, self.writes, self.threads = reads, writes, threads
        self.kernel = get_kernel(reads, writes)
        n = arrays[0].size
        bounds = [c * n // threads for c in range(threads + 1)]
        self.chunks = [[a[bounds[c]:bounds[c + 1]] for a in self.arrays] for c in range(threads)]
        self.pool = _executor(threads - 1) if threads > 1 else None
        self.n = n

    def __call__(self):
        k = self.kernel
        if self.pool is None:
            k(*self.chunks[0])
            return
        futures = [self.pool.submit(k, *chunk) for chunk in self.chunks[1:]]
        k(*self.chunks[0])
        for f in futures:
            f.result()

    def bytes(self):
        return (self.reads + self.writes) * self.arrays[0].itemsize * self.n


@njit(**_FLAGS)
def _adam_divisions(p, v, step, scale, eps):
    for i in range(p.size):
        p[i] = p[i] - step * v[i] / (np.sqrt(v[i]) / scale + eps)


class DividerBound:
    """The other bound of Adam's step: its arithmetic that cannot overlap, one square root
    and two divisions per element (``sqrt(v) / c``, ``(step * v) / denom``, IEEE
    operations that the bit-for-bit contract keeps), on one array read and one written in
    place.  On cache-resident arrays, where the memory roof does not bind, no Adam step on
    one thread can be faster: the divider runs both operations, and wider vectors do not
    help (AVX-512 divides no faster per element than AVX2 on the reference machine).

    ``DividerBound(n, dtype)()`` runs it once, on one thread; the values never drift
    (``step = 2**-100``: ``p - step * ... == p``)."""

    def __init__(self, n, dtype):
        t = np.dtype(dtype).type
        self.p = np.ones(n, dtype)
        self.v = (1.0 + (np.arange(n) % 7) / 8).astype(dtype)
        self.scalars = (t(READ_ONLY_VALUE), t(0.5), t(1e-8))

    def __call__(self):
        _adam_divisions(self.p, self.v, *self.scalars)


#: The most memory the roof section's arrays may take, in bytes.  "4x the LLC for every
#: pattern" needs ~13 GiB on a machine with a 300 MiB L3 (Intel Xeon, 2 cores, as the
#: published run's): there the roof streams less than 4x the LLC, and its rows say how
#: much (``working_set_bytes``), rather than a full run needing more memory than a
#: laptop has.
ROOF_MEMORY_BYTES = 2 * 2 ** 30


def array_count(patterns):
    """``(max_r, read_only, total)`` of :func:`run_roof`'s arrays for these (R, W) patterns:
    ``max_r`` arrays in the optimizer layout (the last ``read_only`` of them read-only),
    plus the plain layout's own state arrays."""
    max_r = max(r for r, _ in patterns)
    read_only = max(r - w for r, w in patterns)
    return max_r, read_only, max_r + max(max_r - read_only - 1, 0)


def roof_size(patterns, dtype, llc_bytes, at_least, at_most=None,
              memory_bytes=ROOF_MEMORY_BYTES):
    """Elements per array: working set >= 4x the LLC for every pattern and >= ``at_least``,
    rounded up to a whole million (never a power of two: see the module docstring), but
    all the section's arrays (:func:`array_count`) within ``memory_bytes`` (rounded down to
    a whole million; never below ``at_least``); ``at_most`` caps it (``--quick``: a smoke
    test on cache-sized arrays, not a roof)."""
    itemsize = np.dtype(dtype).itemsize
    need = max(math.ceil(4 * llc_bytes / (r * itemsize)) for r, _ in patterns)
    need = math.ceil(need / 1_000_000) * 1_000_000
    cap = memory_bytes // (array_count(patterns)[2] * itemsize) // 1_000_000 * 1_000_000
    n = max(int(at_least), min(need, cap))
    return n if at_most is None else min(n, int(at_most))


def plain_states(n, count, dtype):
    """The plain layout's state arrays 1 .. ``count`` (NumPy's allocator), with the values
    :func:`make_arrays` gives them."""
    return [np.full(n, 1.0 + 0.25 * i, dtype=dtype) for i in range(1, count + 1)]


LAYOUTS = ("optimizer", "plain")


def make_arrays(n, count, dtype, read_only=1, layout="optimizer"):
    """``count`` arrays of ``n`` elements, pages touched: the first ``count - read_only`` (to be
    written) hold values near 1, the last ``read_only`` hold :data:`READ_ONLY_VALUE`.

    ``layout="optimizer"``: placed as an optimizer step's arrays are -- array 0 (the
    parameter) and the read-only ones (the gradient) by NumPy's allocator, written array
    ``j >= 1`` (state slot ``j - 1``) by fastopt's own state allocator
    (:func:`bench.peers.fastopt_impl.state_full`), so every array starts at the same offset
    within its page as the kernel's array it stands for.  ``layout="plain"``: all by NumPy.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    writes = count - read_only
    out = []
    for i in range(count):
        value = 1.0 + 0.25 * i if i < writes else READ_ONLY_VALUE
        if layout == "optimizer" and 1 <= i < writes:
            out.append(fastopt_impl.state_full(n, value, dtype, slot=i - 1))
        else:
            out.append(np.full(n, value, dtype=dtype))
    return out


def page_offsets(arrays):
    """Each array's byte offset within its 4 KiB page (what 4K aliasing depends on)."""
    return [fastopt_impl.page_offset(a) for a in arrays]


def check():
    """The roof kernels stream what the docstring says: x_j += sum of the read-only inputs."""
    for (r, w) in list(_KERNELS) + [(4, 2)]:
        xs = [np.arange(5, dtype=np.float64) + i for i in range(r)]
        s = sum(xs[w:])
        expect = [x + s for x in xs[:w]] + [x.copy() for x in xs[w:]]
        Stream(xs, r, w, 2)()
        for x, e in zip(xs, expect):
            if not np.array_equal(x, e):
                raise AssertionError(f"roof kernel R={r} W={w} is wrong")
    bound = DividerBound(100, np.float32)
    before = bound.p.copy()
    bound()
    if not np.array_equal(bound.p, before):
        raise AssertionError("divider bound values drift")
    xs = make_arrays(10, 4, np.float32)
    before = [x.copy() for x in xs]
    Stream(xs, 4, 3, 1)()
    if not all(np.array_equal(a, b) for a, b in zip(xs, before)):
        raise AssertionError("roof values drift: x + READ_ONLY_VALUE != x")
