"""The measurements: roof, dense cases, small tensors, many tensors, consistency checks.

Every function takes the run configuration (:class:`bench.config.Config`) and a
:class:`bench.harness.progress.Progress`, and returns plain dicts/lists (JSON-ready).
"""
import functools

import numpy as np

from ..harness import memory, timing
from ..peers import algorithms, fastopt_impl, numpy_impl, torch_impl
from . import roof


def _rng_arrays(n, dtype, seed, shape=None):
    """A parameter and a gradient of ``n`` elements (of ``shape``: a matrix for the rules
    benchmarked on one, see :meth:`bench.peers.algorithms.Algorithm.shape`)."""
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(n, dtype=np.float64).astype(dtype)
    g = rng.standard_normal(n, dtype=np.float64).astype(dtype)
    if shape is not None:
        p, g = p.reshape(shape), g.reshape(shape)
    return p, g


class Threads:
    """Set/restore the thread counts of fastopt and torch (the roof has its own)."""

    def __init__(self, use_torch):
        self.fastopt0 = fastopt_impl.get_num_threads()
        self.torch0 = torch_impl.get_num_threads() if use_torch else None

    @staticmethod
    def fastopt(n):
        fastopt_impl.set_num_threads(n)

    @staticmethod
    def torch(n):
        torch_impl.set_num_threads(n)

    def restore(self):
        fastopt_impl.set_num_threads(self.fastopt0)
        if self.torch0 is not None:
            torch_impl.set_num_threads(self.torch0)


def _try(fn):
    """Run ``fn`` once; the error line if it fails, else None."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - a competitor that cannot run is skipped, with why
        return f"{type(e).__name__}: {e}".splitlines()[0][:200]
    return None


# ------------------------------------------------------------------------ roof

def roof_units(cfg):
    return len(cfg.dtypes)


def gbps_spread(nbytes, st):
    """GB/s at each of the samples' quartiles (the slowest sample gives ``min``)."""
    return {"min": nbytes / st.max_s / 1e9, "q1": nbytes / st.q3_s / 1e9,
            "median": nbytes / st.median_s / 1e9, "q3": nbytes / st.q1_s / 1e9,
            "max": nbytes / st.min_s / 1e9}


def run_roof(cfg, bar):
    """GB/s of the roof kernel for every (R, W) pattern of the run, dtype and thread count,
    on arrays laid out as the optimizers' are (``layout="optimizer"``, the roof) and plainly
    (``"plain"``: what staggering the state within the page is worth), timed round-robin."""
    patterns = algorithms.traffic_patterns(cfg.algorithms)
    if cfg.model_section or cfg.small_section:
        patterns = sorted(set(patterns) | {algorithms.get("adam").traffic})
    out = []
    for dtype in cfg.dtypes:
        bar.label(f"roof {dtype}")
        # one function call per dtype: every array of a dtype is freed before the next
        # dtype's are made (a loop variable left bound would keep a stream's arrays alive)
        out += _roof_rows(cfg, patterns, dtype)
        memory.release_free_memory()
        bar.step()
    return out


def _roof_rows(cfg, patterns, dtype):
    """The roof section's rows for one dtype (:func:`run_roof`)."""
    out = []
    n = roof.roof_size(patterns, dtype, cfg.llc_bytes, cfg.roof_min_size, cfg.roof_max_size)
    max_r, read_only, _ = roof.array_count(patterns)
    streams = {}
    competitors = []
    arrays = roof.make_arrays(n, max_r, dtype, read_only=read_only)
    # the plain layout differs only in the state arrays (1 .. writes-1): share the others
    plain = [arrays[0], *roof.plain_states(n, max_r - read_only - 1, dtype),
             *arrays[max_r - read_only:]]
    for layout, arrays in (("optimizer", arrays), ("plain", plain)):
        for r, w in patterns:
            if layout == "plain" and w == 1:
                continue  # no state array: the same layout as the roof's
            # written arrays first, then the read-only input(s) (grad): the last arrays
            arrs = arrays[:w] + arrays[max_r - (r - w):]
            for th in cfg.threads:
                s = roof.Stream(arrs, r, w, th)
                name = f"R{r}W{w}:t{th}" + ("" if layout == "optimizer" else f":{layout}")
                streams[name] = (s, r, w, th, layout, roof.page_offsets(arrs))
                competitors.append(timing.Competitor(name, s))
    del arrays, plain
    load = timing.load_average()
    stats = timing.interleaved(competitors, repeats=cfg.roof_repeats,
                               min_sample_s=cfg.min_sample_s)
    for name, st in stats.items():
        s, r, w, th, layout, offsets = streams[name]
        out.append({"reads": r, "writes": w, "dtype": dtype, "threads": th, "n": n,
                    "layout": layout, "page_offsets": offsets,
                    "working_set_bytes": r * n * np.dtype(dtype).itemsize,
                    "bytes_per_call": s.bytes(), "gbps": s.bytes() / st.median_s / 1e9,
                    "gbps_best": s.bytes() / st.min_s / 1e9,
                    "gbps_spread": gbps_spread(s.bytes(), st),
                    "load_average": load, "timing": st.as_dict()})
    return out


def roof_lookup(roof_rows):
    """``{(reads, writes, dtype, threads): (median GB/s, best GB/s)}`` of the roof (the
    optimizer layout)."""
    return {(r["reads"], r["writes"], r["dtype"], r["threads"]): (r["gbps"], r["gbps_best"])
            for r in roof_rows if r.get("layout", "optimizer") == "optimizer"}


def staggering_gain(roof_rows):
    """``[{reads, writes, dtype, threads, gain}]``: plain-layout time / optimizer-layout time
    of the roof kernel (> 1: staggering the state within the page makes streaming faster)."""
    by_key = {}
    for r in roof_rows:
        by_key.setdefault((r["reads"], r["writes"], r["dtype"], r["threads"]), {})[
            r.get("layout", "optimizer")] = r
    out = []
    for (rd, wr, dtype, th), rows in by_key.items():
        if "optimizer" in rows and "plain" in rows:
            out.append({"reads": rd, "writes": wr, "dtype": dtype, "threads": th,
                        "gain": rows["optimizer"]["gbps"] / rows["plain"]["gbps"]})
    return out


# ----------------------------------------------------------------------- dense

#: A dense case times the roof kernel in its own round-robin when its working set is at
#: least this multiple of the last-level cache (the roof section always uses >= 4x).
CASE_ROOF_LLC_MULTIPLE = 2


#: Adam's cases from this size on time the divider bound (roof.DividerBound) in their
#: round-robin, unless they time the roof (streaming from memory).
DIVIDER_BOUND_MIN_SIZE = 10_000


def dense_cases(cfg):
    return [(a, n, d) for d in cfg.dtypes for n in cfg.sizes for a in cfg.algorithms]


def run_dense(cfg, bar, roofs, usable):
    """Every algorithm x size x dtype: fastopt backends x threads vs NumPy and torch."""
    results = []
    threads = Threads(cfg.torch)
    try:
        for name, n, dtype in dense_cases(cfg):
            bar.label(f"dense {name} {dtype} n={n:,}")
            results.append(_dense_case(cfg, algorithms.get(name), n, dtype, roofs, usable, threads))
            memory.release_free_memory()
            bar.step()
    finally:
        threads.restore()
    return results


def _dense_case(cfg, algo, n, dtype, roofs, usable, threads):
    p, g = _rng_arrays(n, dtype, seed=n, shape=algo.shape(n))
    itemsize = np.dtype(dtype).itemsize
    nbytes = algo.bytes_per_element(itemsize) * n
    competitors, skipped, optimizers = [], {}, {}
    for backend in cfg.backends:
        why = usable.get((backend, algo.name))
        if why:
            skipped[f"fastopt:{backend}"] = why
            continue
        try:
            opt = optimizers[backend] = fastopt_impl.make(algo, backend, [p], [g])
        except Exception as e:  # noqa: BLE001
            skipped[f"fastopt:{backend}"] = f"{type(e).__name__}: {e}"
            continue
        for th in cfg.threads:
            competitors.append(timing.Competitor(
                f"fastopt:{backend}:t{th}", opt.step, functools.partial(threads.fastopt, th),
                dict(kind="fastopt", backend=backend, threads=th)))
    for flavour in numpy_impl.FLAVOURS:
        impl = numpy_impl.make(flavour, algo, p, g)
        competitors.append(timing.Competitor(f"numpy:{flavour}", impl.step, None,
                                             dict(kind="numpy", flavour=flavour, threads=1)))
    if cfg.torch:
        for variant in torch_impl.VARIANTS:
            if not torch_impl.has_variant(algo, variant):
                continue
            try:
                topt = torch_impl.TorchOptimizer(algo, variant, [p], [g])
            except Exception as e:  # noqa: BLE001
                skipped[f"torch:{variant}"] = f"{type(e).__name__}: {e}"
                continue
            for th in cfg.threads:
                competitors.append(timing.Competitor(
                    f"torch:{variant}:t{th}", topt.step, functools.partial(threads.torch, th),
                    dict(kind="torch", variant=variant, threads=th)))
    # The roof itself, in the round-robin, where the case streams from memory: "% roof"
    # then compares measurements taken under the same load (own arrays, same traffic,
    # same size).  A working set over 2x the last-level cache leaves nothing in it to
    # reuse from one step to the next; every 1.6e7 case qualifies (the smallest, plain SGD
    # in float32, streams 3.8x L3).
    # Its arrays are laid out as the kernels' are (see roof.make_arrays); both layouts'
    # page offsets are recorded.
    roof_arrays = None
    page_offsets = {}
    if cfg.case_roof and algo.reads * n * itemsize >= CASE_ROOF_LLC_MULTIPLE * cfg.llc_bytes:
        roof_arrays = roof.make_arrays(n, algo.reads, dtype, read_only=algo.reads - algo.writes)
        page_offsets["roof"] = roof.page_offsets(roof_arrays)
        for th in cfg.threads:
            competitors.append(timing.Competitor(
                f"roof:t{th}", roof.Stream(roof_arrays, algo.reads, algo.writes, th), None,
                dict(kind="roof", threads=th)))
    # Adam's other bound where the memory roof does not bind (cache-resident cases): its
    # square root and two divisions alone, on one thread (roof.DividerBound).
    if algo.name == "adam" and roof_arrays is None and n >= DIVIDER_BOUND_MIN_SIZE:
        competitors.append(timing.Competitor(
            "bound:divider:t1", roof.DividerBound(n, dtype), None,
            dict(kind="bound", threads=1)))
    ok = []
    for c in competitors:
        if c.setup:
            c.setup()
        why = _try(c.fn)
        if why:
            skipped[c.name] = why
        else:
            ok.append(c)
    for backend, opt in optimizers.items():
        # param, state (in the kernel's order), grad: the order of the roof's arrays
        state = list(opt.state(0).values())[:algo.writes - 1]
        page_offsets[f"fastopt:{backend}"] = roof.page_offsets([p, *state, g])
    load = timing.load_average()
    t0 = timing.clock()
    # The preflight call above was the first step; one more warms the replayed step (the
    # optimizers' plan, numba's C entry loaded or compiled at its first call).
    stats = timing.interleaved(ok, repeats=cfg.repeats_for(n), min_sample_s=cfg.min_sample_s,
                               warmup=1)
    duration = timing.clock() - t0
    comp = {}
    for c in ok:
        st = stats[c.name]
        comp[c.name] = {**c.info, "time_s": st.median_s, "gbps": nbytes / st.median_s / 1e9,
                        "gbps_spread": gbps_spread(nbytes, st), "timing": st.as_dict()}
    case = {"algorithm": algo.name, "dtype": dtype, "size": n, "reads": algo.reads,
            "writes": algo.writes, "bytes_per_element": algo.bytes_per_element(itemsize),
            "load_average": load, "timed_s": duration, "competitors": comp, "skipped": skipped,
            "page_offsets": page_offsets}
    roof_fractions(case, roofs)
    return case


def roof_fractions(case, roofs):
    """Set each competitor's ``roof_fraction`` (median GB/s over the roof's median: the
    targets) and ``roof_fraction_best`` (best sample over the roof's best sample: the nearest
    each comes to its speed on a quiet machine, so a kernel above the roof there is no
    accident of load -- the ceiling check), against the roof timed in the case when there is
    one, else ``roofs`` (:func:`roof_lookup` of the roof section).  From the stored samples
    alone, so that ``python -m bench.report`` recomputes it."""
    comp = case["competitors"]
    nbytes = case["bytes_per_element"] * case["size"]
    best = {name: nbytes / c["timing"]["min_s"] / 1e9 for name, c in comp.items()}
    for name, c in comp.items():
        th = c["threads"]
        in_case = f"roof:t{th}" if f"roof:t{th}" in comp else None
        if in_case:
            roof_gbps, roof_best = comp[in_case]["gbps"], best[in_case]
        else:
            roof_gbps, roof_best = roofs.get((case["reads"], case["writes"], case["dtype"], th),
                                             (None, None))
        c["roof_gbps"] = roof_gbps
        c["roof_source"] = "case" if in_case else ("roof section" if roof_gbps else None)
        c["roof_fraction"] = c["gbps"] / roof_gbps if roof_gbps else None
        c["roof_fraction_best"] = best[name] / roof_best if roof_best else None


def dense_rows(case):
    """One row per fastopt (backend, threads) of a dense case, with every ratio."""
    comp = case["competitors"]
    rows = []
    for name, c in comp.items():
        if c["kind"] != "fastopt":
            continue
        th, t = c["threads"], c["time_s"]
        row = {"algorithm": case["algorithm"], "dtype": case["dtype"], "size": case["size"],
               "backend": c["backend"], "threads": th, "time_s": t, "gbps": c["gbps"],
               "roof_fraction": c["roof_fraction"], "roof_source": c.get("roof_source"),
               "roof_fraction_best": c.get("roof_fraction_best")}
        for flavour in numpy_impl.FLAVOURS:
            other = comp.get(f"numpy:{flavour}")
            row[f"vs_numpy_{flavour}"] = other["time_s"] / t if other else None
        for variant in torch_impl.VARIANTS:
            other = comp.get(f"torch:{variant}:t{th}")
            row[f"vs_torch_{variant}"] = other["time_s"] / t if other else None
        rows.append(row)
    return rows


# ------------------------------------------------------------- small tensors

def run_small(cfg, bar, usable):
    """Fixed cost of one step on a 1,000-element Adam parameter (float32), at 1 and all threads.

    fastopt runs arrays this small on one thread whatever the setting; torch may
    not, so both settings are timed and compared at equal thread counts.
    """
    algo, n, dtype = algorithms.get("adam"), cfg.small_size, "float32"
    bar.label(f"small adam n={n}")
    threads = Threads(cfg.torch)
    p, g = _rng_arrays(n, dtype, seed=1)
    competitors, skipped = [], {}
    for backend in cfg.backends:
        why = usable.get((backend, algo.name))
        if why:
            skipped[f"fastopt:{backend}"] = why
            continue
        opt = fastopt_impl.make(algo, backend, [p], [g])
        for th in cfg.threads:
            competitors.append(timing.Competitor(
                f"fastopt:{backend}:t{th}", opt.step, functools.partial(threads.fastopt, th),
                dict(kind="fastopt", backend=backend, threads=th, api=fastopt_impl.api())))
        try:
            fn, args = fastopt_impl.kernel_call(algo, backend, n, dtype, 1)
        except Exception as e:  # noqa: BLE001
            skipped[f"kernel:{backend}"] = f"{type(e).__name__}: {e}"
        else:
            competitors.append(timing.Competitor(
                f"kernel:{backend}:t1", functools.partial(fn, *args), None,
                dict(kind="kernel", backend=backend, threads=1)))
    for flavour in numpy_impl.FLAVOURS:
        impl = numpy_impl.make(flavour, algo, p, g)
        competitors.append(timing.Competitor(f"numpy:{flavour}:t1", impl.step, None,
                                             dict(kind="numpy", flavour=flavour, threads=1)))
    if cfg.torch:
        for variant in torch_impl.VARIANTS:
            if not torch_impl.has_variant(algo, variant):
                continue
            topt = torch_impl.TorchOptimizer(algo, variant, [p], [g])
            for th in cfg.threads:
                competitors.append(timing.Competitor(
                    f"torch:{variant}:t{th}", topt.step, functools.partial(threads.torch, th),
                    dict(kind="torch", variant=variant, threads=th)))
    load, comp = _time_round_robin(cfg, competitors, skipped, threads, warmup=0)
    for c in comp.values():
        # torch fused at the same thread count (numpy and raw kernels: 1 thread)
        fused = comp.get(f"torch:fused:t{c['threads']}")
        c["vs_torch_fused"] = fused["time_s"] / c["time_s"] if fused else None
    bar.step()
    return {"algorithm": algo.name, "size": n, "dtype": dtype, "threads": cfg.threads,
            "api": fastopt_impl.api(), "load_average": load, "competitors": comp,
            "skipped": skipped}


#: The 16-bit case: one Adam step on this many float16/bfloat16 elements.
HALF_SIZE = 1_000_000


def run_half(cfg, bar, usable):
    """One Adam step on :data:`HALF_SIZE` float16 and bfloat16 elements (float32 state,
    float32 gradient), rounded to nearest and stochastically, beside the float32 step,
    per backend on all threads, timed round-robin; ``vs_float32`` = the 16-bit step's
    time / the float32 step's (the cost of widening and rounding)."""
    try:
        import ml_dtypes  # fastopt's optional dependency for bfloat16 (the bench extra has it)
    except ImportError:
        ml_dtypes = None
    algo, n, th = algorithms.get("adam"), HALF_SIZE, cfg.all_threads
    bar.label(f"half adam n={n}")
    threads = Threads(False)
    rng = np.random.default_rng(3)
    g = rng.standard_normal(n, dtype=np.float64).astype(np.float32)
    start = rng.standard_normal(n, dtype=np.float64)
    competitors, skipped = [], {}
    for backend in cfg.backends:
        why = usable.get((backend, algo.name))
        if why:
            skipped[f"fastopt:{backend}"] = why
            continue
        for dtype, rounding in [("float32", None), ("float16", "nearest"),
                                ("float16", "stochastic"), ("bfloat16", "nearest"),
                                ("bfloat16", "stochastic")]:
            if dtype == "bfloat16" and ml_dtypes is None:
                skipped[f"fastopt:{backend}:{dtype}:{rounding}"] = \
                    "bfloat16 needs ml_dtypes (pip install 'fastopt[half]')"
                continue
            p = start.astype(ml_dtypes.bfloat16 if dtype == "bfloat16" else dtype)
            opt = fastopt_impl.make(algo, backend, [p], [g])
            if rounding:
                opt.opt.set_rounding(rounding, seed=0)
            name = f"fastopt:{backend}:{dtype}" + (f":{rounding}" if rounding else "")
            competitors.append(timing.Competitor(
                name, opt.step, functools.partial(threads.fastopt, th),
                dict(backend=backend, dtype=dtype, rounding=rounding, threads=th)))
    load, comp = _time_round_robin(cfg, competitors, skipped, threads, warmup=1)
    for c in comp.values():
        base = comp.get(f"fastopt:{c['backend']}:float32")
        c["vs_float32"] = c["time_s"] / base["time_s"] if base else None
    bar.step()
    return {"algorithm": algo.name, "size": n, "threads": th, "load_average": load,
            "competitors": comp, "skipped": skipped}


def _time_round_robin(cfg, competitors, skipped, threads, warmup):
    """Set up each competitor, drop (into ``skipped``) those that fail, time the rest
    round-robin (the small case's repeats and sample time); the load average before,
    and ``{name: info + time_s + timing}``."""
    ok = []
    for c in competitors:
        if c.setup:
            c.setup()
        if not _record_failure(c, skipped):
            ok.append(c)
    load = timing.load_average()
    try:
        stats = timing.interleaved(ok, repeats=cfg.small_repeats, min_sample_s=cfg.small_sample_s,
                                   warmup=warmup)
    finally:
        threads.restore()
    return load, {c.name: {**c.info, "time_s": stats[c.name].median_s,
                           "timing": stats[c.name].as_dict()} for c in ok}


def _record_failure(c, skipped):
    why = _try(c.fn)
    if why:
        skipped[c.name] = why
    return why


# ------------------------------------------------------------- many tensors

def run_model(cfg, bar, usable):
    """100 parameters of 10,000 elements stepped as a list vs one of 1,000,000 (Adam, float32)."""
    algo, dtype = algorithms.get("adam"), "float32"
    count, each = cfg.model_shape
    single = count * each
    bar.label(f"model {count}x{each} vs {single}")
    threads = Threads(cfg.torch)
    rng = np.random.default_rng(2)
    model_p = [rng.standard_normal(each).astype(dtype) for _ in range(count)]
    model_g = [rng.standard_normal(each).astype(dtype) for _ in range(count)]
    one_p, one_g = _rng_arrays(single, dtype, seed=3)
    shapes = {"model": (model_p, model_g), "single": ([one_p], [one_g])}
    # The same model laid out back to back (fastopt.flat_arrays): one fused call per step.
    fastopt = fastopt_impl._fastopt()
    if hasattr(fastopt, "flat_arrays"):
        flat_p = fastopt.flat_arrays([(each,)] * count, dtype)
        flat_g = fastopt.flat_arrays([(each,)] * count, dtype)
        for dst, src in zip(flat_p + flat_g, model_p + model_g):
            dst[...] = src
        shapes["flat"] = (flat_p, flat_g)
    competitors, skipped = [], {}
    for backend in cfg.backends:
        why = usable.get((backend, algo.name))
        if why:
            skipped[f"fastopt:{backend}"] = why
            continue
        for shape, (ps, gs) in shapes.items():
            opt = fastopt_impl.make(algo, backend, ps, gs)
            for th in cfg.threads:
                competitors.append(timing.Competitor(
                    f"fastopt:{backend}:{shape}:t{th}", opt.step,
                    functools.partial(threads.fastopt, th),
                    dict(kind="fastopt", backend=backend, shape=shape, threads=th)))
    if cfg.torch:
        for variant in ("foreach", "fused"):
            if not torch_impl.has_variant(algo, variant):
                continue
            for shape, (ps, gs) in shapes.items():
                if shape == "flat":
                    continue  # the layout is fastopt's; torch sees the separate model
                topt = torch_impl.TorchOptimizer(algo, variant, ps, gs)
                for th in cfg.threads:
                    competitors.append(timing.Competitor(
                        f"torch:{variant}:{shape}:t{th}", topt.step,
                        functools.partial(threads.torch, th),
                        dict(kind="torch", variant=variant, shape=shape, threads=th)))
    ok = []
    for c in competitors:
        if c.setup:
            c.setup()
        if not _record_failure(c, skipped):
            ok.append(c)
    load = timing.load_average()
    try:
        stats = timing.interleaved(ok, repeats=cfg.repeats_for(single),
                                   min_sample_s=cfg.min_sample_s, warmup=0)
    finally:
        threads.restore()
    comp = {c.name: {**c.info, "time_s": stats[c.name].median_s,
                     "timing": stats[c.name].as_dict()} for c in ok}
    ratios = []
    for name, c in comp.items():
        if c["shape"] not in ("model", "flat"):
            continue
        key = name.replace(f":{c['shape']}:", ":single:")
        if key in comp:
            ratios.append({k: c[k] for k in ("kind", "backend", "variant", "threads", "shape")
                           if k in c}
                          | {"model_s": c["time_s"], "single_s": comp[key]["time_s"],
                             "ratio": c["time_s"] / comp[key]["time_s"]})
    bar.step()
    return {"algorithm": algo.name, "dtype": dtype, "count": count, "each": each,
            "single": single, "load_average": load, "competitors": comp, "ratios": ratios,
            "skipped": skipped}


# ---------------------------------------------------------------- consistency

# Loose enough for other rounding orders (torch keeps NAdam's mu_product in a float32
# scalar: ~5e-9 in float64), tight enough that a wrong equation cannot pass.
CHECK_TOLERANCE = {"float64": 1e-7, "float32": 1e-4}

def run_checks(cfg, bar, usable, n=1000, steps=3):
    """Every competitor computes the same update as fastopt's reference (``steps`` steps).

    Compares the parameter *change* ``p_after - p_before`` with the python
    backend's (the specification): relative error of the update, not of the
    parameter, so a wrong update cannot hide behind a large parameter.  Runs in
    the run's first dtype (float64 unless only float32 is benchmarked); the
    tolerance (:data:`CHECK_TOLERANCE`) allows for NumPy and torch rounding in
    another order, and catches any wrong equation.
    """
    dtype = cfg.dtypes[0]
    tol = CHECK_TOLERANCE[dtype]
    out = []
    for name in cfg.algorithms:
        algo = algorithms.get(name)
        bar.label(f"check {name}")
        p0, g = _rng_arrays(n, dtype, seed=7, shape=algo.shape(n))

        def run(make):
            p = p0.copy()
            opt = make(p)
            for _ in range(steps):
                opt.step()
            return p - p0

        try:
            ref = run(lambda p: fastopt_impl.make(algo, "python", [p], [g]))
        except Exception as e:  # noqa: BLE001
            out.append({"algorithm": name, "competitor": "fastopt:python", "status": "error",
                        "error": f"{type(e).__name__}: {e}"})
            continue
        makers = {}
        for backend in cfg.backends:
            if backend != "python" and not usable.get((backend, name)):
                makers[f"fastopt:{backend}"] = functools.partial(
                    lambda b, p: fastopt_impl.make(algo, b, [p], [g]), backend)
        for flavour in numpy_impl.FLAVOURS:
            makers[f"numpy:{flavour}"] = functools.partial(
                lambda f, p: numpy_impl.make(f, algo, p, g), flavour)
        if cfg.torch:
            for variant in torch_impl.VARIANTS:
                if torch_impl.has_variant(algo, variant):
                    makers[f"torch:{variant}"] = functools.partial(
                        lambda v, p: torch_impl.TorchOptimizer(algo, v, [p], [g]), variant)
        scale = np.max(np.abs(ref)) or 1.0
        for cname, make in makers.items():
            try:
                d = run(make)
            except Exception as e:  # noqa: BLE001
                out.append({"algorithm": name, "competitor": cname, "status": "error",
                            "error": f"{type(e).__name__}: {e}".splitlines()[0][:200]})
                continue
            err = float(np.max(np.abs(d - ref)) / scale)
            out.append({"algorithm": name, "competitor": cname, "dtype": dtype,
                        "max_rel_update_error": err, "tolerance": tol,
                        "status": "ok" if err <= tol else "MISMATCH"})
    bar.step()
    return out
