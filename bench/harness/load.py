"""Is the machine quiet enough to benchmark?  Load average and other processes' CPU.

A benchmark shares memory bandwidth and cores with everything else running:
:func:`snapshot` looks before and after the run (the 1-minute load average
against the usable cores, and the CPU time each other process used over a short
interval, from ``/proc/<pid>/stat``), :class:`Monitor` measures the CPU time all
other processes used during the whole run (``/proc/stat`` minus this process
and its children).  :func:`verdict` turns them into a list of reasons; a run with
any is *busy* and its figures are reported as unreliable.
"""
import os
import resource
import time

#: Other processes using at least this many cores on average (before, after or during
#: the run) make the machine busy: a quarter of a core steals whole samples.
BUSY_OTHERS_CORES = 0.25
#: A 1-minute load average above this many runnable tasks per usable core, before the
#: run starts, makes it busy (the load after the run includes the run itself).
BUSY_LOAD_PER_CORE = 0.5

_HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu():
    """``{pid: (name, cpu seconds)}`` of every process visible in /proc (empty elsewhere)."""
    out = {}
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return out
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                text = f.read()
        except OSError:
            continue  # gone, or not ours to read
        name = text[text.find("(") + 1:text.rfind(")")]
        fields = text[text.rfind(")") + 2:].split()
        try:
            out[int(pid)] = (name, (int(fields[11]) + int(fields[12])) / _HZ)
        except (IndexError, ValueError):
            continue
    return out


def _own_cpu_s():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def _system_cpu_s():
    """CPU seconds all processes have used since boot (/proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice: counted in user]
    busy = [int(x) for i, x in enumerate(fields[1:9]) if i not in (3, 4)]
    return sum(busy) / _HZ


def usable_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def snapshot(interval_s=1.0, top=5):
    """Load average, usable cores and the other processes' CPU use over ``interval_s``."""
    me = os.getpid()
    before = _proc_cpu()
    t0 = time.perf_counter()
    time.sleep(interval_s)
    after = _proc_cpu()
    wall = time.perf_counter() - t0
    users = []
    for pid, (name, cpu) in after.items():
        if pid == me or pid not in before:
            continue
        used = (cpu - before[pid][1]) / wall
        if used > 0:
            users.append({"pid": pid, "name": name, "cores": used})
    users.sort(key=lambda u: -u["cores"])
    try:
        load = list(os.getloadavg())
    except (AttributeError, OSError):  # pragma: no cover
        load = None
    return {"load_average": load, "cores_usable": usable_cores(),
            "others_cores": sum(u["cores"] for u in users) if after else None,
            "top_others": users[:top], "interval_s": wall}


class Monitor:
    """CPU used by every other process between :meth:`start` and :meth:`stop`, in cores."""

    def start(self):
        self.t0, self.sys0, self.own0 = time.perf_counter(), _system_cpu_s(), _own_cpu_s()
        return self

    def stop(self):
        wall = time.perf_counter() - self.t0
        sys1, own1 = _system_cpu_s(), _own_cpu_s()
        if self.sys0 is None or sys1 is None or wall <= 0:
            return {"others_cores": None, "wall_s": wall}
        others = max(0.0, (sys1 - self.sys0) - (own1 - self.own0)) / wall
        return {"others_cores": others, "own_cores": (own1 - self.own0) / wall, "wall_s": wall}


def verdict(before=None, after=None, during=None):
    """Reasons this run's figures are unreliable (empty: the machine was quiet)."""
    reasons = []
    if before:
        cores = before["cores_usable"]
        load = (before.get("load_average") or [None])[0]
        if load is not None and load > BUSY_LOAD_PER_CORE * cores:
            reasons.append(f"load average {load:.2f} on {cores} usable cores before the run")
    for when, snap in (("before the run", before), ("after the run", after),
                       ("on average during the run", during)):
        used = (snap or {}).get("others_cores")
        if used is not None and used >= BUSY_OTHERS_CORES:
            who = ", ".join(f"{u['name']} ({u['cores']:.2f})"
                            for u in (snap.get("top_others") or [])[:3])
            reasons.append(f"other processes used {used:.2f} cores {when}"
                           + (f": {who}" if who else ""))
    return reasons
