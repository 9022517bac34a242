r"""GloVe word vectors, trained with fastopt's Adagrad row kernel inside a compiled loop.

GloVe (Pennington, Socher and Manning, 2014) fits word vectors w_i, context
vectors w̃_j and biases b_i, b̃_j to the logarithm of the
co-occurrence counts x_ij of a corpus, by minimising

.. math::

    J = Σ_((i,j): x_ij > 0) ½  f(x_ij)
        (w_i · w̃_j + b_i + b̃_j - log x_ij)²,
    f(x) = min(1, (x / x_max)^α)

(the ½ is GloVe's program's, not the paper's).  Training makes passes (epochs) over
the non-zero co-occurrence *records* (i, j, x_ij) in a shuffled order; for
each record, with δ = w_i · w̃_j + b_i + b̃_j - log x_ij,

.. math::

    g_(w_i) = f(x_ij) δ w̃_j,    g_(w̃_j) = f(x_ij) δ  w_i,
    g_(b_i) = g_(b̃_j) = f(x_ij) δ

and each of the two rows [w_i, b_i] and [w̃_j, b̃_j] takes one
Adagrad step -- :func:`fastopt.backends.numba.adagrad.adagrad_serial`, the numba
backend's row kernel, called from this module's ``@njit`` loop, without the GIL, in
several threads at once (Hogwild!: no locks; rows shared by two threads may lose an
update now and then, which SGD shrugs off).  The cost reported per epoch is the mean
of ½ f(x) δ² over the records, each taken *before* its update:
the figure GloVe's own program prints.

**Adagrad as GloVe uses it.**  GloVe's program steps by
η g / √(1 + Σ_past (η g)²) (learning rate
η = 0.05, accumulators starting at 1).  That is
g / √(1/η² + Σ_past g²): fastopt's Adagrad with ``lr=1``
and ``initial_accumulator_value=1/eta**2``, which this trainer uses -- except that
standard Adagrad (torch's, fastopt's) also counts the current gradient in the
accumulator.  The two give the same cost curve to well under 1% (measured in
``bench/glove/run.py``).

Pieces, usable on their own:

* :class:`Vocabulary` -- words by decreasing count (ties by the word), ``min_count``;
* :func:`cooccurrence` -- the counts of a text corpus: a symmetric window of
  ``window`` words on each side within a line (a line is a document), each pair
  weighted by ``1/distance`` (GloVe's ``cooccur``); out-of-vocabulary words are
  dropped before windowing, as GloVe does.  Like ``cooccur -memory``, it keeps within
  ``memory_mb``: a dense table for the frequent pairs, sorted runs of the others
  spilled to temporary files and merged;
* :class:`Cooccurrence` -- the records, with :meth:`Cooccurrence.save` and
  :func:`read_cooccurrence` for GloVe's binary format (``int32 word1, int32 word2,
  float64 count``, 1-based word ids);
* :class:`GloVe` -- the trainer: :meth:`GloVe.fit`, :meth:`GloVe.vectors`,
  :meth:`GloVe.save_text`; float32 or float64 tables, or float16/bfloat16 ones with
  float32 Adagrad sums, rounded to nearest or stochastically (see :class:`GloVe`).

Example::

    from fastopt.embeddings import glove
    lines = ["the cat sat on the mat", "the dog sat on the log"] * 50
    vocab = glove.Vocabulary.from_corpus(lines, min_count=1)
    records = glove.cooccurrence(lines, vocab, window=5)
    model = glove.GloVe(len(vocab), dim=8, seed=0)
    costs = model.fit(records, epochs=5, n_threads=1, progress=False)
    assert costs[-1] < costs[0]
"""
import math
import mmap
import numbers
import os
import sys
import threading
import time
from collections import Counter

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from .._internal import validation as check
from ..train import _args
from .._internal.numerics import GOLDEN as _GOLDEN, mix64_int as _mix64_int
from ..backends.numba._sparse import unowned
from ..backends.numba.adagrad import adagrad_serial
# the 16-bit conversions and their stream, shared with the optimizers' 16-bit parameters
from ..backends.numba.half import (_FLOAT16_VALUES, _load_row, _load_span,  # noqa: F401
                                   _nearest_bits, _round_bits, _store_row, _store_span, _widen)
from ..backends.python.half import (round_reference as _round_reference,
                                    uniforms_reference as _uniforms_reference)

#: GloVe's binary co-occurrence record (``CREC`` in GloVe's C code).
RECORD_DTYPE = np.dtype([("word1", "<i4"), ("word2", "<i4"), ("count", "<f8")])

# Records per call of the compiled loop: the progress bar advances this often.
_BLOCK = 1 << 18
# The compiled loop asks for the rows of record r + _AHEAD while it works on record r.
_AHEAD = 8

_njit = numba.njit(nogil=True, cache=True, error_model="numpy", boundscheck=False,
                   fastmath=False)
# small helpers, inlined into the loops that call them (numba's IR inlining:
# LLVM would leave the larger ones as calls, one per element)
_njit_inline = numba.njit(nogil=True, cache=True, error_model="numpy", boundscheck=False,
                          fastmath=False, inline="always")


# ------------------------------------------------------------------------ vocabulary

def _lines(corpus):
    """The lines of ``corpus``: a path (str or os.PathLike) or an iterable of strings."""
    if isinstance(corpus, (str, os.PathLike)):
        with open(corpus, encoding="utf-8") as f:
            yield from f
    else:
        for line in corpus:
            if not isinstance(line, str):
                raise TypeError(f"corpus must be a path or an iterable of str lines, "
                                f"got an item of type {type(line).__name__}")
            yield line


class Vocabulary:
    """Words by decreasing count, ties broken by the word (GloVe's ``vocab_count``).

    ``words[i]`` is the word of id ``i`` and ``counts[i]`` its count in the corpus;
    ``index[word]`` is its id.
    """

    def __init__(self, words, counts):
        self.words = list(words)
        self.counts = np.asarray(counts, dtype=np.int64)
        if self.counts.shape != (len(self.words),):
            raise ValueError(f"counts must have one entry per word ({len(self.words)}), "
                             f"got shape {self.counts.shape}")
        self.index = {w: i for i, w in enumerate(self.words)}
        if len(self.index) != len(self.words):
            raise ValueError("words must be distinct")

    @classmethod
    def from_corpus(cls, corpus, *, min_count=5, max_size=None):
        """Count the whitespace-separated tokens of ``corpus`` (a path or lines); keep
        the words seen at least ``min_count`` times, at most ``max_size`` of them."""
        min_count = _args.integer("min_count", min_count, 1)
        if max_size is not None:
            max_size = _args.integer("max_size", max_size, 0)
        counter = Counter()
        for line in _lines(corpus):
            counter.update(line.split())
        kept = sorted(((-c, w) for w, c in counter.items() if c >= min_count))
        if max_size is not None:
            kept = kept[:max_size]
        return cls([w for _, w in kept], [-c for c, _ in kept])

    def __len__(self):
        return len(self.words)

    def save(self, path):
        """GloVe's ``vocab.txt``: ``word count`` per line, in id order."""
        with open(path, "w", encoding="utf-8") as f:
            for w, c in zip(self.words, self.counts):
                f.write(f"{w} {c}\n")

    @classmethod
    def load(cls, path):
        words, counts = [], []
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                parts = line.split()
                if len(parts) != 2:
                    raise ValueError(f"{path}:{n}: expected 'word count', got {line!r}")
                words.append(parts[0])
                counts.append(int(parts[1]))
        return cls(words, counts)

    def encode(self, corpus):
        """``(ids, starts)``: the in-vocabulary tokens of every line as int32 ids, line
        ``k`` being ``ids[starts[k]:starts[k + 1]]``.

        A corpus file of ASCII text without carriage returns (what
        ``python -m bench.glove.corpus`` writes) is read as bytes and encoded by a compiled
        loop (a hash table of the vocabulary's words); any other corpus line by line in
        Python.  Both split lines at newlines and words at Python's ``str.split()``
        whitespace, and give the same result."""
        if isinstance(corpus, (str, os.PathLike)):
            data = np.fromfile(corpus, np.uint8)
            if not data.size or (data.max() < 0x80 and not np.any(data == 13)):
                return self._encode_ascii(data)
        index = self.index
        ids, starts, n = [], [0], 0
        for line in _lines(corpus):
            row = [index[w] for w in line.split() if w in index]
            ids.append(np.array(row, dtype=np.int32))
            n += len(row)
            starts.append(n)
        flat = np.concatenate(ids) if ids else np.empty(0, np.int32)
        return flat, np.array(starts, dtype=np.int64)


    def _encode_ascii(self, data):
        """:meth:`encode` of the bytes ``data`` of an ASCII file without ``\\r``."""
        table = getattr(self, "_table", None)
        if table is None:
            raw = [w.encode("utf-8") for w in self.words]
            lengths = np.fromiter((len(b) for b in raw), np.int64, len(raw))
            starts = np.zeros(len(raw) + 1, np.int64)
            np.cumsum(lengths, out=starts[1:])
            chars = np.frombuffer(b"".join(raw), np.uint8) if raw else np.empty(0, np.uint8)
            size = 1 << max(4, (2 * len(raw)).bit_length())  # load factor <= 1/2
            slots = np.full(size, -1, np.int32)
            _hash_insert(chars, starts, slots)
            table = self._table = (chars, starts, slots)
        ids = np.empty(data.size // 2 + 1, np.int32)
        line_ends = np.empty(int(np.count_nonzero(data == 10)) + 1, np.int64)
        n_ids, n_lines = _encode_bytes(data, *table, ids, line_ends)
        starts = np.empty(n_lines + 1, np.int64)
        starts[0] = 0
        starts[1:] = line_ends[:n_lines]
        return ids[:n_ids].copy(), starts


_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3


@_njit
def _is_space(c):
    """Python's ``str.split()`` whitespace among ASCII bytes (``\\n`` included)."""
    return c == 32 or (9 <= c <= 13) or (28 <= c <= 31)


@_njit
def _fnv1a(data, lo, hi):
    h = np.uint64(_FNV_OFFSET)
    for k in range(lo, hi):
        h = (h ^ np.uint64(data[k])) * np.uint64(_FNV_PRIME)
    return h


@_njit
def _hash_insert(chars, starts, slots):
    """Put word ``w`` (``chars[starts[w]:starts[w + 1]]``) of every id into the
    open-addressing table ``slots`` (``-1``: empty; linear probing)."""
    mask = np.uint64(slots.size - 1)
    for w in range(starts.size - 1):
        s = _fnv1a(chars, starts[w], starts[w + 1]) & mask
        while slots[s] >= 0:
            s = (s + np.uint64(1)) & mask
        slots[s] = w


@_njit
def _encode_bytes(data, chars, starts, slots, ids, line_ends):
    """Split ``data`` into lines at ``\\n`` (a last line without one counts too) and words
    at whitespace; write the ids of the words found in the table (the first id of equal
    words) to ``ids`` and the end of every line in ``ids`` to ``line_ends``.  Returns
    ``(number of ids, number of lines)``."""
    n = data.size
    mask = np.uint64(slots.size - 1)
    m = 0
    lines = 0
    pos = 0
    while pos < n:
        c = data[pos]
        if c == 10:
            line_ends[lines] = m
            lines += 1
            pos += 1
            continue
        if _is_space(c):
            pos += 1
            continue
        start = pos
        while pos < n and not _is_space(data[pos]):
            pos += 1
        length = pos - start
        s = _fnv1a(data, start, pos) & mask
        while slots[s] >= 0:
            w = slots[s]
            lo = starts[w]
            if starts[w + 1] - lo == length:
                same = True
                for k in range(length):
                    if chars[lo + k] != data[start + k]:
                        same = False
                        break
                if same:
                    ids[m] = w
                    m += 1
                    break
            s = (s + np.uint64(1)) & mask
    if n > 0 and data[n - 1] != 10:
        line_ends[lines] = m
        lines += 1
    return m, lines


# --------------------------------------------------------------------- co-occurrence

class Cooccurrence:
    """Co-occurrence records: ``word1``, ``word2`` (int32, 0-based ids) and ``count``
    (float64 > 0), one record per distinct ordered pair."""

    def __init__(self, word1, word2, count):
        self.word1 = np.ascontiguousarray(word1, dtype=np.int32)
        self.word2 = np.ascontiguousarray(word2, dtype=np.int32)
        self.count = np.ascontiguousarray(count, dtype=np.float64)
        self._check_shapes()

    def __len__(self):
        return self.word1.size

    def _check_shapes(self):
        n = self.word1.shape
        if self.word1.ndim != 1 or self.word2.shape != n or self.count.shape != n:
            raise ValueError(f"word1, word2 and count must be 1-D of one length, got shapes "
                             f"{self.word1.shape}, {self.word2.shape}, {self.count.shape}")

    def check(self, vocab_size):
        """Raise unless every id is in ``[0, vocab_size)`` and every count is > 0 and
        finite (the compiled loop indexes without bounds checks and takes logs)."""
        self._check_shapes()
        for name, ids in (("word1", self.word1), ("word2", self.word2)):
            if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
                bad = ids[(ids < 0) | (ids >= vocab_size)][0]
                raise IndexError(f"{name} id {bad} is out of range for a vocabulary of "
                                 f"{vocab_size} words")
        if self.count.size and not (np.all(self.count > 0) and np.all(np.isfinite(self.count))):
            raise ValueError("count must be > 0 and finite in every record")

    def save(self, path):
        """Write GloVe's binary format (ids 1-based, as GloVe's programs expect), a
        million records at a time."""
        chunk = 1 << 20
        records = np.empty(min(chunk, len(self)), RECORD_DTYPE)
        with open(path, "wb") as f:
            for lo in range(0, len(self), chunk):
                part = records[:min(chunk, len(self) - lo)]
                np.add(self.word1[lo:lo + chunk], 1, out=part["word1"])
                np.add(self.word2[lo:lo + chunk], 1, out=part["word2"])
                part["count"] = self.count[lo:lo + chunk]
                part.tofile(f)


def read_cooccurrence(path):
    """Read GloVe's binary co-occurrence file (``cooccur``'s or ``shuffle``'s output).

    Returns a :class:`Cooccurrence` (ids converted to 0-based int32, counts float64).

    Raises:
        OSError: the file cannot be read.
        ValueError: a file whose size is not a whole number of 16-byte records, an id
            < 1.  (Counts are checked by :meth:`Cooccurrence.check`, which
            :meth:`GloVe.fit` runs.)
    """
    size = os.path.getsize(path)
    if size % RECORD_DTYPE.itemsize:
        raise ValueError(f"{path}: size {size} is not a multiple of the "
                         f"{RECORD_DTYPE.itemsize}-byte record")
    records = np.fromfile(path, RECORD_DTYPE)
    if records.size and min(records["word1"].min(), records["word2"].min()) < 1:
        raise ValueError(f"{path}: word ids must start at 1 (GloVe's format)")
    return Cooccurrence(records["word1"] - 1, records["word2"] - 1, records["count"])


#: Default memory budget of :func:`cooccurrence` (MiB): the dense table of frequent pairs
#: and the buffer of the others (the corpus and the result come on top).
DEFAULT_MEMORY_MB = 1024
#: Bytes per dense-table entry (float64), and per buffered pair while it is sorted
#: (key and value, and the radix sort's second copy of both).
_DENSE_BYTES = 8
_BUFFER_BYTES = 32
#: Bits per digit of the radix sort of the buffer.
_RADIX_BITS = 11
#: The merge runs over this many ranges of word1, dropping the spilled runs' pages it has
#: read after each (they would otherwise count in the resident memory until the end).
_MERGE_SEGMENTS = 16


def _dense_rows(vocab_size, max_product):
    """Row lengths of the dense table: row ``w1`` holds ``w2 < min(V, max_product // (w1 + 1))``
    (GloVe's ``(w1 + 1) * (w2 + 1) <= max_product``, ids ranked by frequency)."""
    rows = np.minimum(vocab_size, max_product // np.arange(1, vocab_size + 1, dtype=np.int64))
    return rows, int(rows.sum())


def _plan(vocab_size, memory_mb, window):
    """``(row_len, offsets, dense_entries, buffer_entries)`` for a memory budget: half of it
    for the dense table (the largest ``max_product`` whose table fits), half for the
    buffer (at least room for one token's pairs)."""
    budget = memory_mb * 2 ** 20
    entries = int(budget / 2 / _DENSE_BYTES)
    lo, hi = 0, max(1, vocab_size) ** 2 + 1  # the largest max_product whose rows fit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _dense_rows(vocab_size, mid)[1] <= entries:
            lo = mid
        else:
            hi = mid - 1
    row_len, total = _dense_rows(vocab_size, lo)
    offsets = np.zeros(vocab_size + 1, np.int64)
    np.cumsum(row_len, out=offsets[1:])
    buffer_entries = max(int(budget / 2 / _BUFFER_BYTES), 4 * window + 4)
    return row_len, offsets, total, buffer_entries


@_njit
def _count_pairs(ids, starts, line, pos, window, symmetric, weighted, vocab_size, row_len,
                 offsets, dense, keys, values, used):
    """Add the pairs of the tokens from ``(line, pos)`` on: a frequent pair to its cell of
    ``dense`` (row ``w1`` at ``offsets[w1]``, ``w2 < row_len[w1]``), any other one appended
    to the buffer ``keys`` (int64 ``word1 * vocab_size + word2``) / ``values``.  Stops
    before a token whose pairs might not fit the buffer.  Returns ``(line, pos, used)``."""
    limit = keys.size
    n_lines = starts.size - 1
    while line < n_lines:
        start, stop = starts[line], starts[line + 1]
        if pos < start:
            pos = start
        while pos < stop:
            if used + 2 * window > limit:
                return line, pos, used
            w2 = ids[pos]
            first = max(start, pos - window)
            for k in range(pos - 1, first - 1, -1):  # the context words to the left
                w1 = ids[k]
                x = 1.0 / (pos - k) if weighted else 1.0
                for side in range(2 if symmetric else 1):
                    a, b = (w1, w2) if side == 0 else (w2, w1)
                    if b < row_len[a]:
                        dense[offsets[a] + b] += x
                    else:
                        keys[used] = np.int64(a) * vocab_size + b
                        values[used] = x
                        used += 1
            pos += 1
        line += 1
    return line, pos, used


@_njit
def _radix_sort(keys, values, tmp_keys, tmp_values, n, key_bits):
    """Sort ``keys[:n]`` (>= 0, < 2**key_bits) with their ``values``, stably (LSD radix,
    ``_RADIX_BITS`` a digit, the histograms of all digits in one pass); ``tmp_*`` are as
    large.  Returns the pair of arrays that holds the result (``keys, values`` or
    ``tmp_keys, tmp_values``)."""
    radix = 1 << _RADIX_BITS
    digits = max(1, -(-key_bits // _RADIX_BITS))
    counts = np.zeros((digits, radix), np.int64)
    mask = radix - 1
    for i in range(n):
        k = keys[i]
        for d in range(digits):
            counts[d, (k >> (d * _RADIX_BITS)) & mask] += 1
    src_k, src_v, dst_k, dst_v = keys, values, tmp_keys, tmp_values
    for d in range(digits):
        total = 0
        for b in range(radix):
            c = counts[d, b]
            counts[d, b] = total
            total += c
        shift = d * _RADIX_BITS
        for i in range(n):
            k = src_k[i]
            b = (k >> shift) & mask
            p = counts[d, b]
            dst_k[p] = k
            dst_v[p] = src_v[i]
            counts[d, b] = p + 1
        src_k, src_v, dst_k, dst_v = dst_k, dst_v, src_k, src_v
    return src_k, src_v


@_njit
def _reduce_sorted(keys, values, n):
    """Sum the values of equal keys of the sorted ``keys[:n]``, in place, each key's
    values in buffer (corpus) order from 0.0; returns the number of distinct keys."""
    m = -1
    for i in range(n):
        if m >= 0 and keys[m] == keys[i]:
            values[m] += values[i]
        else:
            m += 1
            keys[m] = keys[i]
            values[m] = 0.0 + values[i]
    return m + 1


@_njit
def _heap_less(keys, heads, a, b):
    ka, kb = keys[heads[a]], keys[heads[b]]
    return ka < kb or (ka == kb and a < b)  # ties: the earlier run first


@_njit
def _sift_down(heap, size, keys, heads, i):
    while True:
        c = 2 * i + 1
        if c >= size:
            return
        if c + 1 < size and _heap_less(keys, heads, heap[c + 1], heap[c]):
            c += 1
        if not _heap_less(keys, heads, heap[c], heap[i]):
            return
        heap[i], heap[c] = heap[c], heap[i]
        i = c


@_njit
def _merge(row_len, offsets, dense, vocab_size, keys, values, heads, ends, w1_lo, w1_hi,
           word1, word2, count, m):
    """Write every pair whose word1 is in ``[w1_lo, w1_hi)`` in key order, from record
    ``m`` on: the dense table's cells that were hit, and the sorted runs
    ``keys/values[heads[r]:ends[r]]`` (the part of each run in that range) merged, a key's
    run sums added in run order from 0.0.  Returns the number of records written so far."""
    n_runs = heads.size
    heads = heads.copy()
    heap = np.empty(n_runs, np.int64)
    size = 0
    for r in range(n_runs):
        if heads[r] < ends[r]:
            heap[size] = r
            size += 1
    for i in range(size // 2 - 1, -1, -1):
        _sift_down(heap, size, keys, heads, i)
    w1 = w1_lo
    w2 = 0  # the next dense cell to look at
    while True:
        run_key = keys[heads[heap[0]]] if size > 0 else np.int64(-1)
        # the next hit dense cell, if it comes before the runs' smallest key
        while w1 < w1_hi and (w2 >= row_len[w1] or dense[offsets[w1] + w2] == 0.0):
            if w2 >= row_len[w1]:
                w1 += 1
                w2 = 0
            else:
                w2 += 1
        dense_key = np.int64(w1) * vocab_size + w2 if w1 < w1_hi else np.int64(-1)
        if dense_key < 0 and run_key < 0:
            return m
        if dense_key >= 0 and (run_key < 0 or dense_key < run_key):
            word1[m], word2[m], count[m] = w1, w2, dense[offsets[w1] + w2]
            m += 1
            w2 += 1
            continue
        total = 0.0
        while size > 0 and keys[heads[heap[0]]] == run_key:
            r = heap[0]
            total += values[heads[r]]
            heads[r] += 1
            if heads[r] == ends[r]:
                size -= 1
                heap[0] = heap[size]
            _sift_down(heap, size, keys, heads, 0)
        word1[m], word2[m], count[m] = run_key // vocab_size, run_key % vocab_size, total
        m += 1


def cooccurrence(corpus, vocab, *, window=15, symmetric=True, distance_weighting=True,
                 memory_mb=DEFAULT_MEMORY_MB, tmp_dir=None):
    """The co-occurrence records of ``corpus`` (a path, lines, or ``vocab.encode``'s
    ``(ids, starts)``), sorted by ``(word1, word2)``.

    Within each line, every in-vocabulary word and each of the ``window`` in-vocabulary
    words before it add ``1/distance`` (or 1 without ``distance_weighting``) to
    ``x[context, word]``, and with ``symmetric`` also to ``x[word, context]``:
    GloVe's ``cooccur -window-size 15 -symmetric 1 -distance-weighting 1``.

    Memory, as GloVe's ``cooccur -memory``: ``memory_mb`` (MiB, default 1024) bounds the
    counting's own arrays besides the corpus and the result.  Half of it is a dense table
    of the frequent pairs (ids are ranked by frequency: ``w2 < (max_product // (w1 + 1))``,
    the largest ``max_product`` that fits); the other pairs go to a buffer which, when
    full, is sorted, summed per pair and written as a sorted run to a temporary file (in
    ``tmp_dir``, default the system's; deleted on return), and the runs and the dense
    table are merged at the end.

    Summation order: a pair's count is its values added one by one in corpus order from
    0.0 -- exactly, for every pair of the dense table and whenever no run was written.
    A pair in several runs gets ``((0 + s_1) + s_2) + ...``, each run's sum ``s_r`` taken
    in corpus order: the same within rounding (relative ~1e-15 per run), and the same bits
    for the same ``memory_mb``.

    Returns a :class:`Cooccurrence` (int32 ids, float64 counts).

    Raises:
        TypeError: a corpus of another kind, a non-integer ``window``.
        ValueError: ``window`` < 1, ``memory_mb`` not > 0.
        OSError: a corpus path that cannot be read.
    """
    window = _args.integer("window", window, 1)
    memory_mb = _args.positive("memory_mb", memory_mb)
    if isinstance(corpus, tuple) and len(corpus) == 2:
        ids, starts = (np.ascontiguousarray(corpus[0], np.int32),
                       np.ascontiguousarray(corpus[1], np.int64))
        if ids.size and (ids.min() < 0 or ids.max() >= len(vocab)):
            raise IndexError(f"ids must be in [0, {len(vocab)})")
        if (starts.size == 0 or starts[0] != 0 or starts[-1] != ids.size
                or np.any(np.diff(starts) < 0)):
            raise ValueError("starts must rise from 0 to len(ids)")
    else:
        ids, starts = vocab.encode(corpus)
    vocab_size = len(vocab)
    row_len, offsets, entries, capacity = _plan(vocab_size, memory_mb, window)
    key_bits = max(1, (vocab_size * vocab_size - 1).bit_length())
    dense = np.zeros(entries, np.float64)
    buffers = [np.empty(capacity, np.int64), np.empty(capacity, np.float64),
               np.empty(capacity, np.int64), np.empty(capacity, np.float64)]
    runs = []  # the lengths of the sorted runs, one after the other in the files keys, sums
    tmp = None
    files = []
    try:
        line, pos, used = 0, 0, 0
        while True:
            line, pos, used = _count_pairs(ids, starts, line, pos, window, symmetric,
                                           distance_weighting, vocab_size, row_len, offsets,
                                           dense, buffers[0], buffers[1], used)
            run_keys, run_sums = _radix_sort(*buffers, used, key_bits)
            used = _reduce_sorted(run_keys, run_sums, used)
            run_keys, run_sums = run_keys[:used], run_sums[:used]
            done = line >= starts.size - 1
            if done and not runs:
                break
            if tmp is None:
                import tempfile
                tmp = tempfile.TemporaryDirectory(prefix="fastopt-cooccur-", dir=tmp_dir)
            with open(os.path.join(tmp.name, "keys"), "ab") as f:
                run_keys.tofile(f)
            with open(os.path.join(tmp.name, "sums"), "ab") as f:
                run_sums.tofile(f)
            runs.append(used)
            used = 0
            if done:
                break
        del ids, starts, buffers
        if runs:
            del run_keys, run_sums
            bounds = np.zeros(len(runs) + 1, np.int64)
            np.cumsum(runs, out=bounds[1:])
            maps = []
            for name in ("keys", "sums"):
                files.append(open(os.path.join(tmp.name, name), "rb"))
                maps.append(mmap.mmap(files[-1].fileno(), 0, access=mmap.ACCESS_READ))
            all_keys, all_sums = np.frombuffer(maps[0], np.int64), np.frombuffer(maps[1],
                                                                                   np.float64)
            # ranges of word1 holding about equal shares of the first run's pairs
            sample = all_keys[:bounds[1]:max(1, int(bounds[1]) // 4096)] // vocab_size
            edges = np.unique(np.r_[0, np.quantile(sample, np.linspace(
                0, 1, _MERGE_SEGMENTS + 1)[1:-1]).astype(np.int64) if sample.size else [],
                vocab_size]).astype(np.int64)
            del sample
        else:
            bounds = np.array([0, used], np.int64)
            all_keys, all_sums, maps = run_keys, run_sums, []
            edges = np.array([0, vocab_size], np.int64)
        upper = int(np.count_nonzero(dense)) + int(bounds[-1])
        word1 = np.empty(upper, np.int32)
        word2 = np.empty(upper, np.int32)
        count = np.empty(upper, np.float64)
        m = 0
        for lo, hi in zip(edges[:-1], edges[1:]):
            heads, ends = (np.array([b0 + np.searchsorted(all_keys[b0:b1], w * vocab_size)
                                     for b0, b1 in zip(bounds[:-1], bounds[1:])], np.int64)
                           for w in (lo, hi))
            m = _merge(row_len, offsets, dense, vocab_size, all_keys, all_sums, heads, ends,
                       lo, hi, word1, word2, count, m)
            for mapped in maps:  # the pages read so far: not needed again
                if hasattr(mmap, "MADV_DONTNEED"):
                    mapped.madvise(mmap.MADV_DONTNEED)
        del all_keys, all_sums  # release the maps before they close
        for mapped in maps:
            mapped.close()
    finally:
        for f in files:
            f.close()
        if tmp is not None:
            tmp.cleanup()
    return Cooccurrence(word1[:m], word2[:m], count[:m])


# -------------------------------------------------------------------------- training

def _train_records_python(weights, context, weights_sum, context_sum, word1, word2,
                         log_count, weight, lo, hi, eps, grad_w, grad_c):
    """The training loop of :class:`GloVe` on records ``[lo, hi)``: the reference.

    Every step is a line of the module docstring's equations, computed in the dtype of
    ``weights`` (``eps`` too), with the row update by the reference Adagrad kernel;
    :func:`_train_records` is its compiled twin and gives the same bits.  Returns the
    sum of the records' costs (in double).  ``weights`` and ``context`` are
    ``(vocab, dim + 1)``, the last column holding the bias; ``grad_w`` and ``grad_c``
    are ``dim + 1`` scratch elements.
    """
    from ..backends.python.adagrad import adagrad

    d = weights.shape[1] - 1
    t = weights.dtype.type
    cost = 0.0
    for r in range(lo, hi):
        i, j = word1[r], word2[r]
        w, c = weights[i], context[j]
        lanes = [t(0)] * 8  # w . c in 8 interleaved partial sums (see _dot)
        for k in range(d - d % 8):
            lanes[k % 8] = t(lanes[k % 8] + w[k] * c[k])
        diff = t(t(t(lanes[0] + lanes[1]) + t(lanes[2] + lanes[3]))
                 + t(t(lanes[4] + lanes[5]) + t(lanes[6] + lanes[7])))
        for k in range(d - d % 8, d):
            diff = t(diff + w[k] * c[k])
        diff = t(t(t(diff + w[d]) + c[d]) - log_count[r])
        fdiff = t(weight[r] * diff)
        cost += 0.5 * float(fdiff) * float(diff)
        grad_w[:d] = fdiff * c[:d]
        grad_c[:d] = fdiff * w[:d]
        grad_w[d] = grad_c[d] = fdiff
        adagrad(w, grad_w, weights_sum[i], 1.0, 0.0, eps, False, 1)
        adagrad(c, grad_c, context_sum[j], 1.0, 0.0, eps, False, 1)
    return cost


@intrinsic
def _prefetch(typingctx, table, row, column):
    """Hint the CPU to fetch ``table[row, column]``'s cache line for writing (LLVM's
    ``llvm.prefetch``): no effect on results.  The records visit rows at random, so
    without it every record waits for its four rows to come from memory."""
    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        array = context.make_array(array_type)(context, builder, args[0])
        index = [context.cast(builder, v, t, types.intp)
                 for v, t in zip(args[1:], signature.args[1:])]
        pointer = cgutils.get_item_pointer(context, builder, array_type, array, index)
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        hint = builder.module.declare_intrinsic(
            "llvm.prefetch", [byte_pointer],
            ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]))
        # write, keep in all cache levels, data cache
        builder.call(hint, [builder.bitcast(pointer, byte_pointer), i32(1), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(table, row, column), codegen


@intrinsic
def _row(typingctx, table, row):
    """``table[row]`` of a C-contiguous 2-D array, as a 1-D view that holds no reference.

    A view numba makes (``table[row]``) takes a reference on ``table``'s memory: an
    *atomic* increment of its reference count, and an atomic decrement when the view
    dies.  The training loop made four row views per record (and passing a table to an
    inlined helper took one more): about 20 atomic operations per record, more than half
    of a record's time.  (Each call of a compiled function wraps its array arguments in
    counters of its own, so the threads did not share them.)  ``row`` must be in range
    (no check, no wrap-around of negative rows); the caller keeps ``table`` alive (an
    argument of the compiled loop) for as long as the view is used.
    """
    if not (isinstance(table, types.Array) and table.ndim == 2 and table.layout == "C"):
        return None
    row_type = types.Array(table.dtype, 1, "C")

    def codegen(context, builder, signature, args):
        table_type = signature.args[0]
        array = context.make_array(table_type)(context, builder, args[0])
        index = context.cast(builder, args[1], signature.args[1], types.intp)
        zero = context.get_constant(types.intp, 0)
        pointer = cgutils.get_item_pointer(context, builder, table_type, array, [index, zero])
        itemsize = context.get_constant(types.intp, context.get_abi_sizeof(
            context.get_data_type(table_type.dtype)))
        width = cgutils.unpack_tuple(builder, array.shape)[1]
        view = context.make_array(row_type)(context, builder)
        context.populate_array(view, data=pointer, shape=cgutils.pack_array(builder, [width]),
                               strides=cgutils.pack_array(builder, [itemsize]),
                               itemsize=itemsize, meminfo=None)
        return view._getvalue()

    return row_type(table, row), codegen


@_njit_inline
def _prefetch_rows(table, row, step):
    """:func:`_prefetch` every (64-byte) cache line of ``table[row]``; ``step`` is
    ``64 // table.itemsize`` (computed once by the caller: a division)."""
    last = table.shape[1] - 1
    k = 0
    while k < last:  # not range(0, last, step): its trip count would take a division
        _prefetch(table, row, k)
        k += step
    _prefetch(table, row, last)


@intrinsic
def _lanes_dot(typingctx, w, c, m):
    """``w[:m] . c[:m]`` (``m`` a multiple of 8, 1-D C-contiguous float rows) in 8 lanes:
    product ``k`` added into lane ``k % 8``, in order from 0, then the lanes combined as
    ``((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))`` -- :func:`_dot`'s order, in
    LLVM vector instructions (one multiply and one add of 8 elements per 8 products; no
    contraction into fused multiply-adds, no reassociation: the same bits as the scalar
    sums).  LLVM does not vectorize eight scalar partial sums by itself."""
    if not (isinstance(w, types.Array) and w.ndim == 1 and w.layout == "C" and w == c
            and isinstance(w.dtype, types.Float) and isinstance(m, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        row_type = signature.args[0]
        wa = context.make_array(row_type)(context, builder, args[0])
        ca = context.make_array(row_type)(context, builder, args[1])
        count = context.cast(builder, args[2], signature.args[2], types.intp)
        element = context.get_value_type(row_type.dtype)
        vector = ir.VectorType(element, 8)
        align = context.get_abi_sizeof(element)
        total = cgutils.alloca_once_value(builder, ir.Constant(vector, None))  # zeros
        with cgutils.for_range_slice(builder, context.get_constant(types.intp, 0), count,
                                     context.get_constant(types.intp, 8)) as (k, _):
            lanes = []
            for array in (wa, ca):
                pointer = builder.bitcast(builder.gep(array.data, [k]), vector.as_pointer())
                lanes.append(builder.load(pointer, align=align))
            builder.store(builder.fadd(builder.load(total), builder.fmul(*lanes)), total)
        lane = builder.load(total)
        a = [builder.extract_element(lane, ir.Constant(ir.IntType(32), i)) for i in range(8)]
        add = builder.fadd
        return add(add(add(a[0], a[1]), add(a[2], a[3])), add(add(a[4], a[5]), add(a[6], a[7])))

    return w.dtype(w, c, m), codegen


@_njit_inline
def _dot(w, c, d):
    """``w[:d] . c[:d]`` in the order of :func:`_train_records_python`: 8 partial sums
    (element ``k`` into sum ``k % 8``, up to the last multiple of 8), combined
    pairwise, then the remaining elements one by one.  Eight independent chains
    instead of one: the sum is not bound by the latency of the additions
    (:func:`_lanes_dot` keeps them in one vector register)."""
    m = d - d % 8
    total = _lanes_dot(w, c, m)
    for k in range(m, d):
        total = total + w[k] * c[k]
    return total


@_njit_inline
def _prefetch_record(weights, context, weights_sum, context_sum, i, j, step, step_sum):
    """:func:`_prefetch_rows` of the four rows of a record (``step``, ``step_sum``: 64
    bytes in elements of the tables and of the sums)."""
    _prefetch_rows(weights, i, step)
    _prefetch_rows(weights_sum, i, step_sum)
    _prefetch_rows(context, j, step)
    _prefetch_rows(context_sum, j, step_sum)


@_njit_inline
def _record_step(w, c, w_sum, c_sum, log_count, weight, eps, grad_w, grad_c):
    """One record of :func:`_train_records_python` on the rows ``w``, ``c`` (vector and
    bias, in the arithmetic's dtype) and their sums: returns its cost (double)."""
    d = w.size - 1
    t = w.dtype.type
    diff = t(t(t(_dot(w, c, d) + w[d]) + c[d]) - log_count)
    fdiff = t(weight * diff)
    for k in range(d):  # two loops, each one stream in and one out: both vectorize
        grad_w[k] = fdiff * c[k]
    for k in range(d):
        grad_c[k] = fdiff * w[k]
    grad_w[d] = fdiff
    grad_c[d] = fdiff
    adagrad_serial(w, grad_w, w_sum, 1.0, 0.0, eps, False)
    adagrad_serial(c, grad_c, c_sum, 1.0, 0.0, eps, False)
    return 0.5 * np.float64(fdiff) * np.float64(diff)


@_njit
def _train_records(weights, context, weights_sum, context_sum, word1, word2, log_count,
                  weight, lo, hi, eps, grad_w, grad_c):
    """:func:`_train_records_python`, compiled (runs without the GIL).  Rows are taken with
    :func:`_row`, and every array is used :func:`~fastopt.backends.numba._sparse.unowned`: no reference counting per
    record (the tables must be C-contiguous: :meth:`GloVe._check_tables`)."""
    (weights, context, weights_sum, context_sum, word1, word2, log_count, weight, grad_w,
     grad_c) = unowned((weights, context, weights_sum, context_sum, word1, word2, log_count,
                        weight, grad_w, grad_c))
    step = 64 // weights.itemsize
    cost = 0.0
    for r in range(lo, hi):
        if r + _AHEAD < hi:
            _prefetch_record(weights, context, weights_sum, context_sum, word1[r + _AHEAD],
                             word2[r + _AHEAD], step, step)
        i, j = word1[r], word2[r]
        cost += _record_step(_row(weights, i), _row(context, j), _row(weights_sum, i),
                             _row(context_sum, j), log_count[r], weight[r], eps, grad_w,
                             grad_c)
    return cost


# ------------------------------------------------------------------ 16-bit tables
#
# float16 and bfloat16 tables are handed to the compiled loop as their uint16 bit
# patterns (numba has no 16-bit float type): each record's two rows are widened to
# float32 (exact), trained in float32 with float32 Adagrad sums, and narrowed back,
# rounded to nearest even or stochastically (fastopt.backends.numba.half).


@_njit
def _train_records_half(weights, context, weights_sum, context_sum, word1, word2, log_count,
                        weight, lo, hi, eps, grad_w, grad_c, w, c, bf16, stochastic, key,
                        float16_values):
    """:func:`_train_records` for 16-bit tables (``weights`` and ``context`` as their
    uint16 bit patterns, float32 sums): each record's rows widened into the float32
    scratch rows ``w`` and ``c``, trained as in float32, and stored back rounded; the
    stochastic rounding of record ``r``'s row ``side`` (0: word, 1: context) draws from
    the counters ``(2 r + side) * ceil((dim + 1) / 2) + ...`` under ``key``."""
    d = weights.shape[1] - 1
    slots = (d + 2) // 2
    (weights, context, weights_sum, context_sum, word1, word2, log_count, weight, grad_w,
     grad_c, w, c, float16_values) = unowned((
        weights, context, weights_sum, context_sum, word1, word2, log_count, weight, grad_w,
        grad_c, w, c, float16_values))
    step, step_sum = 64 // weights.itemsize, 64 // weights_sum.itemsize
    cost = 0.0
    for r in range(lo, hi):
        if r + _AHEAD < hi:
            _prefetch_record(weights, context, weights_sum, context_sum, word1[r + _AHEAD],
                             word2[r + _AHEAD], step, step_sum)
        i, j = word1[r], word2[r]
        _load_span(_row(weights, i), w, bf16, float16_values)
        _load_span(_row(context, j), c, bf16, float16_values)
        cost += _record_step(w, c, _row(weights_sum, i), _row(context_sum, j), log_count[r],
                             weight[r], eps, grad_w, grad_c)
        base = np.uint64(2 * r) * np.uint64(slots)
        _store_span(_row(weights, i), w, bf16, stochastic, key, base)
        _store_span(_row(context, j), c, bf16, stochastic, key, base + np.uint64(slots))
    return cost


def _train_records_half_python(weights, context, weights_sum, context_sum, word1, word2,
                               log_count, weight, lo, hi, eps, grad_w, grad_c, w, c, bf16,
                               stochastic, key, float16_values=None):
    """The reference of :func:`_train_records_half` (``weights``/``context`` are uint16
    bit patterns here too): widen with ``astype``, :func:`_train_records_python`'s step
    on float32 copies, round back with :func:`_round_reference`."""
    dtype = check.BFLOAT16 if bf16 else np.dtype(np.float16)
    d = weights.shape[1] - 1
    slots = (d + 2) // 2
    cost = 0.0
    for r in range(lo, hi):
        i, j = int(word1[r]), int(word2[r])
        rows_w = weights[i:i + 1].view(dtype).astype(np.float32)
        rows_c = context[j:j + 1].view(dtype).astype(np.float32)
        cost += _train_records_python(rows_w, rows_c, weights_sum[i:i + 1],
                                      context_sum[j:j + 1], np.zeros(1, np.int32),
                                      np.zeros(1, np.int32), log_count[r:r + 1],
                                      weight[r:r + 1], 0, 1, eps, grad_w, grad_c)
        for side, (table, row, values) in enumerate(((weights, i, rows_w[0]),
                                                     (context, j, rows_c[0]))):
            counter = (2 * r + side) * slots
            u = _uniforms_reference(key, counter, d + 1) if stochastic else None
            table[row] = _round_reference(values, dtype, u).view(np.uint16)
    return cost


def _thread_scratch(n, dtype, count):
    """``count`` arrays of ``n`` elements of ``dtype`` for one thread, each on cache lines
    that nothing else uses: the compiled loop writes them for every record, and two
    threads' scratch arrays side by side in one line would pass it back and forth."""
    line = 128  # two 64-byte lines: the adjacent-line prefetcher fetches them in pairs
    stride = -(-n * np.dtype(dtype).itemsize // line) * line
    raw = np.empty(stride * count + 3 * line, np.uint8)
    start = (-raw.ctypes.data) % line + line
    return [raw[start + k * stride:start + k * stride + n * np.dtype(dtype).itemsize].view(dtype)
            for k in range(count)]


class GloVe:
    """A GloVe model: word and context vectors with biases, and their Adagrad state.

    Arguments: ``vocab_size``; ``dim`` (50); ``x_max`` (100) and ``alpha`` (0.75) of the
    weighting f; ``eta`` (0.05), GloVe's learning rate (see the module
    docstring for how it maps onto Adagrad); ``eps`` (1e-10, Adagrad's); ``dtype``
    of the vectors (float32; GloVe's program computes in float64); ``rounding``
    (``"nearest"``, or ``"stochastic"`` for 16-bit tables); ``seed`` (an int, or None
    for a random one) of the initialisation, of the record order and of the
    stochastic rounding.

    **16-bit tables.**  With ``dtype`` float16 or bfloat16 (``ml_dtypes.bfloat16``)
    ``weights`` and ``context`` are kept in 16 bits and the Adagrad sums in float32
    (FBGEMM's half-precision embedding tables): each record's two rows are widened
    to float32, take the float32 step, and are rounded back -- to nearest even, or
    stochastically: to the neighbour away from zero with probability
    (abs(x) − abs(toward)) / (abs(away) − abs(toward)), so that a row is unbiased in
    expectation and small updates are not all lost; the random numbers come from a
    counter-based hash of (``seed``, epoch, record position, element), so a run is
    reproducible from ``seed`` (bit for bit with one thread) whatever the threads.
    The reference loop (``backend="python"``) rounds with NumPy's / ml_dtypes'
    ``astype`` and the same hash, and the compiled loop gives the same bits.

    Attributes: ``weights`` and ``context``, ``(vocab_size, dim + 1)``, each row a
    vector followed by its bias, initialised uniformly in
    [-0.5, 0.5) / (dim + 1) as GloVe does (16-bit tables: that float32 start
    rounded to nearest); ``weights_sum`` and ``context_sum``, their Adagrad
    accumulators, starting at 1/η² (float32 for 16-bit tables).

    Raises:
        TypeError: non-integer ``vocab_size``/``dim``, a ``dtype`` other than float32,
            float64, float16 or bfloat16.
        ValueError: ``vocab_size`` or ``dim`` < 1; negative or non-finite ``x_max``,
            ``alpha``, ``eta``, ``eps``; ``rounding`` not ``"nearest"`` or
            ``"stochastic"``, or ``"stochastic"`` for float32/float64 tables.
        IndexError: (in :meth:`fit`, :meth:`cost`) a record's word id outside the
            vocabulary -- checked before the unchecked compiled loop runs.

    Source: J. Pennington, R. Socher, C. D. Manning, "GloVe: Global Vectors for Word
    Representation", EMNLP 2014, and the authors' C implementation (weighting,
    initialisation, Adagrad with accumulators starting at 1, the reported cost).
    """

    def __init__(self, vocab_size, dim=50, *, x_max=100.0, alpha=0.75, eta=0.05, eps=1e-10,
                 dtype=np.float32, rounding="nearest", seed=0):
        vocab_size = _args.integer("vocab_size", vocab_size, 1)
        dim = _args.integer("dim", dim, 1)
        self.x_max = _args.positive("x_max", x_max)
        self.alpha = check.nonnegative("alpha", alpha)
        self.eta = _args.positive("eta", eta)
        self.eps = check.nonnegative("eps", eps)
        try:
            self.dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"dtype must be float32, float64, float16 or bfloat16, got "
                            f"{dtype!r}") from None
        if self.dtype not in check.FLOAT_DTYPES + check.HALF_DTYPES:
            raise TypeError(f"dtype must be float32, float64, float16 or bfloat16 "
                            f"(ml_dtypes), got {self.dtype}")
        half = self.dtype in check.HALF_DTYPES
        _args.choice("rounding", rounding, ("nearest", "stochastic"))
        if rounding == "stochastic" and not half:
            raise ValueError(f"rounding='stochastic' is for float16/bfloat16 tables, not "
                             f"{self.dtype}")
        self.rounding = rounding
        #: the dtype of the sums and of the arithmetic
        self.compute_dtype = np.dtype(np.float32) if half else self.dtype
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                                 or seed < 0):
            raise TypeError(f"seed must be a non-negative int or None, got {seed!r}")
        self.rng = np.random.default_rng(seed)
        entropy = np.random.SeedSequence().entropy if seed is None else int(seed)
        self._key = _mix64_int(entropy)  # the stochastic rounding's
        self._epochs = 0                 # epochs trained: each draws its own random numbers
        shape = (vocab_size, dim + 1)
        self.weights = ((self.rng.random(shape) - 0.5) / (dim + 1)).astype(self.compute_dtype)
        self.context = ((self.rng.random(shape) - 0.5) / (dim + 1)).astype(self.compute_dtype)
        if half:
            self.weights, self.context = self.weights.astype(self.dtype), \
                self.context.astype(self.dtype)
        self.weights_sum = np.full(shape, 1.0 / self.eta ** 2, self.compute_dtype)
        self.context_sum = np.full(shape, 1.0 / self.eta ** 2, self.compute_dtype)
        self.vocab_size, self.dim = vocab_size, dim

    def _check_tables(self):
        """The four tables as the compiled loop needs them (they are attributes a user
        may have replaced): ``(vocab_size, dim + 1)``, the model's dtype (the sums:
        ``compute_dtype``), C-contiguous, writeable."""
        shape = (self.vocab_size, self.dim + 1)
        for name in ("weights", "context", "weights_sum", "context_sum"):
            table = getattr(self, name)
            dtype = self.compute_dtype if name.endswith("_sum") else self.dtype
            if not isinstance(table, np.ndarray) or table.dtype != dtype:
                raise TypeError(f"{name} must be a {dtype} ndarray, got "
                                f"{getattr(table, 'dtype', type(table).__name__)}")
            if table.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {table.shape}")
            if not (table.flags.c_contiguous and table.flags.writeable
                    and table.flags.aligned):
                raise ValueError(f"{name} must be C-contiguous, aligned and writeable")

    def _prepare(self, records):
        if not isinstance(records, Cooccurrence):
            raise TypeError(f"records must be a Cooccurrence, got {type(records).__name__}")
        records.check(self.vocab_size)
        log_count = np.log(records.count).astype(self.compute_dtype)
        weight = np.minimum(1.0, (records.count / self.x_max) ** self.alpha).astype(
            self.compute_dtype)
        return log_count, weight

    def fit(self, records, *, epochs=25, n_threads=None, shuffle=True, progress=True,
            callback=None, backend="numba"):
        """Train on ``records`` for ``epochs`` passes; returns the cost of every epoch.

        ``shuffle`` draws one random record order (from ``seed``) used by every epoch,
        as GloVe's ``shuffle`` program does once.  ``n_threads`` (default: the number
        of CPUs) threads each take a contiguous share of that order, Hogwild-style;
        with one thread the result is deterministic and equal, bit for bit, to
        ``backend="python"`` (the reference loop, for small data), 16-bit tables
        and stochastic rounding included.
        ``callback(epoch, cost, seconds)`` is called after every epoch (``seconds``:
        the epoch's training time).
        """
        epochs = _args.integer("epochs", epochs, 0)
        n_threads = _args.integer("n_threads", os.cpu_count() or 1 if n_threads is None
                                 else n_threads, 1)
        _args.choice("backend", backend, ("numba", "python"))
        self._check_tables()
        log_count, weight = self._prepare(records)
        word1, word2 = records.word1, records.word2
        if shuffle:
            order = self.rng.permutation(len(records))
            word1, word2, log_count, weight = (a[order] for a in
                                               (word1, word2, log_count, weight))
        half = self.dtype in check.HALF_DTYPES
        if half:
            loop = _train_records_half if backend == "numba" else _train_records_half_python
            tables = (self.weights.view(np.uint16), self.context.view(np.uint16))
        else:
            loop = _train_records if backend == "numba" else _train_records_python
            tables = (self.weights, self.context)
        n = len(records)
        bounds = [n * t // n_threads for t in range(n_threads + 1)]
        eps = self.compute_dtype.type(self.eps)
        costs = []
        for epoch in range(epochs):
            bar = _progress(n, f"epoch {epoch + 1}/{epochs}", progress)
            self._epochs += 1
            key = np.uint64(_mix64_int(self._key + self._epochs * _GOLDEN))
            t0 = time.perf_counter()
            lock = threading.Lock()
            sums = [0.0] * n_threads

            def work(t):
                scratch = _thread_scratch(self.dim + 1, self.compute_dtype, 4)
                extra = ((scratch[2], scratch[3], self.dtype == check.BFLOAT16,
                          self.rounding == "stochastic", key, _FLOAT16_VALUES) if half else ())
                for lo in range(bounds[t], bounds[t + 1], _BLOCK):
                    hi = min(lo + _BLOCK, bounds[t + 1])
                    sums[t] += loop(*tables, self.weights_sum, self.context_sum, word1,
                                    word2, log_count, weight, lo, hi, eps, scratch[0],
                                    scratch[1], *extra)
                    if bar is not None:
                        with lock:
                            bar.update(hi - lo)

            if n_threads == 1:
                work(0)
            else:
                threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
            seconds = time.perf_counter() - t0
            costs.append(math.fsum(sums) / max(n, 1))
            if bar is not None:
                bar.set_postfix_str(f"cost {costs[-1]:.6f}")
                bar.close()
            if callback is not None:
                callback(epoch + 1, costs[-1], seconds)
        return costs

    def cost(self, records):
        """The mean cost of ``records`` at the current vectors (no update)."""
        log_count, weight = self._prepare(records)
        w = self.weights[records.word1].astype(np.float64)
        c = self.context[records.word2].astype(np.float64)
        diff = np.einsum("ij,ij->i", w[:, :-1], c[:, :-1]) + w[:, -1] + c[:, -1] - log_count
        return float(np.mean(0.5 * weight * diff * diff)) if len(records) else 0.0

    def vectors(self, kind="sum"):
        """The word vectors: ``"sum"`` of word and context vectors (GloVe's default
        output, ``-model 2``), ``"word"`` or ``"context"``; biases left out."""
        wide = (lambda a: a.astype(np.float32)) if self.dtype in check.HALF_DTYPES else \
            (lambda a: a.copy())
        if kind == "sum":
            return wide(self.weights[:, :-1]) + wide(self.context[:, :-1])
        if kind == "word":
            return wide(self.weights[:, :-1])
        if kind == "context":
            return wide(self.context[:, :-1])
        raise ValueError(f"kind must be 'sum', 'word' or 'context', got {kind!r}")

    def save_text(self, path, words, kind="sum"):
        """Save the vectors in the usual text format: ``word v1 v2 ...`` per line."""
        if len(words) != self.vocab_size:
            raise ValueError(f"words must have {self.vocab_size} entries, got {len(words)}")
        vectors = self.vectors(kind)
        with open(path, "w", encoding="utf-8") as f:
            for word, v in zip(words, vectors):
                f.write(word + " " + " ".join(f"{x:.6f}" for x in v) + "\n")


def load_text(path):
    """Read vectors saved by :meth:`GloVe.save_text` (or GloVe's own text output):
    returns ``(words, vectors)``."""
    words, rows = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split(" ")
            words.append(parts[0])
            rows.append(np.array(parts[1:], dtype=np.float64))
    return words, np.vstack(rows) if rows else np.empty((0, 0))


class _Progress:
    """A per-epoch record count on stderr, for when tqdm is not installed."""

    def __init__(self, total, desc):
        self.total, self.desc, self.n, self.postfix = total, desc, 0, ""
        self.t0 = time.perf_counter()

    def update(self, k):
        self.n += k

    def set_postfix_str(self, text):
        self.postfix = text

    def close(self):
        rate = self.n / max(time.perf_counter() - self.t0, 1e-9)
        print(f"{self.desc}: {self.n}/{self.total} records, {rate / 1e6:.2f}M/s  {self.postfix}",
              file=sys.stderr, flush=True)


def _progress(total, desc, progress):
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _Progress(total, desc)
    return tqdm(total=total, desc=desc, unit="rec", unit_scale=True, leave=True,
                mininterval=0.5)
