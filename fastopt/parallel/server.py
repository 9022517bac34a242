"""A parameter server: tables sharded by rows, updated by a fastopt optimizer on the server.

As in DistBelief (Dean et al., 2012), the model's tables live on ``n_shards`` shards;
workers *pull* the rows they need and *push* gradients of the rows they touched, and
each shard applies every push, as it arrives, with its own optimizer -- any fastopt
optimizer, through its kernels (Adagrad by default, as in Downpour SGD), or
:class:`fastopt.parallel.AdaRevision`.

**Sharding.**  Row r of every table lives on shard r mod k as its local
row ⌊r / k⌋ (interleaved: the frequent rows of a Zipf-distributed
vocabulary spread over all shards).  A table is *dense* or *sparse* only in how it is
used: a pull of ``rows=None`` returns the whole table, a pull of some rows returns those;
a push is a dense gradient of the whole table or a :class:`fastopt.SparseGrad` of some
rows, which moves only those rows (bytes are counted in :attr:`Client.stats`).  Every
push reaches every shard (with no rows, if none of its rows were touched), so that each
shard's optimizer counts every step -- the sharded server then computes exactly what
its optimizer computes on the whole tables (bias corrections and learning-rate decay
included).

**Versions and staleness.**  Each shard counts the pushes it applied: its *version*.  A
pull returns the versions of the shards it read; a push carries them back, and the shard
computes its *staleness*, the pushes applied in between.  With ``max_staleness`` a push
staler than that is refused.

**Checks.**  A push is checked in full -- table names, row indices in range, dtype and
shape of every array, versions, staleness -- by the client and again by the shard,
before anything is written: a refused push changes nothing.

**Engines.**  ``engine="local"`` (default) keeps the shards as objects in this process
(each with a lock; workers are threads); ``engine="ray"`` makes each shard a Ray actor
(``pip install "fastopt[ray]"``), with the same classes and arguments.  The same pushes
in the same order give the same bits on both.

**Checkpoints.**  With ``checkpoint_dir``, each shard writes its tables, optimizer state
and version atomically (:mod:`fastopt.parallel.checkpoint`) every ``checkpoint_every``
pushes and/or ``checkpoint_seconds`` seconds, and on :meth:`ParameterServer.checkpoint`.
A shard that starts where its checkpoint exists resumes from it: a Ray shard actor that
was killed is restarted by Ray and loses only the pushes since its last checkpoint, which it counts
(``info()``: ``restarts``, ``lost_updates``; see :class:`Shard`), and
:meth:`ParameterServer.resume` resumes a run -- on either engine.
"""
import os
import struct
import threading
import time

import numpy as np

from .._internal import validation as check
from ..optim.sparse import SparseGrad
from ..train import _args
from . import checkpoint as _checkpoint
from . import engines as _engines

_FORMAT = 1


class StaleGradientError(ValueError):
    """A push whose staleness exceeds the server's ``max_staleness`` (nothing written)."""


def _local_rows(n_rows, shard, n_shards):
    return max(0, (n_rows - shard + n_shards - 1) // n_shards)


def default_optimizer(params):
    """Adagrad with ``lr=0.01`` (torch's default), Downpour's server-side rule."""
    from ..optim.adagrad import Adagrad
    return Adagrad(params, lr=0.01)


class Shard:
    """One shard: its rows of every table and the optimizer that updates them.

    A plain class: the local engine uses it as an object, the Ray engine as an actor.
    ``specs`` is ``[(name, n_rows, d, dtype str), ...]`` of the whole tables;
    ``initial`` the shard's rows of each (``table[shard::n_shards]``), or ``None`` to
    start from the checkpoint (which must exist then).
    """

    def __init__(self, shard, n_shards, specs, initial, optimizer, *, max_staleness=None,
                 checkpoint_dir=None, checkpoint_every=None, checkpoint_seconds=None):
        self.shard, self.n_shards = shard, n_shards
        self.specs = [tuple(s) for s in specs]
        self.max_staleness = max_staleness
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every, self.checkpoint_seconds = checkpoint_every, checkpoint_seconds
        shapes = [(_local_rows(n, shard, n_shards), d) for _, n, d, _ in self.specs]
        path = self.checkpoint_path()
        saved = _checkpoint.load(path) if path and os.path.exists(path) else None
        if saved is None and initial is None:
            raise ValueError(f"shard {shard}: no initial tables and no checkpoint at {path}")
        if saved is not None:
            self._check_saved(saved, path)
            initial = saved["tables"]
        self.tables = []
        for (name, _, _, dtype), shape, a in zip(self.specs, shapes, initial):
            a = np.asarray(a)
            if a.shape != shape or a.dtype != np.dtype(dtype):
                raise ValueError(f"shard {shard}: table {name!r} is {a.dtype} {a.shape}, "
                                 f"expected {dtype} {shape}")
            self.tables.append(np.array(a, order="C", copy=True))
        self.optimizer = optimizer(self.tables)
        self.needs_snapshot = bool(getattr(self.optimizer, "needs_snapshot", False))
        self.version = 0
        self.restored_from = None
        if saved is not None:
            self.optimizer.load_state_dict(saved["optimizer"])
            self.version = self.restored_from = int(saved["version"])
        self.incarnation = time.time_ns()
        self.restarts, self.lost_updates = 0, 0
        #: The highest version this shard had acknowledged before it was restarted from its
        #: checkpoint: workers may have seen versions up to it (the updates in between
        #: were lost, and counted in ``lost_updates``).
        self.version_before_restart = self.version
        self._journal = None
        if self.checkpoint_dir is not None:
            self._open_journal(saved is not None)
        self.pushes_since_checkpoint = 0
        self.last_checkpoint_time = time.monotonic()
        self.checkpoint_version = self.restored_from
        self._lock = threading.Lock()

    # -- checkpoints --------------------------------------------------------------------

    def _open_journal(self, restored):
        """The journal beside the checkpoint: ``(version, restarts, lost updates)`` as three
        int64, rewritten in place after every push (no fsync: it survives the process,
        which is what a killed shard loses).  A shard that starts from its checkpoint
        reads it: the pushes it had applied past the checkpoint are lost, and counted."""
        path = self.checkpoint_path()[:-len(".npz")] + ".journal"
        if restored and os.path.exists(path):
            with open(path, "rb") as f:
                data = f.read()
            if len(data) == 24:
                version, restarts, lost = struct.unpack("<3q", data)
                self.restarts = restarts + 1
                self.lost_updates = lost + max(0, version - self.version)
                self.version_before_restart = max(self.version, version)
        elif not restored and os.path.exists(path):
            os.unlink(path)
        self._journal = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        self._write_journal()

    def close(self):
        """Close the journal (the local engine calls this from
        :meth:`ParameterServer.close`; a Ray actor's files close with its process)."""
        if self._journal is not None:
            os.close(self._journal)
            self._journal = None

    def _write_journal(self):
        os.pwrite(self._journal, struct.pack("<3q", self.version, self.restarts,
                                             self.lost_updates), 0)

    def checkpoint_path(self):
        if self.checkpoint_dir is None:
            return None
        return os.path.join(self.checkpoint_dir,
                            f"shard-{self.shard:04d}-of-{self.n_shards:04d}.npz")

    def _check_saved(self, saved, path):
        if not isinstance(saved, dict) or saved.get("format") != _FORMAT:
            raise ValueError(f"{path}: not a shard checkpoint of format {_FORMAT}")
        if [tuple(s) for s in saved.get("specs", ())] != self.specs or \
                (saved.get("shard"), saved.get("n_shards")) != (self.shard, self.n_shards):
            raise ValueError(f"{path}: checkpoint of another server layout (tables "
                             f"{saved.get('specs')}, shard {saved.get('shard')} of "
                             f"{saved.get('n_shards')})")
        if not isinstance(saved.get("version"), int) or saved["version"] < 0 or \
                len(saved.get("tables", ())) != len(self.specs):
            raise ValueError(f"{path}: corrupt checkpoint (version or tables)")

    def checkpoint(self):
        """Write the checkpoint now; returns the version it holds."""
        with self._lock:
            return self._checkpoint_locked()

    def _checkpoint_locked(self):
        path = self.checkpoint_path()
        if path is None:
            raise ValueError("this server has no checkpoint_dir")
        _checkpoint.save(path, {"format": _FORMAT, "shard": self.shard,
                                "n_shards": self.n_shards, "specs": self.specs,
                                "version": self.version, "tables": self.tables,
                                "optimizer": self.optimizer.state_dict()})
        self.pushes_since_checkpoint = 0
        self.last_checkpoint_time = time.monotonic()
        self.checkpoint_version = self.version
        return self.version

    # -- pull / push ----------------------------------------------------------------------

    def info(self):
        return {"shard": self.shard, "version": self.version, "incarnation": self.incarnation,
                "restored_from": self.restored_from,
                "checkpoint_version": self.checkpoint_version, "restarts": self.restarts,
                "lost_updates": self.lost_updates,
                "needs_snapshot": self.needs_snapshot}

    def pull(self, requests):
        """``requests``: ``[(table index, local rows or None), ...]``.  Returns
        ``(arrays, snapshots or None, info)`` -- copies, taken under the lock."""
        for t, rows in requests:
            self._check_table(t)
            if rows is not None:
                self._check_rows(t, rows, "rows")
        with self._lock:
            arrays = [self.tables[t].copy() if rows is None else self.tables[t][rows]
                      for t, rows in requests]
            snaps = [self.optimizer.snapshot(t, rows) for t, rows in requests] \
                if self.needs_snapshot else None
            return arrays, snaps, self.info()

    def push(self, version_seen, updates):
        """Apply one push: ``updates`` is ``[(table index, local indices or None, values,
        snapshot or None), ...]`` (``None`` indices: a dense gradient of the shard's whole
        table).  Returns ``info()`` plus ``staleness``.  Everything is checked first."""
        if isinstance(version_seen, (bool, np.bool_)) or not isinstance(
                version_seen, (int, np.integer)) or version_seen < 0:
            raise TypeError(f"version_seen must be a non-negative int, got {version_seen!r}")
        seen = set()
        grads = [None] * len(self.tables)
        snaps = [None] * len(self.tables)
        for t, indices, values, snap in updates:
            self._check_table(t)
            if t in seen:
                raise ValueError(f"table {self.specs[t][0]!r} appears twice in one push")
            seen.add(t)
            name, _, d, dtype = self.specs[t]
            if not isinstance(values, np.ndarray) or values.dtype != np.dtype(dtype):
                raise TypeError(f"values of table {name!r} must be a {dtype} array, got "
                                f"{getattr(values, 'dtype', type(values).__name__)}")
            if indices is None:
                want = self.tables[t].shape
                grads[t] = values
            else:
                self._check_rows(t, indices, "indices")
                want = (indices.shape[0], d)
                grads[t] = SparseGrad(indices, values)
            if values.shape != want:
                raise ValueError(f"values of table {name!r} have shape {values.shape}, "
                                 f"expected {want}")
            if self.needs_snapshot:
                if not isinstance(snap, np.ndarray) or snap.dtype != values.dtype or \
                        snap.shape != values.shape:
                    raise ValueError(f"table {name!r}: this server's optimizer needs the "
                                     f"grad_sum snapshot, of the values' dtype and shape")
                snaps[t] = snap
        with self._lock:
            staleness = self.version - int(version_seen)
            if staleness < 0 and int(version_seen) <= self.version_before_restart:
                staleness = 0  # seen before this shard's restart: its lost updates
            if staleness < 0:
                raise ValueError(f"version_seen {version_seen} is ahead of shard "
                                 f"{self.shard}'s version {self.version}")
            if self.max_staleness is not None and staleness > self.max_staleness:
                raise StaleGradientError(
                    f"push to shard {self.shard} is {staleness} versions stale, beyond "
                    f"max_staleness={self.max_staleness}; nothing was written")
            if self.needs_snapshot:
                self.optimizer.step(grads, [s if s is not None else np.empty(0)
                                            for s in snaps])
            else:
                self.optimizer.step(grads)
            self.version += 1
            if self._journal is not None:
                self._write_journal()
            self.pushes_since_checkpoint += 1
            if self.checkpoint_dir is not None and (
                    (self.checkpoint_every and self.pushes_since_checkpoint
                     >= self.checkpoint_every) or
                    (self.checkpoint_seconds is not None and time.monotonic()
                     - self.last_checkpoint_time >= self.checkpoint_seconds)):
                self._checkpoint_locked()
            return dict(self.info(), staleness=staleness)

    def _check_table(self, t):
        if isinstance(t, (bool, np.bool_)) or not isinstance(t, (int, np.integer)) or \
                not 0 <= t < len(self.tables):
            raise IndexError(f"table index {t!r} out of range for {len(self.tables)} tables")

    def _check_rows(self, t, rows, what):
        n = self.tables[t].shape[0]
        if not isinstance(rows, np.ndarray) or rows.ndim != 1 or \
                rows.dtype not in (np.int32, np.int64):
            raise TypeError(f"{what} of table {self.specs[t][0]!r} must be a 1-D int32 or "
                            f"int64 array")
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            bad = rows[(rows < 0) | (rows >= n)][0]
            raise IndexError(f"{what} of table {self.specs[t][0]!r}: local row {bad} out of "
                             f"range for shard {self.shard}'s {n} rows")


class Pulled:
    """What a pull returns: ``values[name]`` (rows in the order asked, or the whole
    table), ``snapshots[name]`` (the ``grad_sum`` snapshots, for AdaRevision servers;
    else ``None``) and ``versions`` (per shard)."""

    __slots__ = ("values", "snapshots", "versions")

    def __init__(self, values, snapshots, versions):
        self.values, self.snapshots, self.versions = values, snapshots, versions


class Client:
    """A handle on a parameter server for one worker: :meth:`pull`, :meth:`push`.

    Picklable with the Ray engine (workers that are Ray actors get one).  ``stats``
    counts ``pulls``, ``pushes``, ``bytes_pulled``, ``bytes_pushed`` (array payloads:
    values, indices, snapshots).
    """

    def __init__(self, engine, handles, specs, needs_snapshot):
        self.engine = engine
        self.handles = list(handles)
        self.specs = [tuple(s) for s in specs]
        self.index = {s[0]: i for i, s in enumerate(self.specs)}
        self.n_shards = len(self.handles)
        self.needs_snapshot = needs_snapshot
        self.stats = dict(pulls=0, pushes=0, bytes_pulled=0, bytes_pushed=0)

    def __getstate__(self):
        if self.engine.name != "ray":
            raise TypeError("a local-engine client cannot leave its process; use engine='ray'")
        return dict(self.__dict__)

    def _table(self, name):
        try:
            return self.index[name]
        except (KeyError, TypeError):
            raise KeyError(f"unknown table {name!r}; the server has "
                           f"{sorted(self.index)}") from None

    def _global_rows(self, name, rows, what):
        t = self._table(name)
        rows = np.asarray(rows)
        if rows.ndim != 1 or not (rows.size == 0 or np.issubdtype(rows.dtype, np.integer)):
            raise TypeError(f"{what} of table {name!r} must be a 1-D integer array")
        rows = rows.astype(np.int64, copy=False)
        n = self.specs[t][1]
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            bad = rows[(rows < 0) | (rows >= n)][0]
            raise IndexError(f"{what} of table {name!r}: row {bad} out of range for "
                             f"{n} rows")
        return t, rows

    def pull(self, rows=None):
        """Read tables: ``rows`` maps a table name to the (global) row ids wanted, or to
        ``None`` for the whole table; ``None`` pulls every table whole."""
        if rows is None:
            rows = {s[0]: None for s in self.specs}
        plan = []
        for name, r in rows.items():
            if r is None:
                plan.append((self._table(name), None))
            else:
                plan.append(self._global_rows(name, r, "rows"))
        k = self.n_shards
        requests = [[] for _ in range(k)]
        for t, r in plan:
            for s in range(k):
                requests[s].append((t, None if r is None else r[r % k == s] // k))
        replies = self.engine.call_all([(h, "pull", (requests[s],))
                                        for s, h in enumerate(self.handles)])
        values, snaps = {}, ({} if self.needs_snapshot else None)
        for j, (t, r) in enumerate(plan):
            name, n, d, dtype = self.specs[t]
            out = np.empty((n if r is None else r.size, d), dtype)
            snap = np.empty_like(out) if self.needs_snapshot else None
            for s, (arrays, snapshots, _) in enumerate(replies):
                where = slice(s, None, k) if r is None else (r % k == s)
                out[where] = arrays[j]
                if snap is not None:
                    snap[where] = snapshots[j]
                self.stats["bytes_pulled"] += arrays[j].nbytes + (
                    snapshots[j].nbytes if snap is not None else 0)
            values[name] = out
            if snap is not None:
                snaps[name] = snap
        self.stats["pulls"] += 1
        versions = [info["version"] for _, _, info in replies]
        return Pulled(values, snaps, versions)

    def push(self, grads, versions, snapshots=None, wait=True):
        """Send gradients: ``grads`` maps a table name to a dense gradient of the whole
        table or a :class:`fastopt.SparseGrad` (global rows); ``versions`` are those of
        the pull the gradients were computed from; ``snapshots`` (AdaRevision servers)
        maps each name to the pulled ``grad_sum`` of the same rows (for a SparseGrad,
        one row per index).  Returns the shards' acknowledgements -- or, with
        ``wait=False``, a function that waits for them and returns them (the push is on
        its way meanwhile; a refusal is raised by that function).

        Everything is checked before any shard is asked to write; the shards check
        again (and the staleness) before writing.
        """
        k = self.n_shards
        if len(versions) != k:
            raise ValueError(f"versions must have one entry per shard ({k}), got "
                             f"{len(versions)}")
        if self.needs_snapshot and snapshots is None:
            raise ValueError("this server's optimizer needs the grad_sum snapshots of "
                             "the pulled rows (snapshots=pulled.snapshots)")
        updates = [[] for _ in range(k)]
        for name, g in grads.items():
            t = self._table(name)
            _, n, d, dtype = self.specs[t]
            dtype = np.dtype(dtype)
            if isinstance(g, SparseGrad):
                t, rows = self._global_rows(name, g.indices, "indices")
                values = g.values
                want = (rows.size, d)
            else:
                rows, values, want = None, g, (n, d)
            if not isinstance(values, np.ndarray) or values.dtype != dtype:
                raise TypeError(f"gradient of table {name!r} must be {dtype}, got "
                                f"{getattr(values, 'dtype', type(values).__name__)}")
            if values.shape != want:
                raise ValueError(f"gradient of table {name!r} has shape {values.shape}, "
                                 f"expected {want}")
            snap = None
            if self.needs_snapshot:
                snap = snapshots.get(name) if isinstance(snapshots, dict) else None
                if not isinstance(snap, np.ndarray) or snap.shape != want or \
                        snap.dtype != dtype:
                    raise ValueError(f"snapshots[{name!r}] must be a {dtype} array of shape "
                                     f"{want}")
            for s in range(k):
                if rows is None:
                    part = (None, np.ascontiguousarray(values[s::k]),
                            None if snap is None else np.ascontiguousarray(snap[s::k]))
                else:
                    mask = rows % k == s  # every shard steps, with no row if need be:
                    part = (rows[mask] // k, values[mask],
                            None if snap is None else snap[mask])
                updates[s].append((t,) + part)
                self.stats["bytes_pushed"] += sum(a.nbytes for a in part if a is not None)
        calls = [(self.handles[s], "push", (int(versions[s]), updates[s]))
                 for s in range(k) if updates[s]]
        self.stats["pushes"] += 1
        if wait:
            return self.engine.call_all(calls)
        futures = [self.engine.submit(h, method, *args) for h, method, args in calls]
        return lambda: [self.engine.wait(f) for f in futures]

class ParameterServer:
    """Tables sharded by rows over ``n_shards`` shards (see the module docstring).

    Arguments:
        tables: ``{name: 2-D array (n_rows, d)}``, float32 or float64 (copied).
        n_shards (int >= 1, 2).
        optimizer: ``optimizer(params) -> optimizer`` called on each shard with its rows
            of every table (a list of 2-D arrays), e.g. ``functools.partial(fastopt.Adam,
            lr=1e-3)`` or ``functools.partial(fastopt.parallel.AdaRevision, lr=0.1)``;
            default :func:`default_optimizer` (Adagrad, ``lr=0.01``).
        max_staleness (int >= 0 or None): refuse pushes staler than this.
        engine: ``"local"`` (default) or ``"ray"`` (Ray must be initialised, or is, with
            its defaults).
        checkpoint_dir, checkpoint_every (pushes per shard), checkpoint_seconds: see the
            module docstring.  ``resume=True`` starts from the checkpoints there (then
            ``tables`` may be ``None``); otherwise old ones there are removed first.
        shard_restarts (Ray): how often Ray restarts a killed shard actor (-1: always).
    """

    def __init__(self, tables=None, *, n_shards=2, optimizer=None, max_staleness=None,
                 engine="local", checkpoint_dir=None, checkpoint_every=None,
                 checkpoint_seconds=None, resume=False, shard_restarts=-1):
        n_shards = _args.integer("n_shards", n_shards, 1)
        if max_staleness is not None:
            max_staleness = _args.integer("max_staleness", max_staleness, 0)
        if checkpoint_every is not None:
            checkpoint_every = _args.integer("checkpoint_every", checkpoint_every, 1)
        if checkpoint_seconds is not None:
            checkpoint_seconds = _args.positive("checkpoint_seconds", checkpoint_seconds)
        if (checkpoint_every or checkpoint_seconds or resume) and checkpoint_dir is None:
            raise ValueError("checkpoint_every, checkpoint_seconds and resume need "
                             "checkpoint_dir")
        self.engine = _engines.get(engine)
        self.optimizer = optimizer or default_optimizer
        if not callable(self.optimizer):
            raise TypeError("optimizer must be callable: optimizer(params) -> optimizer")
        self.checkpoint_dir = None if checkpoint_dir is None else os.fspath(checkpoint_dir)
        manifest = None if self.checkpoint_dir is None else os.path.join(
            self.checkpoint_dir, "manifest.npz")
        if resume:
            saved = _checkpoint.load(manifest)
            specs = [tuple(s) for s in saved["specs"]]
            if saved["n_shards"] != n_shards:
                raise ValueError(f"{manifest}: the checkpoint has {saved['n_shards']} shards, "
                                 f"n_shards={n_shards}")
            initial = [None] * n_shards
        else:
            specs, full = self._specs(tables)
            initial = [[a[s::n_shards] for a in full] for s in range(n_shards)]
            if self.checkpoint_dir is not None:
                self._clear_checkpoints()
                _checkpoint.save(manifest, {"format": _FORMAT, "n_shards": n_shards,
                                            "specs": specs})
        self.specs = specs
        options = dict(max_staleness=max_staleness, checkpoint_dir=self.checkpoint_dir,
                       checkpoint_every=checkpoint_every, checkpoint_seconds=checkpoint_seconds)
        self.handles = [self.engine.create(Shard, (s, n_shards, specs, initial[s],
                                                   self.optimizer), options,
                                           restarts=shard_restarts)
                        for s in range(n_shards)]
        self.n_shards = n_shards
        info = self.engine.call_all([(h, "info", ()) for h in self.handles])
        self.needs_snapshot = info[0]["needs_snapshot"]
        self._client = self.client()
        self.initial_versions = [i["version"] for i in info]

    @staticmethod
    def _specs(tables):
        if not isinstance(tables, dict) or not tables:
            raise TypeError("tables must be a non-empty dict {name: 2-D array}")
        specs, full = [], []
        for name, a in tables.items():
            if not isinstance(name, str):
                raise TypeError(f"table names must be str, got {name!r}")
            if not isinstance(a, np.ndarray) or a.dtype not in check.FLOAT_DTYPES:
                raise TypeError(f"table {name!r} must be a float32 or float64 array")
            if a.ndim != 2:
                raise ValueError(f"table {name!r} must be 2-D (n_rows, d), got shape "
                                 f"{a.shape}")
            specs.append((name, a.shape[0], a.shape[1], a.dtype.str))
            full.append(a)
        return specs, full

    def _clear_checkpoints(self):
        if os.path.isdir(self.checkpoint_dir):
            for f in os.listdir(self.checkpoint_dir):
                if f.startswith("shard-") and f.endswith(".npz"):
                    os.unlink(os.path.join(self.checkpoint_dir, f))

    @classmethod
    def resume(cls, checkpoint_dir, *, n_shards, **options):
        """The server saved in ``checkpoint_dir``, on any engine (``options`` as for the
        constructor; pass the same ``optimizer``)."""
        return cls(None, n_shards=n_shards, checkpoint_dir=checkpoint_dir, resume=True,
                   **options)

    def client(self):
        """A new :class:`Client` (one per worker: each counts its own traffic)."""
        return Client(self.engine, self.handles, self.specs, self.needs_snapshot)

    def pull(self, rows=None):
        """:meth:`Client.pull` through the server's own client."""
        return self._client.pull(rows)

    def push(self, grads, versions, snapshots=None):
        """:meth:`Client.push` through the server's own client."""
        return self._client.push(grads, versions, snapshots)

    def tables(self):
        """``{name: the whole table}``, assembled from the shards (copies)."""
        return self._client.pull().values

    def versions(self):
        return [i["version"] for i in self.info()]

    def info(self):
        """Per shard: ``version``, ``incarnation``, ``restored_from``,
        ``checkpoint_version``, ``restarts`` (from a checkpoint) and ``lost_updates`` (the
        pushes applied, acknowledged and then lost to those restarts)."""
        return self.engine.call_all([(h, "info", ()) for h in self.handles])

    def checkpoint(self):
        """Checkpoint every shard now; returns their versions."""
        return self.engine.call_all([(h, "checkpoint", ()) for h in self.handles])

    def kill_shard(self, s):
        """Kill shard ``s``'s actor (Ray: it restarts from its checkpoint) -- for fault
        tests and drills."""
        self.engine.kill(self.handles[s])

    def close(self):
        self.engine.close(self.handles)
        self.handles = []
