"""Memory: this process's peak resident set (per section) and what the machine has free.

Linux keeps a high-water mark of each process's resident memory (``VmHWM`` in
``/proc/self/status``); writing ``5`` to ``/proc/self/clear_refs`` resets it, so
the peak of each section of a run can be read on its own.  Elsewhere the peak
falls back to ``getrusage``'s ``ru_maxrss`` (the whole process so far).
"""
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
    """``with peaks("dense"): ...`` records the section's peak resident memory in ``peaks.bytes``."""

    def __init__(self):
        self.bytes = {}
        self.exact = reset_peak()

    def __call__(self, name):
        return _Section(self, name)


class _Section:
    def __init__(self, owner, name):
        self.owner, self.name = owner, name

    def __enter__(self):
        if self.owner.exact:
            reset_peak()
        return self

    def __exit__(self, *exc):
        self.owner.bytes[self.name] = peak_bytes()
