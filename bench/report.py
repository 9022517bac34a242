"""Outputs: terminal tables, ``results.json``, ``results.md`` (README), PNG charts."""
import json
import math
import pathlib

import numpy as np

from . import targets
from .harness.formatting import fmt_size
from .suites import contention, sparse
from .suites.dense import dense_rows, roof_fractions, roof_lookup, staggering_gain

# ------------------------------------------------------------------ formatting


def fmt_time(s):
    if s is None:
        return "-"
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.2f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def fmt_x(x):
    return "-" if x is None else (f"{x:.1f}x" if x >= 10 else f"{x:.2f}x")


def fmt_pct(x):
    return "-" if x is None else f"{100 * x:.0f}%"


def fmt_gbps(x):
    return "-" if x is None else f"{x:.1f}"


def fmt_bytes(n):
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n}"


def text_table(headers, rows, right=None):
    """Fixed-width table; ``right``: indexes of right-aligned columns (default: all but first)."""
    right = set(range(1, len(headers))) if right is None else set(right)
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h))
              for i, h in enumerate(headers)]

    def line(r):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in cells])


def md_table(headers, rows, right=None):
    right = set(range(1, len(headers))) if right is None else set(right)
    sep = ["---:" if i in right else ":---" for i in range(len(headers))]
    esc = lambda c: str(c).replace("|", "\\|")  # noqa: E731
    return "\n".join(["| " + " | ".join(map(esc, headers)) + " |", "| " + " | ".join(sep) + " |"]
                     + ["| " + " | ".join(map(esc, r)) + " |" for r in rows])


# --------------------------------------------------------------- the sections

def machine_lines(results):
    m, meta = results["meta"]["machine"], results["meta"]
    v = m["versions"]
    la = lambda x: "/".join(f"{y:.2f}" for y in x) if x else "?"  # noqa: E731
    lines = [
        f"Machine: {m['cpu_model']}, {m['cores_usable']} cores usable, "
        f"L3 {fmt_bytes(m['llc_bytes'])}, memory {fmt_bytes(m['memory_bytes'])}; "
        f"{m['platform']}",
        f"Versions: python {v['python']}, numpy {v['numpy']}, numba {v['numba']}, "
        f"torch {v['torch'] or 'not installed'}, fastopt {v['fastopt']} "
        f"(git {(m['git']['commit'] or '?')[:10]}, "
        f"{git_state(m['git'])})",
        f"Run: {meta['mode']} run, {m['date']}, {meta['duration_s']:.0f} s; fastopt API: "
        f"{meta['api']}; backends: {', '.join(meta['config']['backends'])}; threads: "
        f"{', '.join(map(str, meta['config']['threads']))}; load average (1/5/15 min) "
        f"before {la(meta['load_before'])}, after {la(meta['load_after'])}",
    ]
    if meta.get("section_s"):
        lines.append("Sections: " + ", ".join(f"{k} {v:.1f} s" for k, v in meta["section_s"].items()))
    mem = meta.get("memory")
    if mem:
        peak = max(mem["peak_bytes_by_section"].values(), default=None)
        lines.append(f"Memory: estimated {fmt_bytes(mem['estimate']['total_bytes'])}, measured "
                     f"peak {fmt_bytes(peak)} ("
                     + ", ".join(f"{k} {fmt_bytes(v)}" for k, v in mem["peak_bytes_by_section"].items())
                     + ")" + _start_memory(mem))
    if meta["mode"] != "full":
        lines.append("NOTE: not a full run; figures are indicative only.")
    for why in meta.get("unreliable") or []:
        lines.append(f"UNRELIABLE: the machine was busy: {why}.")
    return lines


def git_state(git):
    if git.get("dirty") is None:
        return "not a git checkout"
    if git["dirty"]:
        return f"DIRTY tree: {git.get('changes') or 'uncommitted changes'}"
    return "clean tree"


def roof_section(results):
    """The roof per pattern, dtype and threads, both layouts, with its samples' spread."""
    rows = []
    for r in results.get("roof", []):
        sp = r.get("gbps_spread") or {}
        rows.append([f"R{r['reads']}/W{r['writes']}", r["dtype"], r["threads"],
                     r.get("layout", "optimizer"),
                     "/".join(map(str, r.get("page_offsets", []))) or "-", fmt_size(r["n"]),
                     fmt_bytes(r["working_set_bytes"]), fmt_gbps(sp.get("min")),
                     fmt_gbps(r["gbps"]), fmt_gbps(sp.get("max", r["gbps_best"]))])
    return ["traffic (reads/writes)", "dtype", "threads", "layout", "page offsets (B)", "n",
            "working set", "GB/s min", "GB/s median", "GB/s max"], rows


def staggering_section(results):
    rows = [[f"R{g['reads']}/W{g['writes']}", g["dtype"], g["threads"], fmt_x(g["gain"])]
            for g in staggering_gain(results.get("roof", []))]
    return ["traffic (reads/writes)", "dtype", "threads",
            "plain-layout time / staggered time"], rows


DENSE_HEADERS = ["algorithm", "size", "backend", "thr", "time/step", "GB/s", "% roof",
                 "% roof (best)", "x naive", "x careful", "x torch loop", "x torch foreach",
                 "x torch fused"]


def dense_section(results, dtype, algorithm=None):
    rows = []
    for case in results.get("dense", []):
        if case["dtype"] != dtype or (algorithm and case["algorithm"] != algorithm):
            continue
        for r in dense_rows(case):
            rows.append([r["algorithm"], fmt_size(r["size"]), r["backend"], r["threads"],
                         fmt_time(r["time_s"]), fmt_gbps(r["gbps"]), fmt_pct(r["roof_fraction"]),
                         fmt_pct(r.get("roof_fraction_best")),
                         fmt_x(r["vs_numpy_naive"]), fmt_x(r["vs_numpy_careful"]),
                         fmt_x(r["vs_torch_loop"]), fmt_x(r["vs_torch_foreach"]),
                         fmt_x(r["vs_torch_fused"])])
    return DENSE_HEADERS, rows


def threads_section(results):
    """Time with all cores / time with 1 thread, per algorithm, dtype, backend and size."""
    meta = results["meta"]["config"]
    lo, hi = min(meta["threads"]), max(meta["threads"])
    if lo == hi:
        return None, []
    sizes = sorted({c["size"] for c in results.get("dense", [])})
    table = {}
    for case in results.get("dense", []):
        rows = {(r["backend"], r["threads"]): r for r in dense_rows(case)}
        for b in dict.fromkeys(k[0] for k in rows):
            if (b, lo) in rows and (b, hi) in rows:
                key = (case["algorithm"], case["dtype"], b)
                table.setdefault(key, {})[case["size"]] = (rows[(b, hi)]["time_s"]
                                                           / rows[(b, lo)]["time_s"])
    out = [[a, d, b] + [fmt_x(v.get(n)) if n in v else "-" for n in sizes]
           for (a, d, b), v in table.items()]
    return ["algorithm", "dtype", "backend"] + [fmt_size(n) for n in sizes], out


def _start_memory(mem):
    """``; resident at the sections' start: lo-hi`` (runs that recorded it)."""
    start = [v for v in (mem.get("start_bytes_by_section") or {}).values() if v]
    if not start:
        return ""
    return f"; resident at each section's start {fmt_bytes(min(start))}-{fmt_bytes(max(start))}"


def baselines_section(results, dtype):
    """Time per step of the NumPy and torch baselines (what the ratios divide)."""
    names = []
    for case in results.get("dense", []):
        for name, c in case["competitors"].items():
            if c["kind"] != "fastopt" and name not in names:
                names.append(name)
    rows = []
    for case in results.get("dense", []):
        if case["dtype"] != dtype:
            continue
        comp = case["competitors"]
        rows.append([case["algorithm"], fmt_size(case["size"])]
                    + [fmt_time(comp[n]["time_s"]) if n in comp else "-" for n in names])
    return ["algorithm", "size"] + names, rows


def small_section(results):
    s = results.get("small")
    if not s:
        return None, []
    rows = [[name.rsplit(":t", 1)[0], c["threads"], fmt_time(c["time_s"]),
             fmt_x(c.get("vs_torch_fused"))]
            for name, c in sorted(s["competitors"].items(),
                                  key=lambda kv: (kv[1]["threads"], kv[1]["time_s"]))]
    return ["implementation", "threads", "time/step", "x vs torch fused (same threads)"], rows


def half_section(results):
    h = results.get("half")
    if not h:
        return None, []
    rows = [[c["backend"], c["dtype"], c["rounding"] or "-", fmt_time(c["time_s"]),
             fmt_x(c.get("vs_float32"))]
            for c in sorted(h["competitors"].values(),
                            key=lambda c: (c["backend"], c["dtype"] != "float32", c["dtype"],
                                           c["rounding"] or ""))]
    return ["backend", "parameter", "rounding", "time/step", "x float32's time"], rows


def model_section(results):
    m = results.get("model")
    if not m:
        return None, []
    rows = []
    for r in m["ratios"]:
        who = f"fastopt:{r['backend']}" if r["kind"] == "fastopt" else f"torch:{r['variant']}"
        layout = ("one buffer (flat_arrays)" if r.get("shape") == "flat"
                  else "separate arrays")
        rows.append([who, layout, r["threads"], fmt_time(r["model_s"]),
                     fmt_time(r["single_s"]), fmt_x(r["ratio"])])
    return ["implementation", "layout", "threads", f"{m['count']}x{m['each']:,} list",
            f"1x{m['single']:,}", "list / single"], rows


def compile_section(results):
    c = results.get("compile")
    if not c or "per_kernel" not in c:
        return None, []
    rows = []
    for r in c["per_kernel"]:
        a, b = r["cold"], r["cached"]
        rows.append([r["kernel"], r["dtype"], f"{r['compile_s']:.2f} s", f"{r['cache_load_s']:.3f} s",
                     fmt_time(a["first_serial_s"]), fmt_time(b["first_serial_s"]),
                     fmt_time(a["first_parallel_s"]), fmt_time(b["first_parallel_s"]),
                     fmt_time(a["second_serial_s"])])
    return ["kernel", "dtype", "compile (cold)", "cache load", "1st serial cold", "1st serial cached",
            "1st parallel cold", "1st parallel cached", "2nd serial"], rows


def compile_lines(results):
    c = results.get("compile")
    if not c:
        return []
    if "skipped" in c:
        return [f"numba compile cost: skipped ({c['skipped']})"]
    lines = []
    for phase in ("cold", "cached"):
        p = c.get(phase)
        if not p:
            continue
        if "error" in p:
            lines.append(f"{phase} process failed: {p['error']}")
            continue
        lines.append(f"{phase} process: import numba {p['import_numba_s']:.2f} s, import fastopt "
                     f"{p.get('import_fastopt_s', 0):.2f} s, import fastopt.backends.numba "
                     f"{p.get('import_numba_backend_s', 0):.2f} s, numba start-up "
                     f"{p.get('numba_init_s', 0):.2f} s; whole process {p['process_wall_s']:.1f} s")
    if "per_kernel" in c:
        lines.append(f"total over the kernels: compile {c['total_compile_s']:.2f} s, cache load "
                     f"{c['total_cache_load_s']:.2f} s (import + first serial + first parallel "
                     f"call, minus one steady call of each)")
    if "many" in c:
        m = c["many"]
        lines.append(f"separate-arrays drivers (<rule>_many, {m['drivers']} rule x dtype): "
                     f"compile {m['total_compile_s']:.2f} s in all ({m['max_compile_s']:.2f} s "
                     f"at most for one), cache load {m['total_cache_load_s']:.2f} s")
    return lines


def targets_section(results):
    rows = [[t["target"], t["case"], t["measured_str"], t["status"]]
            for t in results.get("targets", [])]
    return ["target", "case", "measured", "result"], rows


def _range(xs, fmt):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    lo, hi = min(xs), max(xs)
    return fmt(lo) if fmt(lo) == fmt(hi) else f"{fmt(lo)}-{fmt(hi)}"


def reading(results):
    """The reading of the targets, as Markdown lines, computed from ``results`` alone: which
    targets were reached, which were missed and by how much, with the figures of the run
    that bear on each miss (every number here is in results.json)."""
    tg = results.get("targets", [])
    meta = results["meta"]
    out = []
    for why in meta.get("unreliable") or []:
        out.append(f"- **Unreliable run**: the machine was busy ({why}).")
    by_target = {}
    for t in tg:
        by_target.setdefault((t["id"], t["target"]), []).append(t)
    reached, missed = [], []
    for (tid, target), ts in by_target.items():
        measured = [t for t in ts if t["status"] in ("PASS", "MISS")]
        if not measured:
            continue
        bad = [t for t in measured if t["status"] == "MISS"]
        (missed if bad else reached).append((tid, target, measured, bad))
    if reached:
        out.append("- Reached, in every case measured: " + "; ".join(
            f"{target} ({_range([t['measured'] for t in ts], _fmt_of(tid))})"
            for tid, target, ts, _ in reached) + ".")
    for tid, target, ts, bad in missed:
        cases = "; ".join(f"{t['case']}: {t['measured_str']}" for t in bad)
        line = f"- Missed: *{target}* in {len(bad)} of {len(ts)} cases ({cases})."
        extra = _miss_context(results, tid, bad)
        out.append(line + (f" {extra}" if extra else ""))
    return out


def _fmt_of(tid):
    if tid in ("roof", "roof_ceiling"):
        return lambda x: f"{100 * x:.0f}%"
    if tid == "small_time":
        return lambda x: f"{x * 1e6:.1f} us"
    if tid in ("numba_compile", "numba_cache"):
        return lambda x: f"{x:.2f} s"
    return lambda x: f"{x:.2f}x"


def _miss_context(results, tid, bad=()):
    """Figures of the run that bear on a missed target (all from ``results``); ``bad``: its
    missed rows."""
    roof = [r for r in results.get("roof", []) if r.get("layout", "optimizer") == "optimizer"]
    if tid in ("roof", "roof_ceiling"):
        parts = []
        spread = [(r["gbps_spread"]["min"] / r["gbps"], r["gbps_spread"]["max"] / r["gbps"])
                  for r in roof if r.get("gbps_spread")]
        if spread:
            parts.append(f"The roof's samples lay within {100 * min(a for a, _ in spread):.0f}%-"
                         f"{100 * max(b for _, b in spread):.0f}% of their median (roof section)")
        cases = [c for case in results.get("dense", []) for c in case["competitors"].values()
                 if c["kind"] == "roof"]
        sp = [(c["gbps_spread"]["min"] / c["gbps"], c["gbps_spread"]["max"] / c["gbps"])
              for c in cases if c.get("gbps_spread")]
        if sp:
            parts.append(f"{100 * min(a for a, _ in sp):.0f}%-{100 * max(b for _, b in sp):.0f}% "
                         "in the cases")
        section = sorted({(case["algorithm"], case["dtype"], case["size"])
                          for case in results.get("dense", []) if case["size"] >= 16_000_000
                          for c in case["competitors"].values()
                          if c["kind"] == "fastopt" and c.get("roof_source") == "roof section"})
        if section:
            llc = results["meta"]["machine"].get("llc_bytes")
            parts.append(f"{len(section)} case(s) of >= 1.6e7 elements stream less than 2x the "
                         f"L3 ({fmt_bytes(llc)}) and are compared with the roof section: part "
                         f"of their working set can stay in the cache")
        gains = staggering_gain(results.get("roof", []))
        if gains:
            parts.append("staggering the state within the page makes the roof kernel "
                         f"{_range([g['gain'] for g in gains], lambda x: f'{x:.2f}x')} as fast "
                         "as the plain layout")
        return ("; ".join(parts) + ".") if parts else ""
    if tid == "vs_numpy_naive":
        return _naive_numpy_context(results, bad)
    if tid == "vs_torch_fused":
        return _torch_fused_context(results, bad)
    if tid == "small_time":
        comp = (results.get("small") or {}).get("competitors", {})
        k = [f"{n.split(':')[1]} {fmt_time(c['time_s'])}" for n, c in comp.items()
             if n.startswith("kernel:")]
        return f"The bare kernel call takes {', '.join(k)}; the rest is the Python layer." if k else ""
    if tid == "threads":
        th = results["meta"]["config"].get("parallel_threshold")
        if not th:
            return ""
        rows = [d | {"backend": t["case"].split(",")[0]}
                for t in results.get("targets", []) if t["id"] == "threads" for d in t["details"]]
        above = [r for r in rows if r["size"] >= th]
        below = [r for r in rows if r["size"] < th]
        parts = []
        if below:
            parts.append(f"below the threading threshold ({th:,} elements, where both settings "
                         f"run the same single-threaded code) the ratio spans "
                         f"{_range([r['all_over_1'] for r in below], lambda x: f'{x:.2f}x')}")
        if above:
            worst = max(above, key=lambda r: r["all_over_1"])
            parts.append(f"at and above it: {_range([r['all_over_1'] for r in above], lambda x: f'{x:.2f}x')}"
                         f" (worst {worst['backend']} {worst['algorithm']} {worst['dtype']} "
                         f"n={fmt_size(worst['size'])})")
        return ("All-core / 1-thread time: " + "; ".join(parts) + ".") if parts else ""
    if tid == "contention":
        return _contention_context(results, bad)
    if tid == "model":
        return _model_context(results, bad)
    if tid == "numba_vs_cython":
        rows = [d for t in results.get("targets", []) if t["id"] == tid for d in t["details"]]
        by_size = {}
        for r in rows:
            by_size.setdefault(r["size"], []).append(r["numba_over_cython"])
        if not by_size:
            return ""
        text = "numba / Cython time by size: " + "; ".join(
            f"n={fmt_size(n)}: {_range(v, lambda x: f'{x:.2f}x')}"
            for n, v in sorted(by_size.items())) + "."
        paired = _paired_numba_cython(results, [r for r in rows
                                                if r["numba_over_cython"] > 1.2])
        return text + (" " + paired if paired else "")
    return ""


def _model_context(results, bad):
    """For each missed many-parameters case: the ratio of the samples taken in the same
    round (the median of them) beside the medians' ratio, with the samples."""
    model = results.get("model") or {}
    comp = model.get("competitors", {})
    all_t = results["meta"]["config"]["all_threads"]
    parts = []
    for t in bad:
        backend = t["case"]
        shape = "flat" if "one buffer" in t["target"] else "model"
        a, b, paired = _paired_rounds(comp.get(f"fastopt:{backend}:{shape}:t{all_t}"),
                                      comp.get(f"fastopt:{backend}:single:t{all_t}"))
        if paired is None:
            continue
        label = "one buffer" if shape == "flat" else "separate arrays"
        parts.append(f"{backend}, {label}: {t['measured']:.2f}x of the medians, {paired}; "
                     f"samples by round {_samples(a)}, one array {_samples(b)}")
    if not parts:
        return ""
    return "Paired by round (both timed in the same rounds): " + "; ".join(parts) + "."


def _paired_rounds(first, second):
    """``(a, b, text)``: the per-step samples of two competitors timed in the same rounds
    and the median and range of their ratios round by round, or ``(a, b, None)`` where
    either has none (or not as many)."""
    a = ((first or {}).get("timing") or {}).get("samples_s")
    b = ((second or {}).get("timing") or {}).get("samples_s")
    if not a or not b or len(a) != len(b):
        return a, b, None
    ratios = [x / y for x, y in zip(a, b)]
    return a, b, (f"{float(np.median(ratios)):.2f}x the median of the {len(ratios)} rounds' "
                  f"ratios ({_range(ratios, lambda x: f'{x:.2f}x')})")


def _samples(xs):
    """Per-step times in one unit: ms from 1 ms up, else us (one decimal)."""
    scale, unit = (1e3, "ms") if max(xs) >= 1e-3 else (1e6, "us")
    return ", ".join(f"{scale * x:.1f}" for x in xs) + f" {unit}"


def _paired_numba_cython(results, missed, most=3):
    """For the worst ``most`` of the ``missed`` numba / Cython rows: the ratio of the two
    backends' samples taken in the same round (the rounds interleave every competitor
    of a case, so a slow phase of the machine slows both), and the samples themselves."""
    parts = []
    for r in sorted(missed, key=lambda r: -r["numba_over_cython"])[:most]:
        for case in results.get("dense", []):
            if (case["algorithm"], case["dtype"], case["size"]) != (
                    r["algorithm"], r["dtype"], r["size"]):
                continue
            comp = case["competitors"]
            a, b, paired = _paired_rounds(comp.get(f"fastopt:numba:t{r['threads']}"),
                                          comp.get(f"fastopt:cython:t{r['threads']}"))
            if paired is None:
                continue
            parts.append(
                f"{r['algorithm']} {r['dtype']} n={fmt_size(r['size'])} t={r['threads']}: "
                f"{r['numba_over_cython']:.2f}x of the medians, {paired}; samples by round, "
                f"numba {_samples(a)}, Cython {_samples(b)}")
    if not parts:
        return ""
    return ("Paired by round (both backends timed in the same rounds): "
            + "; ".join(parts) + ".")


def _naive_numpy_context(results, bad):
    """How far naive NumPy is from the roof: the most a kernel at the roof can gain on it."""
    threads = sorted({int(t["case"].split(", ")[1].split()[0]) for t in bad
                      if ", " in t["case"]})
    parts = []
    for case in results.get("dense", []):
        if (case["algorithm"], case["dtype"], case["size"]) != ("adam", "float32", 16_000_000):
            continue
        naive = case["competitors"].get("numpy:naive", {}).get("gbps")
        for th in threads:
            ours = [c for c in case["competitors"].values()
                    if c["kind"] == "fastopt" and c["threads"] == th and c.get("roof_gbps")]
            if not naive or not ours:
                continue
            roof = ours[0]["roof_gbps"]
            parts.append(f"at {th} thread{'s' if th > 1 else ''}, naive NumPy moved Adam's "
                         f"traffic at {fmt_pct(naive / roof)} of the roof, so a kernel at the "
                         f"roof is {roof / naive:.1f}x faster; fastopt ran at "
                         + ", ".join(f"{c['backend']} {fmt_pct(c['roof_fraction'])}"
                                     for c in ours) + " of it")
    return ("Naive NumPy's time bounds the ratio: " + "; ".join(parts) + ".") if parts else ""


def _torch_fused_context(results, bad):
    """The missed cases' times beside torch fused's, with fastopt's speed against the roof."""
    parts = []
    for t in bad:
        size = int(float(t["target"].split()[1]))
        backend, threads = t["case"].split(", ")[0], int(t["case"].split(", ")[1].split()[0])
        for case in results.get("dense", []):
            if (case["algorithm"], case["dtype"], case["size"]) != ("adam", "float32", size):
                continue
            ours = case["competitors"].get(f"fastopt:{backend}:t{threads}")
            torch = case["competitors"].get(f"torch:fused:t{threads}")
            if ours and torch:
                part = (f"{backend} {threads} thread{'s' if threads > 1 else ''}: "
                        f"{fmt_time(ours['time_s'])} ({fmt_gbps(ours['gbps'])} GB/s, "
                        f"{fmt_pct(ours['roof_fraction'])} of the roof), torch fused "
                        f"{fmt_time(torch['time_s'])}")
                bound = case["competitors"].get("bound:divider:t1")
                if bound:
                    at_bound = bound["time_s"] / threads
                    split = (f" ({fmt_time(bound['time_s'])} on one thread, / {threads})"
                             if threads > 1 else "")
                    part += (f"; the divider bound {fmt_time(at_bound)}{split}: fastopt's "
                             f"step takes {ours['time_s'] / at_bound:.2f}x it, and a step at "
                             f"the bound would be {torch['time_s'] / at_bound:.2f}x torch "
                             f"fused")
                parts.append(part)
    if not parts:
        return ""
    text = "Step times: " + "; ".join(parts) + "."
    if any("divider bound" in p for p in parts):
        text += (" The divider bound is Adam's square root and two divisions per element"
                 " alone (cache-resident, timed in the same rounds; on more threads its"
                 " one-thread time divided by their number): the step's arithmetic that"
                 " the bit-for-bit contract keeps, which no Adam step on those threads"
                 " can beat.")
    return text


def _contention_context(results, bad):
    """The worst cases' times beside torch fused's, under the same load."""
    cases = {(c["busy"], c["algorithm"], c["size"]): c["competitors"]
             for c in (results.get("contention") or {}).get("cases", [])}
    pools = {(c["busy"], c["algorithm"], c["size"]): c.get("pool")
             for c in (results.get("contention") or {}).get("cases", [])}
    parts, halves = [], []
    for d in (d for t in bad for d in t.get("details", [])):
        comp = cases.get((d["busy"], d["algorithm"], d["size"]), {})
        key = "median_s" if d["statistic"] == "median" else "p90_s"
        one = comp.get(f"fastopt:{d['backend']}:t1", {}).get(key)
        alls = [c for n, c in comp.items()
                if n.startswith(f"fastopt:{d['backend']}:") and not n.endswith(":t1")]
        if one is None or not alls:
            continue
        part = (f"{d['backend']} {d['algorithm']} n={fmt_size(d['size'])}: 1 thread "
                f"{fmt_time(one)}, all cores {fmt_time(alls[0][key])}")
        torch = comp.get("torch:fused", {}).get(key)
        if torch is not None:
            part += f", torch fused (all cores) {fmt_time(torch)}"
        slow_one = comp[f"fastopt:{d['backend']}:t1"].get("slow_share")
        slow_all = alls[0].get("slow_share")
        if slow_one is not None and slow_all is not None:
            part += (f"; slow steps (over {contention.SLOW_FACTOR:g}x the 1-thread median) "
                     f"{slow_one:.0%} on 1 thread, {slow_all:.0%} on all cores")
            halves.append(slow_one)
        pool = pools.get((d["busy"], d["algorithm"], d["size"]))
        if pool:
            part += (f"; the pool: {pool['late_jobs']} of {pool['jobs']} jobs late, "
                     f"{pool['backoff_runs']} run serially by its backoff")
            if pool.get("parallel_jobs"):
                k = pool["parallel_jobs"]
                part += (f"; in its {k} parallel jobs the caller worked "
                         f"{fmt_time(pool['own_us'] * 1e-6 / k)} and then waited "
                         f"{fmt_time(pool['wait_us'] * 1e-6 / k)} per job for the chunks "
                         f"helpers held, helpers ran "
                         f"{pool['helper_chunks'] / max(pool['chunks'], 1):.0%} of the chunks")
        parts.append(part)
    if not parts:
        return ""
    stat = "90th percentiles" if bad[0]["details"][0]["statistic"] == "p90" else "medians"
    text = f"Step time {stat} under the same load: " + "; ".join(parts) + "."
    if stat == "90th percentiles" and any("slow steps" in p for p in parts):
        text += (" Where about 10% of the 1-thread steps are slow, the 90th percentile"
                 " falls on the edge between the two modes of the distribution (the step"
                 " alone, the step plus another process's time slice), and a few more slow"
                 " steps on all cores move it by a time slice.")
    if stat == "medians" and any(0.35 <= share <= 0.65 for share in halves):
        text += (" Where about half of the steps are slow on 1 thread as on all cores, the"
                 " median falls on the edge between the two modes of the distribution (the"
                 " step alone, the step plus another process's time slice): a few more slow"
                 " steps on all cores move it by a time slice.")
    return text


def checks_lines(results):
    checks = results.get("checks")
    if checks is None:
        return []
    bad = [c for c in checks if c["status"] != "ok"]
    dt = checks[0].get("dtype", "?") if checks else "?"
    tol = checks[0].get("tolerance", "?") if checks else "?"
    lines = [f"{len(checks) - len(bad)} of {len(checks)} competitor/algorithm pairs compute the "
             f"reference update ({dt}, 3 steps, max relative error of the update <= {tol})."]
    for c in bad:
        lines.append(f"  {c['status']}: {c['algorithm']} / {c['competitor']}: "
                     f"{c.get('error') or c.get('max_rel_update_error')}")
    return lines


def skipped_lines(results):
    seen = {}
    for section in ("dense",):
        for case in results.get(section, []):
            for name, why in case.get("skipped", {}).items():
                seen.setdefault((name, why), []).append(case["algorithm"])
    for key in ("small", "model"):
        for name, why in (results.get(key) or {}).get("skipped", {}).items():
            seen.setdefault((name, why), []).append(key)
    return [f"  {name}: {why} ({', '.join(sorted(set(where)))})"
            for (name, why), where in seen.items()]


def sparse_lines(results):
    s = results.get("sparse")
    if not s:
        return []
    if s.get("status") != "measured":
        return [f"Sparse: {s.get('status')} -- {s.get('note')}"]
    distinct = s.get("distinct_rows_per_batch") or [0]
    return [f"Sparse: table {s['n_rows']:,} x {s['width']} {s['dtype']}, batches of "
            f"{s['batch']:,} Zipf(a={s['zipf_a']}) indices ({min(distinct):,}-{max(distinct):,} "
            f"distinct rows per batch)"]


# ------------------------------------------------------------------ renderers

def terminal(results):
    out = ["", "=" * 100, "fastopt benchmark", "=" * 100, *machine_lines(results)]
    meta = results["meta"]
    if meta.get("fastopt_location"):
        out.append(f"fastopt imported from {meta['fastopt_location']}")
    printed = (meta.get("fastopt_config") or {}).get("printed")
    if printed:
        out += ["fastopt.show_config():", *("  " + x for x in printed.rstrip().splitlines())]
    for note in results["meta"].get("notes", []):
        out.append(f"Note: {note}")

    def add(title, section, right=None):
        headers, rows = section
        if headers and rows:
            out.extend(["", title, text_table(headers, rows, right)])

    add("Roof: streaming kernel with the traffic of each update rule (GB/s; layout 'optimizer' "
        "is the roof, 'plain' all arrays at NumPy's page offset)",
        roof_section(results), right={2, 5, 6, 7, 8, 9})
    add("4K aliasing: the roof kernel with all arrays at one page offset vs staggered as "
        "fastopt's state", staggering_section(results))
    for dtype in results["meta"]["config"]["dtypes"]:
        add(f"Dense, {dtype}: fastopt per backend and thread count; ratios = other's time / "
            f"fastopt's time (torch at the same threads, NumPy on 1); % roof vs the roof timed "
            f"in the case when it streams >= 2x L3, else the roof section", dense_section(results, dtype),
            right=set(range(1, 13)) - {2})
    add("Threads: time on all cores / time on 1 thread (< 1: threads help; > 1: they hurt)",
        threads_section(results), right=set(range(3, 3 + len(results["meta"]["config"]["sizes"]))))
    add("Small tensor: one Adam step on 1,000 float32 elements (fixed cost)", small_section(results))
    add("16-bit parameters: one Adam step on 1,000,000 elements, float32 state (all threads)",
        half_section(results), right={3, 4})
    add("Many tensors: Adam, float32", model_section(results))
    add("numba compile cost (fresh process) and cache load (second process)",
        compile_section(results), right=set(range(2, 9)))
    lines = compile_lines(results)
    if lines:
        out.extend(["  " + x for x in lines])
    lines = checks_lines(results)
    if lines:
        out.extend(["", "Consistency checks", *lines])
    lines = sparse_lines(results)
    if lines:
        out.extend(["", *lines])
    add("Sparse: embedding-table row updates", sparse.section(results))
    add("Contention: float32 step beside busy processes (all cores vs 1 thread, same load)",
        contention.section(results))
    lines = skipped_lines(results)
    if lines:
        out.extend(["", "Skipped competitors:", *lines])
    add("Targets", targets_section(results), right={2})
    lines = reading(results)
    if lines:
        out.extend(["", "Reading the targets:", *lines])
    counts = {}
    for t in results.get("targets", []):
        counts[t["status"]] = counts.get(t["status"], 0) + 1
    out.append("  " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    return "\n".join(out)


def markdown(results):
    meta = results["meta"]
    out = ["<!-- generated by `python -m bench`; do not edit by hand -->", "",
           "### Benchmark results", ""]
    out += [f"- {line}" for line in machine_lines(results)]
    out += [f"- Note: {n}" for n in meta.get("notes", [])]
    out += ["", "Times are medians of repeated samples after a warm-up; the competitors of a "
            "case (fastopt backends x threads, NumPy, torch.optim) are timed round-robin, so "
            "every ratio compares measurements taken under the same load. Ratios > 1 mean "
            "fastopt is faster; torch runs at the same thread count as fastopt, NumPy on one "
            "thread. *GB/s* is the traffic an update rule must move (bytes read and written "
            "per element x elements) divided by the time. *% roof* compares it with a compiled "
            "streaming kernel moving the same traffic in the same run: timed inside the case's "
            "round-robin, on arrays of the case's size, where the case streams at least 2x the "
            "L3 cache, else the roof section (arrays of >= 4x L3), so small, cache-resident "
            "cases can exceed 100%; *% roof (best)* divides the best samples, the nearest to "
            "each one's speed on a quiet machine. The roof's arrays sit at the page offsets of "
            "the kernels' "
            "(the state staggered within the page as fastopt allocates it; the *4K aliasing* "
            "table times the plain layout too). Spreads: min and max over the samples.", ""]

    def add(title, section, right=None, details=False):
        headers, rows = section
        if not headers or not rows:
            return
        if details:
            out.extend([f"<details><summary>{title}</summary>", "", md_table(headers, rows, right),
                        "", "</details>", ""])
        else:
            out.extend([f"#### {title}", "", md_table(headers, rows, right), ""])

    add("Targets", targets_section(results), right={2})
    lines = reading(results)
    if lines:
        out.extend(["#### Reading the targets", "",
                    "(Generated from this run's results, as the tables are.)", "", *lines, ""])
    add("Roof", roof_section(results), right={2, 5, 6, 7, 8, 9})
    add("4K aliasing: plain layout vs staggered state", staggering_section(results))
    for dtype in meta["config"]["dtypes"]:
        if any(c["algorithm"] == "adam" and c["dtype"] == dtype for c in results.get("dense", [])):
            add(f"Adam, {dtype}", dense_section(results, dtype, "adam"),
                right=set(range(1, 13)) - {2})
    for dtype in meta["config"]["dtypes"]:
        add(f"All algorithms, {dtype}", dense_section(results, dtype),
            right=set(range(1, 13)) - {2}, details=True)
        add(f"Baselines (time per step), {dtype}", baselines_section(results, dtype),
            details=True)
    add("Threads: time on all cores / time on 1 thread", threads_section(results),
        right=set(range(3, 3 + len(meta["config"]["sizes"]))), details=True)
    add("Small tensor: one Adam step, 1,000 float32 elements", small_section(results))
    add("16-bit parameters: one Adam step, 1,000,000 elements", half_section(results),
        right={3, 4})
    add("Many tensors: Adam, float32", model_section(results))
    add("Sparse: embedding-table row updates", sparse.section(results), right={2, 3, 4, 5, 6})
    add("Contention: float32 step beside busy processes (all cores vs 1 thread, same load)",
        contention.section(results), right={4, 5, 6, 7, 8})
    add("numba compile cost and cache load", compile_section(results), right=set(range(2, 9)))
    lines = compile_lines(results)
    if lines:
        out.extend([f"- {x}" for x in lines] + [""])
    lines = checks_lines(results) + sparse_lines(results)
    if lines:
        out.extend(["#### Notes", ""] + [f"- {x.strip()}" for x in lines] + [""])
    charts = results["meta"].get("charts", [])
    for c in charts:
        out.append(f"![{pathlib.Path(c).stem}]({c})")
    return "\n".join(out).rstrip() + "\n"


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, tuple)):
        return list(o)
    if isinstance(o, pathlib.Path):
        return str(o)
    return repr(o)


def _clean(o):
    """JSON-safe: tuple keys of the roof lookup etc. become strings; NaN/inf become None."""
    if isinstance(o, dict):
        return {(k if isinstance(k, str) else str(k)): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


def write_json(results, path):
    with open(path, "w") as f:
        json.dump(_clean(results), f, indent=1, default=_json_default)
        f.write("\n")


# --------------------------------------------------------------------- charts

def charts(results, outdir):
    """PNG charts per dtype: speed-up over NumPy, and GB/s vs the roof. Returns the files written."""
    try:
        import matplotlib  # noqa: PLC0415
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
        from matplotlib import ticker  # noqa: PLC0415
    except ImportError:
        return []
    written = []
    dense = results.get("dense", [])
    roofs = results.get("roof", [])
    for dtype in results["meta"]["config"]["dtypes"]:
        rows = [r for c in dense if c["dtype"] == dtype for r in dense_rows(c)]
        if not rows:
            continue
        algos = list(dict.fromkeys(r["algorithm"] for r in rows))
        series = list(dict.fromkeys((r["backend"], r["threads"]) for r in rows))
        colors = {s: plt.cm.tab10(i % 10) for i, s in enumerate(series)}
        ncol = min(3, len(algos))
        nrow = math.ceil(len(algos) / ncol)
        for kind in ("speedup", "bandwidth"):
            fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.2 * nrow), squeeze=False,
                                     sharex=True)
            for ax, algo in zip(axes.flat, algos):
                for s in series:
                    pts = sorted((r["size"], r) for r in rows
                                 if r["algorithm"] == algo and (r["backend"], r["threads"]) == s)
                    if not pts:
                        continue
                    xs = [p[0] for p in pts]
                    lab = f"{s[0]}, {s[1]} thr"
                    if kind == "speedup":
                        for key, style in (("vs_numpy_careful", "-"), ("vs_numpy_naive", "--")):
                            ys = [p[1][key] for p in pts]
                            if any(y is not None for y in ys):
                                ax.plot(xs, [y if y is not None else np.nan for y in ys], style,
                                        marker="o", ms=3, color=colors[s],
                                        label=f"{lab} vs {key.split('_')[-1]}")
                    else:
                        ax.plot(xs, [p[1]["gbps"] for p in pts], "-", marker="o", ms=3,
                                color=colors[s], label=lab)
                if kind == "bandwidth":
                    case = next(c for c in dense if c["algorithm"] == algo)
                    for th, style in zip(sorted({s[1] for s in series}), (":", "-.", "--")):
                        r = [x for x in roofs if (x["reads"], x["writes"], x["dtype"], x["threads"])
                             == (case["reads"], case["writes"], dtype, th)
                             and x.get("layout", "optimizer") == "optimizer"]
                        if r:
                            ax.axhline(r[0]["gbps"], color="k", ls=style, lw=1,
                                       label=f"roof, {th} thr")
                    careful = sorted((c["size"], c["competitors"]["numpy:careful"]["gbps"])
                                     for c in dense if c["algorithm"] == algo
                                     and c["dtype"] == dtype
                                     and "numpy:careful" in c["competitors"])
                    if careful:
                        ax.plot(*zip(*careful), color="0.6", lw=1, label="numpy careful")
                    ax.set_ylabel("GB/s")
                else:
                    ax.axhline(1, color="0.5", lw=0.8)
                    ax.set_yscale("log")
                    fmt = ticker.FuncFormatter(lambda y, _: f"{y:g}x")
                    ax.yaxis.set_major_formatter(fmt)
                    ax.yaxis.set_minor_formatter(ticker.NullFormatter())
                    ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1, 2, 5)))
                    ax.set_ylabel("speed-up over NumPy")
                ax.set_xscale("log")
                ax.set_title(algo, fontsize=10)
                ax.grid(True, which="major", alpha=0.3)
            for ax in axes.flat[len(algos):]:
                ax.set_visible(False)
            for ax in axes[-1]:
                ax.set_xlabel("elements")
            handles, labels = axes.flat[0].get_legend_handles_labels()
            fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)), fontsize=8,
                       frameon=False)
            title = ("speed-up over NumPy (solid: careful, dashed: naive)" if kind == "speedup"
                     else "achieved GB/s vs the roof (dotted/dash-dot: roof at 1/all threads)")
            fig.suptitle(f"fastopt {title}, {dtype}", fontsize=11)
            fig.tight_layout(rect=(0, 0.06 + 0.02 * math.ceil(len(labels) / 4), 1, 0.96))
            path = pathlib.Path(outdir) / f"{kind}_{dtype}.png"
            fig.savefig(path, dpi=110)
            plt.close(fig)
            written.append(path.name)
    return written


def write_all(results, outdir, draw_charts=True, readme=False):
    outdir = pathlib.Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    files = []
    if not draw_charts:  # re-rendering without drawing: keep the links to charts still there
        results["meta"]["charts"] = [c for c in results["meta"].get("charts", [])
                                     if (outdir / c).exists()]
    else:
        results["meta"]["charts"] = []
    if draw_charts:
        try:
            results["meta"]["charts"] = charts(results, outdir)
        except Exception as e:  # noqa: BLE001 - a chart must never lose the measurements
            results["meta"].setdefault("notes", []).append(
                f"charts failed: {type(e).__name__}: {e}")
        else:
            if not results["meta"]["charts"]:
                results["meta"].setdefault("notes", []).append(
                    "no charts: matplotlib is not installed" if not _has_matplotlib()
                    else "no charts: no dense results")
    files += [str(outdir / c) for c in results["meta"]["charts"]]
    write_json(results, outdir / "results.json")
    (outdir / "results.md").write_text(markdown(results))
    files = [str(outdir / "results.json"), str(outdir / "results.md")] + files
    if readme and update_readme(results, outdir):
        files.append(str(README))
    return files


README = pathlib.Path(__file__).resolve().parent.parent / "README.md"
README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


def headline(results, full_results_link="results.md"):
    """The README's short version of a run: the machine, Adam float32 against every peer,
    the targets' count and their reading.  Every table of the run is in ``results.md``."""
    out = ["<!-- generated by `python -m bench --publish --update-readme`; do not edit by hand -->",
           ""]
    out += [f"- {line}" for line in machine_lines(results)]
    out.append("")
    headers, rows = dense_section(results, "float32", "adam")
    if rows:
        out += ["#### Adam, float32", "", md_table(headers, rows, set(range(1, 13)) - {2}), ""]
    measured = [t for t in results.get("targets", []) if t["status"] in ("PASS", "MISS")]
    if measured:
        missed = sum(t["status"] == "MISS" for t in measured)
        out += ["#### Targets", "",
                f"{len(measured) - missed} of {len(measured)} measured target cases reached, "
                f"{missed} missed; every table, target and chart of the run: "
                f"[results.md]({full_results_link}).", "", *reading(results), ""]
    return "\n".join(out).rstrip() + "\n"


def readme_block(results, outdir):
    """What the README holds between its bench markers for ``results`` written to ``outdir``:
    :func:`headline`, with its link to the run's full ``results.md`` relative to the README."""
    rel = pathlib.Path(outdir).resolve().relative_to(README.parent).as_posix()
    return headline(results, f"{rel}/results.md")


def readme_section(text=None):
    """The README's text between the bench markers (None when the markers are missing)."""
    text = README.read_text() if text is None else text
    if README_START not in text or README_END not in text:
        return None
    return text.split(README_START, 1)[1].split(README_END, 1)[0].lstrip("\n")


def update_readme(results, outdir):
    """Put this run's Markdown between the README's bench markers (``--update-readme``).

    Chart links are rewritten relative to the README.  Returns whether it wrote.
    """
    if not README.exists():
        return False
    text = README.read_text()
    if README_START not in text or README_END not in text:
        return False
    body = readme_block(results, outdir)
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    README.write_text(f"{head}{README_START}\n{body}{README_END}{tail}")
    return True


def _has_matplotlib():
    try:
        import matplotlib  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def rerender(outdir, draw_charts=True, readme=False):
    """Rewrite results.md (and the charts, targets; the README block with ``readme``) from an
    existing results.json, with this version of the report code."""
    outdir = pathlib.Path(outdir)
    with open(outdir / "results.json") as f:
        results = json.load(f)
    roofs = roof_lookup(results.get("roof", []))
    for case in results.get("dense", []):
        roof_fractions(case, roofs)
    results["targets"] = targets.evaluate(results)
    files = write_all(results, outdir, draw_charts, readme=readme)
    print(terminal(results))
    print("\nwrote:\n  " + "\n  ".join(files))


if __name__ == "__main__":
    import argparse  # noqa: PLC0415
    ap = argparse.ArgumentParser(prog="python -m bench.report",
                                 description="Re-render the reports of a finished run from its "
                                             "results.json (no measurement).")
    ap.add_argument("dir", type=pathlib.Path, help="directory holding results.json")
    ap.add_argument("--no-charts", action="store_true")
    ap.add_argument("--update-readme", action="store_true",
                    help="also rewrite the README's results block (for bench/results/)")
    a = ap.parse_args()
    rerender(a.dir, not a.no_charts, a.update_readme)
