"""Sparse benchmark: row updates of an embedding table.

A table of 1,000,000 x 64 float32 (``--quick``: 100,000 x 64) and batches of 8,192
Zipf-distributed row indices (with duplicates), every algorithm's sparse step
(``fastopt.SparseGrad``) per backend on 1 thread and on all cores, against

* a straightforward NumPy sparse Adagrad: ``np.unique`` + ``np.add.at`` to coalesce,
  then the update of the touched rows with fancy indexing;
* PyTorch's sparse paths, when installed: ``torch.optim.Adagrad`` and
  ``torch.optim.SparseAdam`` stepping a sparse COO gradient on the same kind of table.

Each algorithm is one case whose competitors are timed round-robin (interleaved),
cycling through the same batches: one table per fastopt backend and per torch peer
(the tables start equal), shared by that implementation's thread settings (as the
dense cases share their arrays), which keeps the section's memory to a few tables.
Each sample starts once the process's other threads are idle (``timing.settle``, at most
``SETTLE_S``): torch's OpenMP workers spin for milliseconds after its 2-thread step, and
in the round-robin they slowed whichever competitor came next (the sample after torch's
was always fastopt Cython's 1-thread one) by ~60%; ~20% remains after settling.
Figures: milliseconds per step, rows per second (batch rows, duplicates counted,
per second) and speed-ups over NumPy and torch at the same thread count.
"""
import functools
import itertools

import numpy as np

from ..harness import memory, timing
from ..peers import fastopt_impl, torch_impl

STATUS = "measured"
FULL = dict(n_rows=1_000_000, width=64, batch=8192, batches=8)
QUICK = dict(n_rows=100_000, width=64, batch=8192, batches=4)
ZIPF_A = 1.1
#: Longest wait for the other threads to go idle before a sample (see above).
SETTLE_S = 0.05

#: (name, fastopt class, keyword arguments, torch peer or None)
ALGORITHMS = (
    ("adagrad", "Adagrad", {}, "adagrad"),
    ("adagrad_rowwise", "Adagrad", {"rowwise": True}, None),
    ("sgd", "SGD", {"lr": 0.01}, None),
    ("sgd_momentum", "SGD", {"lr": 0.01, "momentum": 0.9}, None),
    ("adadelta", "Adadelta", {}, None),
    ("rmsprop", "RMSprop", {}, None),
    ("adam", "Adam", {}, "sparse_adam"),
    ("adamax", "Adamax", {}, None),
    ("nadam", "NAdam", {}, None),
    ("radam", "RAdam", {}, None),
    ("lion", "Lion", {}, None),
    ("rprop", "Rprop", {}, None),
    ("asgd", "ASGD", {}, None),
    ("sparse_adam", "SparseAdam", {}, "sparse_adam"),
    ("sparse_adam_per_row", "SparseAdam", {"per_row_step": True}, None),
    ("lamb", "LAMB", {}, None),
    ("ftrl", "Ftrl", {"l1": 1e-3}, None),
    ("proximal_adagrad", "ProximalAdagrad", {"l1": 1e-3}, None),
    ("adafactor", "Adafactor", {}, None),
)
QUICK_ALGORITHMS = ("adagrad", "adam")
#: Tables of state per row each sparse step keeps (fastopt's, and torch's for its peer).
STATE_TABLES = {"adagrad": 1, "adagrad_rowwise": 0, "sgd": 0, "sgd_momentum": 1, "adadelta": 2,
                "rmsprop": 1, "adam": 2, "adamax": 2, "nadam": 2, "radam": 2, "lion": 1,
                "rprop": 2, "asgd": 1, "sparse_adam": 2, "sparse_adam_per_row": 2, "lamb": 3,
                "ftrl": 2, "proximal_adagrad": 1,
                "adafactor": 1}  # row_var is 1/width of a table: 1 bounds it (and the gathers)
TORCH_STATE_TABLES = {"adagrad": 1, "sparse_adam": 2}


def _shape(cfg):
    return QUICK if cfg.quick else FULL


def _selected(cfg):
    names = QUICK_ALGORITHMS if cfg.quick else [a[0] for a in ALGORITHMS]
    return [a for a in ALGORITHMS if a[0] in names]


def units(cfg):
    return len(_selected(cfg))


def memory_bytes(cfg):
    """Bytes the largest case holds at once: the starting table, each backend's table and
    state, NumPy's table, state and temporaries (Adagrad), torch's table and state."""
    shape = _shape(cfg)
    table = shape["n_rows"] * shape["width"] * 4
    worst = 0
    for name, _, _, peer in _selected(cfg):
        k = 1 + len(cfg.backends) * (1 + STATE_TABLES[name])
        if name == "adagrad":
            k += 2 + 1  # table, state; the update's temporaries are batch-sized, plus a copy
        if peer and cfg.torch:
            k += 1 + TORCH_STATE_TABLES[peer]
        worst = max(worst, k)
    return worst * table


def _batches(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(shape["batches"]):
        idx = (np.minimum(rng.zipf(ZIPF_A, shape["batch"]), shape["n_rows"]) - 1).astype(np.int64)
        out.append((idx, (0.1 * rng.standard_normal((shape["batch"], shape["width"]))).astype(dtype)))
    return out


def _cycle(fn, batches):
    it = itertools.cycle(batches)
    return lambda: fn(*next(it))


# -- the NumPy baseline ---------------------------------------------------------------

def numpy_adagrad(table, state_sum, lr=0.01, eps=1e-10):
    """Straightforward NumPy sparse Adagrad (the code one would write by hand)."""
    lr, eps = table.dtype.type(lr), table.dtype.type(eps)

    def step(indices, values):
        rows, inverse = np.unique(indices, return_inverse=True)
        grad = np.zeros((rows.size, table.shape[1]), table.dtype)
        np.add.at(grad, inverse, values)
        s = state_sum[rows] + grad * grad
        state_sum[rows] = s
        table[rows] -= lr * grad / (np.sqrt(s) + eps)
    return step


# -- torch ----------------------------------------------------------------------------

def torch_sparse(peer, table):
    torch = torch_impl.torch()
    p = torch.nn.Parameter(torch.from_numpy(table))
    if peer == "adagrad":
        opt = torch.optim.Adagrad([p], lr=0.01)
    else:
        opt = torch.optim.SparseAdam([p], lr=1e-3)
    n_rows, width = table.shape

    def step(indices, values):
        p.grad = torch.sparse_coo_tensor(torch.from_numpy(indices)[None, :],
                                         torch.from_numpy(values), (n_rows, width),
                                         check_invariants=False)
        opt.step()
    return step


# -- the run --------------------------------------------------------------------------

def run(cfg, bar):
    from .dense import Threads

    shape = _shape(cfg)
    dtype = np.float32
    batches = _batches(shape, dtype)
    start = (0.1 * np.random.default_rng(1).standard_normal(
        (shape["n_rows"], shape["width"]))).astype(dtype)
    use_torch = cfg.torch and torch_impl.available()
    threads = Threads(use_torch)
    cases = []
    try:
        for name, cls_name, kwargs, peer in _selected(cfg):
            bar.label(f"sparse {name}")
            # one call per case: its tables die when it returns (a loop variable left bound,
            # e.g. the last competitor, would keep a table and its state into the next case)
            cases.append(_case(cfg, shape, start, batches, threads, use_torch,
                               name, cls_name, kwargs, peer))
            memory.release_free_memory()
            bar.step()
    finally:
        threads.restore()
    return {"status": STATUS, **shape, "dtype": "float32", "zipf_a": ZIPF_A,
            "distinct_rows_per_batch": [int(np.unique(i).size) for i, _ in batches],
            "cases": cases}


def _case(cfg, shape, start, batches, threads, use_torch, name, cls_name, kwargs, peer):
    """One algorithm's row of the sparse section: every competitor timed interleaved."""
    fastopt = fastopt_impl._fastopt()
    competitors = []
    for backend in cfg.backends:
        opt = getattr(fastopt, cls_name)(start.copy(), backend=backend, **kwargs)
        for th in cfg.threads:
            fn = _cycle(lambda i, v, opt=opt: opt.step(fastopt.SparseGrad(i, v)), batches)
            competitors.append(timing.Competitor(
                f"fastopt:{backend}:t{th}", fn, functools.partial(threads.fastopt, th),
                dict(kind="fastopt", backend=backend, threads=th)))
    if name == "adagrad":
        competitors.append(timing.Competitor(
            "numpy", _cycle(numpy_adagrad(start.copy(), np.zeros_like(start)), batches),
            None, dict(kind="numpy", threads=1)))
    if peer and use_torch:
        torch_step = torch_sparse(peer, start.copy())
        for th in cfg.threads:
            competitors.append(timing.Competitor(
                f"torch:{peer}:t{th}", _cycle(torch_step, batches),
                functools.partial(threads.torch, th),
                dict(kind="torch", variant=peer, threads=th)))
    load = timing.load_average()
    stats = timing.interleaved(competitors, repeats=3 if cfg.quick else 9,
                               min_sample_s=cfg.min_sample_s, warmup=1, settle_s=SETTLE_S)
    rows = {}
    for c in competitors:
        s = stats[c.name]
        rows[c.name] = {**c.info, "time_s": s.median_s,
                        "rows_per_s": shape["batch"] / s.median_s,
                        "timing": s.as_dict()}
    for r in rows.values():
        if r["kind"] != "fastopt":
            continue
        if "numpy" in rows:
            r["vs_numpy"] = rows["numpy"]["time_s"] / r["time_s"]
        peer_row = rows.get(f"torch:{peer}:t{r['threads']}") if peer else None
        if peer_row:
            r["vs_torch"] = peer_row["time_s"] / r["time_s"]
            r["torch_peer"] = peer
    return {"algorithm": name, "class": cls_name, "kwargs": kwargs,
            "load_average": load, "competitors": rows}


def section(results):
    """(headers, rows) for the report: one row per algorithm x fastopt competitor."""
    s = results.get("sparse")
    if not s or s.get("status") != STATUS:
        return None, []
    rows = []
    for case in s["cases"]:
        for name, c in case["competitors"].items():
            rows.append([case["algorithm"], name, c["threads"], f"{c['time_s'] * 1e3:.3f} ms",
                         f"{c['rows_per_s'] / 1e6:.2f} M",
                         f"{c['vs_numpy']:.1f}x" if "vs_numpy" in c else "-",
                         f"{c['vs_torch']:.1f}x ({c['torch_peer']})" if "vs_torch" in c else "-"])
    return ["algorithm", "implementation", "threads", "time/step", "rows/s", "x NumPy",
            "x torch"], rows
