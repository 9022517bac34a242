"""``python -m bench.parallel``: the parallel-SGD benchmark (Hogwild!, Downpour on both
engines, EASGD, the delay simulation, a fault drill), against the targets of issue #12.

Writes ``parallel.json``, ``parallel.md`` and (with matplotlib) ``parallel_wall.png``
(loss against wall time per scheme) and ``parallel_delay.png`` (loss against delay) to
``--out`` (default ``bench/results``).  ``--quick`` shrinks everything (CI, tests);
``--no-ray`` skips what needs Ray.  The data are generated (see
:mod:`bench.parallel.problems`); every number in the report is measured by this run.
"""
import argparse
import functools
import json
import os
import platform
import sys
import tempfile
import time

import numpy as np

import fastopt
from fastopt.parallel import (ParameterServer, downpour, easgd, elastic_center, hogwild,
                              simulate)

from . import problems as P

TARGETS = {
    "hogwild_speedup": 1.9, "hogwild_loss_rel": 0.01, "ray_speedup": 1.5,
    "ray_loss_rel": 0.02, "easgd_loss_rel": 0.02,
}


def _load():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def bench_hogwild(quick, epochs, repeats=3):
    """1 thread vs 2 threads on both showcases, ``repeats`` runs of each, alternated (a
    shared machine's load drifts): per run the fastest epoch after the first (which
    compiles), the final loss, and the parallelism the OS granted (process CPU time over
    wall time, in the 2-thread epochs).  The speed-up is the median over the pairs."""
    out = {}
    cases = {
        "matrix_factorization": (P.ratings(n_ratings=20_000 if quick else 400_000),
                                 lambda d: P.MatrixFactorization(d, dim=16), P.mf_step),
        "logistic_regression": (P.documents(n_docs=2_000 if quick else 40_000),
                                P.LogisticRegression, P.logistic_step),
    }
    for name, (data, make, step) in cases.items():
        runs = {1: [], 2: []}
        for _ in range(repeats):
            for n_threads in (1, 2):
                model = make(data)
                marks = [(time.perf_counter(), time.process_time())]
                hogwild(step, len(data), model.args(), epochs=epochs, n_threads=n_threads,
                        seed=0, batch_size=64, callback=lambda e, loss, s: marks.append(
                            (time.perf_counter(), time.process_time())))
                wall = np.diff([m[0] for m in marks])[1:]
                cpu = np.diff([m[1] for m in marks])[1:]
                runs[n_threads].append({"seconds": float(wall.min()), "loss": model.loss(),
                                        "cpu_per_wall": float(cpu.sum() / wall.sum())})
        ratios = [a["seconds"] / b["seconds"] for a, b in zip(runs[1], runs[2])]
        loss_1, loss_2 = runs[1][-1]["loss"], runs[2][-1]["loss"]
        out[name] = {
            "examples": len(data), "epochs": epochs, "repeats": repeats,
            "seconds_1": float(np.median([r["seconds"] for r in runs[1]])),
            "seconds_2": float(np.median([r["seconds"] for r in runs[2]])),
            "speedup": float(np.median(ratios)), "speedups": ratios,
            "parallelism_2": float(np.median([r["cpu_per_wall"] for r in runs[2]])),
            "loss_1": loss_1, "loss_2": loss_2, "loss_rel": abs(loss_2 - loss_1) / loss_1,
        }
    return out


def _downpour_run(problem, engine, n_workers, epochs, batch_size, lr, period):
    server = ParameterServer(problem.initial(), n_shards=2, engine=engine,
                             optimizer=functools.partial(fastopt.Adagrad, lr=lr))
    curve, elapsed = [], [0.0]
    result = downpour(server, problem, n_workers=n_workers, epochs=epochs,
                      batch_size=batch_size, n_fetch=period, n_push=period,
                      callback=lambda e, loss, s: curve.append(
                          (elapsed.__setitem__(0, elapsed[0] + s) or elapsed[0],
                           problem.loss(server.tables()))))
    seconds = float(np.median(result.seconds[1:] or result.seconds))
    out = {"engine": engine, "workers": n_workers,
           "examples_per_second": problem.n_examples / seconds,
           "final_loss": problem.loss(server.tables()), "curve": curve,
           "pushes": result.stats["pushes"], "bytes_pushed": result.stats["bytes_pushed"],
           "bytes_pulled": result.stats["bytes_pulled"],
           "mean_staleness": result.stats["staleness_sum"] / max(result.stats["acks"], 1)}
    server.close()
    return out


def bench_downpour(quick, use_ray, epochs):
    docs = P.documents(n_docs=2_000 if quick else 20_000, n_words=2_000 if quick else 20_000)
    problem = P.SparseLogisticProblem(docs)
    problem.gradient(np.arange(2), problem.initial())  # compile (or load) the numba step
    batch, period = 256, 1  # n_fetch = n_push = period (Downpour's defaults)
    runs = [_downpour_run(problem, "local", w, epochs, batch, 0.1, period) for w in (1, 2)]
    if use_ray:
        runs += [_downpour_run(problem, "ray", w, epochs, batch, 0.1, period) for w in (1, 2)]
    single = runs[0]["final_loss"]
    # bytes per push against the rows it touched (a push carries `period` batches, each
    # touched row once): one (int64, float32) pair per row
    group = batch * period
    touched = np.mean([np.unique(problem.rows(np.arange(b, min(b + group, len(docs))))["w"])
                       .size for b in range(0, len(docs), group)])
    for r in runs:
        r["loss_rel"] = abs(r["final_loss"] - single) / single
        r["bytes_per_push"] = r["bytes_pushed"] / max(r["pushes"], 1)
    return {"runs": runs, "batch_size": batch, "n_fetch": period, "n_push": period,
            "rows_touched_per_push": float(touched),
            "bytes_per_touched_row": 8 + 4, "table_bytes": (docs.n_words + 1) * 4}


def bench_easgd(quick, epochs):
    problem = P.SoftmaxProblem(n_examples=4_000 if quick else 20_000)
    w = problem.initial()["W"]
    opt = fastopt.SGD(w, lr=0.05)
    from fastopt.parallel import workers as W
    elapsed, curve = 0.0, []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        for b in W.batches(np.arange(problem.n_examples), 32, 0, 0, epoch):
            opt.step(problem.gradient(b, {"W": w})[1]["W"])
        elapsed += time.perf_counter() - t0
        curve.append((elapsed, problem.loss({"W": w})))
    single = problem.loss({"W": w})
    runs = {"single-process SGD": {"final_loss": single, "curve": curve}}
    for label, kw in [("async EASGD tau=4", dict(tau=4)), ("async EASGD tau=16", dict(tau=16)),
                      ("sync EASGD tau=4", dict(tau=4, variant="sync")),
                      ("async EAMSGD tau=8", dict(tau=8, momentum=0.9, lr=0.005))]:
        server = ParameterServer(problem.initial(), n_shards=2, optimizer=elastic_center)
        curve, elapsed = [], [0.0]
        easgd(server, problem, n_workers=2, epochs=epochs, batch_size=32,
              **dict(dict(lr=0.05), **kw),
              callback=lambda e, loss, s: curve.append((
                  elapsed.__setitem__(0, elapsed[0] + s) or elapsed[0],
                  problem.loss(server.tables()))))
        final = problem.loss(server.tables())
        runs[label] = {"final_loss": final, "curve": curve,
                       "loss_rel": (final - single) / single}
    return runs


def bench_delays(quick):
    """Loss after a fixed number of gradients against the delay, per scheme, each with its
    best learning rate from a small grid (as McMahan & Streeter compare them)."""
    docs = P.documents(n_docs=1_500 if quick else 4_000, n_words=1_500 if quick else 3_000,
                       mean_length=30)
    problem = P.SparseLogisticProblem(docs)
    delays = [0, 30, 100] if quick else [0, 10, 30, 100, 300, 1000]
    ticks = 500 if quick else 3000
    grid = {"async-adagrad": [0.1, 0.3, 1.0], "adarevision": [0.1, 0.3, 1.0],
            "sync-sgd": [0.1, 0.3, 1.0], "easgd": [0.003, 0.01, 0.03]}
    out = {"delays": delays, "ticks": ticks, "n_workers": 16, "batch_size": 16,
           "lr_grid": grid, "losses": {}, "best_lr": {}}
    for scheme, lrs in grid.items():
        out["losses"][scheme], out["best_lr"][scheme] = [], []
        for d in delays:
            runs = {}
            for lr in lrs:
                kw = dict(worker_lr=lr, lr=0.3) if scheme == "easgd" else dict(lr=lr)
                loss = simulate(problem, scheme, n_workers=16, delay=d, ticks=ticks,
                                batch_size=16, seed=0, **kw).losses[-1]
                runs[lr] = loss if np.isfinite(loss) else float("inf")
            best = min(runs, key=runs.get)
            out["losses"][scheme].append(runs[best])
            out["best_lr"][scheme].append(best)
    return out


def bench_faults(quick, tmp):
    """Kill a worker and a shard mid-run (Ray) and report what came back."""
    import ray
    problem = P.SparseLogisticProblem(P.documents(n_docs=1_000 if quick else 5_000))
    every = 10
    server = ParameterServer(problem.initial(), n_shards=2, engine="ray",
                             checkpoint_dir=tmp, checkpoint_every=every,
                             optimizer=functools.partial(fastopt.Adagrad, lr=0.1))
    workers, at_kill = [], {}

    def kill(epoch, loss, seconds):
        if epoch == 1:
            at_kill.update(server.info()[1])
            ray.kill(workers[0], no_restart=False)
            server.kill_shard(1)

    result = downpour(server, problem, n_workers=2, epochs=3, batch_size=32,
                      on_start=workers.extend, callback=kill)
    info = server.info()[1]
    out = {"completed_epochs": len(result.losses), "losses": result.losses,
           "checkpoint_every": every, "version_at_kill": at_kill["version"],
           "checkpoint_version_at_kill": at_kill["checkpoint_version"],
           "restored_from": info["restored_from"],
           "lost_updates_reported": result.stats["lost_updates"],
           "worker_restarts": result.worker_restarts,
           "shard_restarts": result.stats["shard_restarts"]}
    server.close()
    return out


def _plots(results, out_dir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    paths = []
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for r in results.get("downpour", {}).get("runs", []):
        t, loss = zip(*r["curve"])
        left.plot(t, loss, marker="o", label=f"Downpour, {r['engine']} engine, "
                                              f"{r['workers']} worker(s)")
    left.set_title("sparse logistic regression (Adagrad server)")
    for label, r in results.get("easgd", {}).items():
        t, loss = zip(*r["curve"])
        right.plot(t, loss, marker=".", label=label)
    right.set_title("dense softmax regression (2 workers)")
    for ax in (left, right):
        ax.set_xlabel("training wall time (s; start-up and evaluations excluded)")
        ax.set_ylabel("loss after each epoch")
        ax.legend(fontsize=7)
    left.set_yscale("log")
    fig.suptitle("loss against wall time (shared 2-core machine: see parallel.md)")
    fig.tight_layout()
    paths.append(os.path.join(out_dir, "parallel_wall.png"))
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    d = results.get("delays")
    if d:
        fig, ax = plt.subplots(figsize=(6, 4))
        x = [max(v, 1) for v in d["delays"]]
        for scheme, losses in d["losses"].items():
            ax.plot(x, losses, marker="o", label=scheme)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("delay (server updates; 0 plotted at 1)")
        ax.set_ylabel(f"loss after {d['ticks']} gradients")
        ax.legend()
        ax.set_title(f"simulated: {d['n_workers']} workers, sparse logistic regression")
        fig.tight_layout()
        paths.append(os.path.join(out_dir, "parallel_delay.png"))
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths


def _verdict(ok):
    return "met" if ok else "NOT met"


def _markdown(r):
    lines = ["# Parallel SGD benchmark", "",
             f"Machine: {r['machine']['cpus']} CPUs, load average {r['machine']['load_before']:.1f}"
             f" before / {r['machine']['load_after']:.1f} after (a shared machine: speed-ups "
             f"are bounded by the cores the other jobs leave).  Quick: {r['quick']}.  "
             "Data: generated (see bench/parallel/problems.py).", ""]
    h = r.get("hogwild")
    if h:
        lines += ["## Hogwild! (1 vs 2 threads)", "",
                  "Per run the fastest epoch after the first (which compiles); runs of 1 and "
                  "2 threads alternated, medians shown.  'CPU/wall' is the parallelism the "
                  "OS granted the 2-thread runs (2.0 = two full cores).", "",
                  "| showcase | examples | s/epoch 1 thr | s/epoch 2 thr | speed-up (runs) | "
                  "CPU/wall | loss 1 | loss 2 | target |", "|---|---|---|---|---|---|---|---|---|"]
        for name, x in h.items():
            ok = x["speedup"] >= TARGETS["hogwild_speedup"] and \
                x["loss_rel"] <= TARGETS["hogwild_loss_rel"]
            runs = ", ".join(f"{v:.2f}" for v in x["speedups"])
            lines.append(f"| {name} | {x['examples']} | {x['seconds_1']:.3f} | "
                         f"{x['seconds_2']:.3f} | {x['speedup']:.2f}x ({runs}) | "
                         f"{x['parallelism_2']:.2f} | {x['loss_1']:.5f} | "
                         f"{x['loss_2']:.5f} | >=1.9x, +-1%: {_verdict(ok)} |")
        lines.append("")
    d = r.get("downpour")
    if d:
        lines += ["## Downpour SGD (sparse logistic regression, 2 shards, Adagrad server)", "",
                  f"Batch {d['batch_size']}, n_fetch = n_push = {d['n_fetch']}; the {d['n_push']} batches of a push touch "
                  f"{d['rows_touched_per_push']:.0f} rows on average ({d['bytes_per_touched_row']} bytes each pushed: an int64 "
                  f"index and a float32 value) of a {d['table_bytes']}-byte table.", "",
                  "| engine | workers | examples/s | final loss | vs single process | "
                  "bytes/push | mean staleness |", "|---|---|---|---|---|---|---|"]
        for x in d["runs"]:
            lines.append(f"| {x['engine']} | {x['workers']} | {x['examples_per_second']:.0f} | "
                         f"{x['final_loss']:.5f} | {100 * x['loss_rel']:.2f}% | "
                         f"{x['bytes_per_push']:.0f} | {x['mean_staleness']:.2f} |")
        ray_runs = {x["workers"]: x for x in d["runs"] if x["engine"] == "ray"}
        if len(ray_runs) == 2:
            sp = ray_runs[2]["examples_per_second"] / ray_runs[1]["examples_per_second"]
            ok = sp >= TARGETS["ray_speedup"] and ray_runs[2]["loss_rel"] <= TARGETS["ray_loss_rel"]
            lines += ["", f"Ray, 2 workers vs 1: {sp:.2f}x throughput, final loss "
                      f"{100 * ray_runs[2]['loss_rel']:.2f}% from the single-process run "
                      f"(target >=1.5x, 2%: {_verdict(ok)})."]
        lines.append("")
    e = r.get("easgd")
    if e:
        lines += ["## EASGD (dense softmax regression, 2 workers)", "",
                  "| run | final loss | vs single process | target (async: within 2%) |",
                  "|---|---|---|---|"]
        for label, x in e.items():
            rel = x.get("loss_rel")
            verdict = "" if rel is None else (
                _verdict(rel <= TARGETS["easgd_loss_rel"]) if label.startswith("async EASGD")
                else "")
            lines.append(f"| {label} | {x['final_loss']:.5f} | "
                         f"{'' if rel is None else f'{100 * rel:+.2f}%'} | {verdict} |")
        lines.append("")
    s = r.get("delays")
    if s:
        lines += [f"## Loss against delay (simulated, {s['n_workers']} workers, {s['ticks']} "
                  f"gradients of {s['batch_size']} documents)", "",
                  "Each scheme with its best learning rate of the grid "
                  f"{s['lr_grid']} (EASGD: the workers' SGD rate).", "",
                  "| delay | " + " | ".join(s["losses"]) + " |",
                  "|---" * (len(s["losses"]) + 1) + "|"]
        for i, dl in enumerate(s["delays"]):
            lines.append(f"| {dl} | " + " | ".join(
                f"{s['losses'][k][i]:.4f} (lr {s['best_lr'][k][i]:g})" for k in s["losses"])
                + " |")
        big = [i for i, dl in enumerate(s["delays"]) if dl >= 100]
        ok = all(s["losses"]["adarevision"][i] < s["losses"]["async-adagrad"][i] for i in big)
        lines += ["", f"AdaRevision below async Adagrad at every delay >= 100: {_verdict(ok)}.",
                  ""]
    f = r.get("faults")
    if f:
        lines += ["## Fault drill (Ray)", "",
                  f"Killed worker 0 and shard 1 after epoch 1 of 3: {f['completed_epochs']} "
                  f"epochs completed, losses {', '.join(f'{v:.4f}' for v in f['losses'])}; "
                  f"shard 1 was at version {f['version_at_kill']} with a checkpoint of version "
                  f"{f['checkpoint_version_at_kill']} (every {f['checkpoint_every']} pushes), "
                  f"restarted from version {f['restored_from']}; lost updates reported: "
                  f"{f['lost_updates_reported']}; worker restarts {f['worker_restarts']}, "
                  f"shard restarts {f['shard_restarts']}.", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.parallel", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (CI, tests)")
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray engine runs")
    parser.add_argument("--out", default=os.path.join("bench", "results"))
    parser.add_argument("--sections", default="hogwild,downpour,easgd,delays,faults")
    args = parser.parse_args(argv)
    sections = set(args.sections.split(","))
    use_ray = not args.no_ray
    if use_ray:
        try:
            import ray
        except ImportError:
            use_ray = False
            print("Ray is not installed: skipping the Ray runs", file=sys.stderr)
    os.makedirs(args.out, exist_ok=True)
    results = {"quick": args.quick, "machine": {"cpus": os.cpu_count(), "load_before": _load(),
                                                "python": platform.python_version()}}
    epochs = 3 if args.quick else 6
    if use_ray and ({"downpour", "faults"} & sections):
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        os.environ["PYTHONPATH"] = root + os.pathsep + os.environ.get("PYTHONPATH", "")
        ray.init(num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024**2,
                 log_to_driver=False)
    steps = [("hogwild", lambda: bench_hogwild(args.quick, epochs)),
             ("downpour", lambda: bench_downpour(args.quick, use_ray, epochs)),
             ("easgd", lambda: bench_easgd(args.quick, 2 * epochs)),
             ("delays", lambda: bench_delays(args.quick)),
             ("faults", lambda: bench_faults(args.quick, tempfile.mkdtemp(prefix="ps-ckpt-"))
              if use_ray else None)]
    for name, fn in steps:
        if name in sections:
            t0 = time.perf_counter()
            value = fn()
            if value is not None:
                results[name] = value
            print(f"{name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    results["machine"]["load_after"] = _load()
    if use_ray and ({"downpour", "faults"} & sections):
        ray.shutdown()
    results["plots"] = _plots(results, args.out)
    with open(os.path.join(args.out, "parallel.json"), "w") as f:
        json.dump(results, f, indent=1, default=float)
    with open(os.path.join(args.out, "parallel.md"), "w") as f:
        f.write(_markdown(results) + "\n")
    print(_markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
