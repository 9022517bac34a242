"""Command line and run configuration of ``python -m bench``."""
import argparse
import dataclasses
import pathlib

from .harness import machine
from .peers import algorithms, fastopt_impl, torch_impl

ROOT = pathlib.Path(__file__).resolve().parent.parent
#: Where ``--publish`` writes: committed, embedded in the README (``--update-readme``).
PUBLISH_OUT = ROOT / "bench" / "results"
#: Default outputs, all under the git-ignored ``bench_results/``: a run never touches
#: tracked files unless asked to.
FULL_OUT = ROOT / "bench_results" / "full"
QUICK_OUT = ROOT / "bench_results" / "quick"
CUSTOM_OUT = ROOT / "bench_results" / "custom"

FULL_SIZES = (1_000, 10_000, 100_000, 1_000_000, 16_000_000)
QUICK_SIZES = (1_000, 100_000)
QUICK_ALGORITHMS = ("sgd", "rmsprop", "adam")  # one per traffic pattern: (2,1), (3,2), (4,3)
QUICK_ROOF_SIZE = 1_000_000
DTYPES = ("float32", "float64")
SECTIONS = ("checks", "roof", "dense", "small", "model", "compile", "sparse", "contention")


@dataclasses.dataclass
class Config:
    quick: bool
    algorithms: list
    sizes: list
    threads: list
    dtypes: list
    backends: list
    out: pathlib.Path
    sections: list
    torch: bool
    charts: bool
    progress: bool
    repeats: int = None           # overrides every repeat count when given
    usable_cores: int = 1
    llc_bytes: int = machine.DEFAULT_LLC
    parallel_threshold: int = None
    publish: bool = False         # writing into bench/results/ (the committed results)
    update_readme: bool = False
    allow_dirty: bool = False
    skipped_backends: dict = dataclasses.field(default_factory=dict)
    notes: list = dataclasses.field(default_factory=list)

    # timing policy -------------------------------------------------------------
    @property
    def min_sample_s(self):
        """Shortest sample: several steps of a tiny array are timed together."""
        return 0.001 if self.quick else 0.005

    def repeats_for(self, n):
        if self.repeats:
            return self.repeats
        if self.quick:
            return 3
        if n <= 100_000:
            return 11
        if n <= 1_000_000:
            return 9
        return 7

    @property
    def roof_repeats(self):
        return self.repeats or (3 if self.quick else 7)

    @property
    def roof_min_size(self):
        # never smaller than the largest dense size (the 1.6e7 targets compare with it)
        return 0 if self.quick else max(self.sizes, default=0)

    @property
    def roof_max_size(self):
        """--quick checks that the section runs, on cache-sized arrays: no roof, no GBs."""
        return QUICK_ROOF_SIZE if self.quick else None

    @property
    def small_size(self):
        return 1_000

    @property
    def small_repeats(self):
        return self.repeats or (3 if self.quick else 15)

    @property
    def small_sample_s(self):
        return 0.002 if self.quick else 0.020

    @property
    def model_shape(self):
        return (100, 10_000)

    @property
    def compile_algorithms(self):
        """Kernels whose compile cost is measured (--quick: Adam only, it takes seconds each)."""
        if self.quick:
            return ["adam"] if "adam" in self.algorithms else self.algorithms[:1]
        return list(self.algorithms)

    @property
    def compile_dtypes(self):
        return list(self.dtypes)

    @property
    def compile_timeout_s(self):
        return 600

    @property
    def all_threads(self):
        return max(self.threads)

    @property
    def case_roof(self):
        """Whether dense cases beyond the cache time the roof kernel in their round-robin."""
        return "roof" in self.sections

    @property
    def small_section(self):
        return "small" in self.sections

    @property
    def model_section(self):
        return "model" in self.sections

    def as_dict(self):
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["out"] = str(self.out)
        d.update(min_sample_s=self.min_sample_s, case_roof=self.case_roof, roof_repeats=self.roof_repeats,
                 roof_min_size=self.roof_min_size, roof_max_size=self.roof_max_size,
                 small_size=self.small_size,
                 small_repeats=self.small_repeats, small_sample_s=self.small_sample_s,
                 model_shape=list(self.model_shape),
                 repeats_by_size={n: self.repeats_for(n) for n in self.sizes})
        return d


def _split(values):
    out = []
    for v in values or ():
        out += [x.strip() for x in v.split(",") if x.strip()]
    return out


def _size(text):
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}") from None
    if x < 1 or x != int(x):
        raise argparse.ArgumentTypeError(f"a size is a positive whole number, got {text!r}")
    return int(x)


def parser():
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="fastopt benchmark: fused kernels vs the memory roof, NumPy and torch.optim.",
        epilog=("Lists are comma- or space-separated.  Without --out, a full run writes to "
                "bench_results/full/, --quick to bench_results/quick/, and a run narrowed by "
                "--algorithms/--sizes/--threads/--dtype/--backends/--sections/--repeats to "
                "bench_results/custom/ (all git-ignored: a run leaves the tree clean).  "
                "--publish writes a full run to bench/results/ (committed) and refuses a "
                "dirty tree; --update-readme also puts its tables into README.md.  "
                "Exits with status 1 when a consistency check fails."))
    p.add_argument("--quick", action="store_true",
                   help=f"CI smoke run in seconds: {', '.join(QUICK_ALGORITHMS)}; sizes "
                        f"{', '.join(map(str, QUICK_SIZES))}; float32; 3 repeats")
    p.add_argument("--algorithms", nargs="+", metavar="NAME",
                   help=f"subset of: {', '.join(algorithms.NAMES)} (or 'all')")
    p.add_argument("--sizes", nargs="+", metavar="N",
                   help="elements per parameter, e.g. 1e3,1e6,1.6e7 (default: 1e3 1e4 1e5 1e6 1.6e7)")
    p.add_argument("--threads", nargs="+", metavar="T",
                   help="thread counts, numbers or 'all' (default: 1,all)")
    p.add_argument("--dtype", nargs="+", metavar="DTYPE", dest="dtypes",
                   help="float32 and/or float64 (default: both)")
    p.add_argument("--backends", nargs="+", metavar="B",
                   help="fastopt backends: cython, numba, python (default: the compiled ones "
                        "available; python when none is)")
    p.add_argument("--out", type=pathlib.Path, metavar="DIR", help="output directory")
    p.add_argument("--publish", action="store_true",
                   help="write into bench/results/ (the committed results); needs a full run "
                        "from a clean git tree")
    p.add_argument("--update-readme", action="store_true",
                   help="with --publish: rewrite the README's results block from this run")
    p.add_argument("--allow-dirty", action="store_true",
                   help="with --publish: publish from a tree with uncommitted changes (the "
                        "report then says so)")
    p.add_argument("--sections", nargs="+", metavar="S",
                   help=f"subset of: {', '.join(SECTIONS)} (default: all)")
    p.add_argument("--repeats", type=int, metavar="R",
                   help="samples per competitor (default: by size, 7-15; 3 with --quick)")
    p.add_argument("--no-torch", action="store_true", help="leave torch.optim out")
    p.add_argument("--no-charts", action="store_true", help="do not draw the PNG charts")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def from_args(argv=None):
    p = parser()
    a = p.parse_args(argv)
    usable, _ = machine.cores()
    notes = []

    names = _split(a.algorithms)
    if not names or names == ["all"]:
        names = list(QUICK_ALGORITHMS if a.quick and not names else algorithms.NAMES)
    bad = [n for n in names if n not in algorithms.ALGORITHMS]
    if bad:
        p.error(f"unknown algorithm(s) {', '.join(bad)}; choose from {', '.join(algorithms.NAMES)}")

    try:
        sizes = sorted({_size(s) for s in _split(a.sizes)}) or list(
            QUICK_SIZES if a.quick else FULL_SIZES)
    except argparse.ArgumentTypeError as e:
        p.error(str(e))

    threads = set()
    for t in _split(a.threads) or ["1", "all"]:
        if t == "all":
            threads.add(usable)
        elif t.isdigit() and int(t) >= 1:
            threads.add(int(t))
        else:
            p.error(f"--threads takes positive numbers or 'all', got {t!r}")
    threads = sorted(threads)

    dtypes = _split(a.dtypes) or (["float32"] if a.quick else list(DTYPES))
    bad = [d for d in dtypes if d not in DTYPES]
    if bad:
        p.error(f"unknown dtype(s) {', '.join(bad)}; choose from {', '.join(DTYPES)}")
    dtypes = [d for d in DTYPES if d in dtypes]

    sections = _split(a.sections) or list(SECTIONS)
    bad = [s for s in sections if s not in SECTIONS]
    if bad:
        p.error(f"unknown section(s) {', '.join(bad)}; choose from {', '.join(SECTIONS)}")
    sections = [s for s in SECTIONS if s in sections]

    available = fastopt_impl.available_backends()
    if a.backends:
        backends = _split(a.backends)
        bad = [b for b in backends if b not in ("cython", "numba", "python")]
        if bad:
            p.error(f"unknown backend(s) {', '.join(bad)}; choose from cython, numba, python")
    else:
        backends = [b for b in ("cython", "numba") if b in available] or ["python"]
        missing = [b for b in ("cython", "numba") if b not in available]
        if missing:
            notes.append(f"backend(s) not available, left out: {', '.join(missing)}")

    narrowed = any(x is not None for x in (a.algorithms, a.sizes, a.threads, a.dtypes,
                                           a.backends, a.sections, a.repeats))
    if a.update_readme and not a.publish:
        p.error("--update-readme needs --publish (the README links to bench/results/)")
    if a.allow_dirty and not a.publish:
        p.error("--allow-dirty only applies to --publish")
    if a.publish:
        if a.quick or narrowed or a.no_torch or (a.out is not None
                                                 and a.out.resolve() != PUBLISH_OUT):
            p.error("--publish takes a full run only (no --quick, no narrowing option, "
                    "no --no-torch, no other --out)")
        dirty = machine.git_dirty(ROOT)
        if dirty and not a.allow_dirty:
            p.error(f"refusing to publish from a dirty tree ({dirty}); commit first, or "
                    "--allow-dirty to publish with the report saying so")
        out = PUBLISH_OUT
    elif a.out is not None:
        out = a.out
    elif a.quick:
        out = QUICK_OUT
    elif narrowed:
        out = CUSTOM_OUT
    else:
        out = FULL_OUT

    use_torch = not a.no_torch and torch_impl.available()
    if not a.no_torch and not use_torch:
        notes.append("torch is not installed: torch.optim comparisons left out")

    return Config(quick=a.quick, algorithms=names, sizes=sizes, threads=threads, dtypes=dtypes,
                  backends=backends, out=out, sections=sections, torch=use_torch,
                  charts=not a.no_charts, progress=not a.no_progress, repeats=a.repeats,
                  publish=a.publish, update_readme=a.update_readme, allow_dirty=a.allow_dirty,
                  usable_cores=usable, llc_bytes=machine.llc_bytes(),
                  parallel_threshold=fastopt_impl.parallel_threshold(), notes=notes)
