"""Memory: this process's peak resident set (per section) and what the machine has free.

Between cases the run hands freed memory back to the system (:func:`release_free_memory`):
glibc keeps freed blocks below its adaptive mmap threshold (up to 32 MiB) in the heap,
where a 4-8 MiB array freed between two live ones leaves a hole the process still holds;
across the dense section's cases that grew the resident set by 0.2-0.7 GiB, which the
next section's peak then counted.  Trimming only outside the timed loops leaves the
allocator's behaviour inside them (which the NumPy baselines' temporaries depend on) alone.

Linux keeps a high-water mark of each process's resident memory (``VmHWM`` in
``/proc/self/status``); writing ``5`` to ``/proc/self/clear_refs`` resets it, so
the peak of each section of a run can be read on its own.  Elsewhere the peak
falls back to ``getrusage``'s ``ru_maxrss`` (the whole process so far).
"""
import ctypes
import ctypes.util
import gc
import re
import resource
import sys


def _kib_field(path, field):
    """``field: N kB`` of a /proc file, in bytes (None when unreadable)."""
    try:
        with open(path) as f:
            m = re.search(rf"^{field}:\s*(\d+)\s*kB", f.read(), re.M)
    except OSError:
        return None
    return int(m.group(1)) * 1024 if m else None


def _status_kib(field):
    return _kib_field("/proc/self/status", field)


def rss_bytes():
    """Resident memory now."""
    return _status_kib("VmRSS")


def peak_bytes():
    """Peak resident memory since the process started or the last :func:`reset_peak`."""
    hwm = _status_kib("VmHWM")
    if hwm is not None:
        return hwm
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib if sys.platform == "darwin" else kib * 1024


def children_peak_bytes():
    """Largest peak resident memory of any finished child process (e.g. a compile run)."""
    kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return kib if sys.platform == "darwin" else kib * 1024


def _malloc_trim():
    """glibc's ``malloc_trim`` (None elsewhere: musl, macOS, Windows)."""
    name = ctypes.util.find_library("c")
    try:
        return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    except OSError:
        return None


_MALLOC_TRIM = _malloc_trim()


def release_free_memory():
    """Collect garbage and return the allocator's free pages to the system (glibc).

    Returns the resident memory afterwards, in bytes (None where unreadable)."""
    gc.collect()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
    return rss_bytes()


def reset_peak():
    """Restart the high-water mark at the current resident memory; False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def available_bytes():
    """Memory the machine can give without swapping (``MemAvailable``), or None."""
    return _kib_field("/proc/meminfo", "MemAvailable")


class SectionPeaks:
    """``with peaks("dense"): ...`` records the section's peak resident memory in ``peaks.bytes``
    and its resident memory at the start (after :func:`release_free_memory`) in ``peaks.start_bytes``."""

    def __init__(self):
        self.bytes = {}
        self.start_bytes = {}
        self.exact = reset_peak()

    def __call__(self, name):
        return _Section(self, name)


class _Section:
    def __init__(self, owner, name):
        self.owner, self.name = owner, name

    def __enter__(self):
        self.owner.start_bytes[self.name] = release_free_memory()
        if self.owner.exact:
            reset_peak()
        return self

    def __exit__(self, *exc):
        self.owner.bytes[self.name] = peak_bytes()
