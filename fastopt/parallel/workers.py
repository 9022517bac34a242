"""What Downpour and EASGD workers share: the problem protocol, data shards and epochs,
and running the workers' epochs on an engine (threads, or Ray actors that are restarted
and rejoin when they die).

The problem protocol (duck-typed; for Ray, the object must pickle -- module-level
classes, numba functions and NumPy arrays do):

``problem.n_examples``
    the examples are the ids ``0 .. n_examples - 1``;
``problem.rows(batch) -> {table: row ids}``
    the rows of each table a batch reads (a table left out, or mapped to ``None``, is
    read whole).  Optional: without it every table is pulled whole;
``problem.gradient(batch, params) -> (loss_sum, {table: gradient})``
    ``params`` maps every table name to a whole-table array whose needed rows are
    current; a gradient is a dense array of the table's shape or a
    :class:`fastopt.SparseGrad` of global rows; ``loss_sum`` is the batch's summed loss
    before the update.
"""
import time

import numpy as np


def shard_of(n_examples, worker, n_workers):
    """Worker ``worker``'s examples: a contiguous block of the ids."""
    lo, hi = n_examples * worker // n_workers, n_examples * (worker + 1) // n_workers
    return np.arange(lo, hi, dtype=np.int64)


def batches(examples, batch_size, seed, worker, epoch, shuffle=True):
    """The epoch's mini-batches of ``examples``, shuffled by a generator seeded by
    ``(seed, worker, epoch)`` -- the same in every process."""
    if shuffle:
        examples = np.random.default_rng([seed, worker, epoch]).permutation(examples)
    return [examples[b:b + batch_size] for b in range(0, examples.size, batch_size)]


def rows_needed(problem, group):
    """``{table: sorted unique rows, or None}`` read by the batches of ``group``."""
    if not hasattr(problem, "rows"):
        return None
    need = {}
    for batch in group:
        for name, r in problem.rows(batch).items():
            if r is None or need.get(name, ()) is None:
                need[name] = None
            else:
                need.setdefault(name, []).append(np.asarray(r, np.int64))
    return {k: (None if v is None else np.unique(np.concatenate(v))) for k, v in need.items()}


def fetch(client, problem, group, cache, snap_cache=None):
    """Pull what the batches of ``group`` read (every table whole if ``problem`` has no
    ``rows``) into the whole-table arrays ``cache[name]`` (and the AdaRevision snapshots
    into ``snap_cache``); returns the pull's versions."""
    need = rows_needed(problem, group)
    if need is not None:
        need = {**{name: None for name, *_ in client.specs}, **need}
    pulled = client.pull(need)
    for name, values in pulled.values.items():
        rows = None if need is None else need.get(name)
        target = slice(None) if rows is None else rows
        cache[name][target] = values
        if snap_cache is not None:
            snap_cache[name][target] = pulled.snapshots[name]
    return pulled.versions


def run_epochs(server, workers, epochs, callback, start_epoch=0):
    """Run ``workers[w].run_epoch(epoch)`` for every worker, epoch after epoch, on the
    server's engine; returns ``(losses, seconds, restarts)``.  ``callback(epoch, loss,
    seconds)`` returning ``True`` stops.  With Ray, a worker whose actor died is
    restarted by Ray and its epoch is run again (its call is retried on the new actor);
    ``restarts`` counts the workers that came back with a new incarnation."""
    import threading

    engine = server.engine
    losses, times, restarts = [], [], 0
    incarnations = [None] * len(workers)
    n = sum(w_examples for w_examples in _sizes(engine, workers))
    for epoch in range(start_epoch, start_epoch + epochs):
        t0 = time.perf_counter()
        if engine.name == "local":
            results, errors = [None] * len(workers), []

            def run(i):
                try:
                    results[i] = workers[i].run_epoch(epoch)
                except BaseException as e:
                    errors.append(e)

            threads = [threading.Thread(target=run, args=(i,), daemon=True)
                       for i in range(len(workers))]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            if errors:
                raise errors[0]
        else:
            results, restarts_now = _ray_epoch(engine, workers, epoch)
            restarts += restarts_now
        seconds = time.perf_counter() - t0
        for i, r in enumerate(results):  # a worker restarted by Ray has a new incarnation
            if incarnations[i] is not None and r["incarnation"] != incarnations[i]:
                restarts += 1
            incarnations[i] = r["incarnation"]
        losses.append(sum(r["loss"] for r in results) / max(n, 1))
        times.append(seconds)
        if callback is not None and callback(epoch + 1, losses[-1], seconds) is True:
            break
    return losses, times, restarts


def _sizes(engine, workers):
    if engine.name == "local":
        return [w.n_examples() for w in workers]
    return engine.ray.get([w.n_examples.remote() for w in workers])


def _ray_epoch(engine, workers, epoch):
    ray = engine.ray
    futures = {i: w.run_epoch.remote(epoch) for i, w in enumerate(workers)}
    results = [None] * len(workers)
    while futures:
        i, f = next(iter(futures.items()))
        try:
            results[i] = ray.get(f)
            del futures[i]
        except ray.exceptions.RayActorError:
            # Its restarts or task retries ran out: Ray restarts the actor if it may,
            # and the worker rejoins and redoes the epoch.
            futures[i] = workers[i].run_epoch.remote(epoch)
    return results, 0


def make_workers(server, cls, args_of, num_cpus=1, restarts=-1):
    """One ``cls(*args_of(w, client))`` per worker: objects (local) or actors (Ray)."""
    engine = server.engine
    out = []
    for w, args in enumerate(args_of):
        out.append(engine.create(cls, (server.client(),) + tuple(args), {},
                                 restarts=restarts if engine.name == "ray" else 0,
                                 num_cpus=num_cpus))
    return out


def stats_of(server, workers):
    """The workers' client statistics, summed, and the shards' restarts and lost updates."""
    engine = server.engine
    per = [w.stats() for w in workers] if engine.name == "local" else \
        engine.ray.get([w.stats.remote() for w in workers])
    total = {}
    for s in per:
        for k, v in s.items():
            total[k] = max(total.get(k, 0), v) if k.endswith("_max") else total.get(k, 0) + v
    info = server.info()
    total["shard_restarts"] = sum(i["restarts"] for i in info)
    total["lost_updates"] = sum(i["lost_updates"] for i in info)
    return total


def kill_worker(server, worker):
    """Kill a worker's actor (Ray restarts it; it rejoins) -- for fault tests."""
    server.engine.kill(worker)

