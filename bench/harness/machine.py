"""What the numbers were measured on: CPU, cores, caches, memory, load, versions."""
import datetime
import os
import pathlib
import platform
import re
import subprocess
import sys

DEFAULT_LLC = 32 * 2 ** 20


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def cpu_model():
    text = _read("/proc/cpuinfo") or ""
    m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    if m:
        return m.group(1).strip()
    return platform.processor() or platform.machine()


def cores():
    """(usable cores: the affinity mask, logical CPUs of the machine)."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 1
    return usable, os.cpu_count()


def _size(text):
    m = re.match(r"\s*(\d+)\s*([KMG]?)", text or "")
    if not m:
        return None
    return int(m.group(1)) * {"": 1, "K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30}[m.group(2)]


def caches():
    """``{"L1d": bytes, "L2": bytes, "L3": bytes}`` per instance, from sysfs (cpu0)."""
    out = {}
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        entries = sorted(os.listdir(base))
    except OSError:
        return out
    for e in entries:
        if not e.startswith("index"):
            continue
        level = (_read(f"{base}/{e}/level") or "").strip()
        kind = (_read(f"{base}/{e}/type") or "").strip()
        size = _size(_read(f"{base}/{e}/size"))
        if not level or size is None or kind == "Instruction":
            continue
        name = f"L{level}" + ("d" if kind == "Data" else "")
        out[name] = size
    return out


def llc_bytes():
    c = caches()
    for name in ("L3", "L2"):
        if name in c:
            return c[name]
    return DEFAULT_LLC


def memory_bytes():
    text = _read("/proc/meminfo") or ""
    m = re.search(r"^MemTotal:\s*(\d+)\s*kB", text, re.M)
    return int(m.group(1)) * 1024 if m else None


#: The repository the benchmark runs from (bench/harness/ -> the root).
REPO = pathlib.Path(__file__).resolve().parent.parent.parent


def _git(*args, repo=REPO):
    try:
        r = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                           check=False, cwd=repo)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def git_dirty(repo=REPO):
    """A short description of the uncommitted changes of ``repo`` ('' when clean, None when
    it is no git checkout): e.g. ``"3 changed paths: M README.md, ?? x.py, ..."``."""
    status = _git("status", "--porcelain", repo=repo)
    if status is None:
        return None
    lines = status.splitlines()
    if not lines:
        return ""
    return (f"{len(lines)} changed path{'s' * (len(lines) > 1)}: "
            + ", ".join(x.strip() for x in lines[:3]) + (", ..." if len(lines) > 3 else ""))


def describe(peer_versions=None):
    """The machine, the load and the versions; ``peer_versions`` adds e.g. torch's and fastopt's."""
    usable, logical = cores()
    import numpy as np  # noqa: PLC0415
    try:
        import numba  # noqa: PLC0415
        numba_version = numba.__version__
    except ImportError:
        numba_version = None
    dirty = git_dirty()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cores_usable": usable,
        "cpus_logical": logical,
        "caches_bytes": caches(),
        "llc_bytes": llc_bytes(),
        "memory_bytes": memory_bytes(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "numba": numba_version,
            **(peer_versions or {}),
        },
        "git": {"commit": _git("rev-parse", "HEAD"),
                "dirty": None if dirty is None else bool(dirty), "changes": dirty or None},
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS",
                                           "FASTOPT_BACKEND", "MKL_NUM_THREADS",
                                           "OPENBLAS_NUM_THREADS", "NUMBA_THREADING_LAYER")
                if k in os.environ},
    }
