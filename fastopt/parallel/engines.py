"""Where shards and workers run: ``"local"`` (objects and threads in this process) or
``"ray"`` (Ray actors).  The rest of :mod:`fastopt.parallel` goes through these two
small adapters only; past one process, Ray does the work (no RPC or scheduler here).
"""


class LocalEngine:
    """Objects in this process; calls are plain method calls (the objects lock)."""

    name = "local"

    def create(self, cls, args, kwargs, restarts=0, num_cpus=0):
        return cls(*args, **kwargs)

    def call_all(self, calls):
        """``[getattr(obj, method)(*args) for obj, method, args in calls]``."""
        return [getattr(obj, method)(*args) for obj, method, args in calls]

    def submit(self, obj, method, *args):
        """Start a call; :meth:`wait` returns its result.  Local: runs it now."""
        return _Done(getattr(obj, method)(*args))

    def wait(self, future):
        return future.value

    def kill(self, obj):
        raise RuntimeError("the local engine cannot kill a shard or worker; use engine='ray'")

    def close(self, objs):
        for obj in objs:
            if hasattr(obj, "close"):
                obj.close()

    def __reduce__(self):
        return (get, ("local",))


class _Done:
    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class RayEngine:
    """Ray actors: ``create`` makes an actor of ``cls`` that Ray restarts ``restarts``
    times (-1: always) when it dies, re-running its constructor; calls are retried on the
    restarted actor."""

    name = "ray"

    def __init__(self):
        import ray
        self.ray = ray
        self._pinned = {}
        if not ray.is_initialized():
            ray.init(include_dashboard=False, log_to_driver=False)

    def create(self, cls, args, kwargs, restarts=0, num_cpus=0):
        actor = self.ray.remote(cls).options(
            max_restarts=restarts, max_task_retries=-1 if restarts else 0, num_cpus=num_cpus)
        # The constructor's arguments go to the object store once and stay referenced
        # here while the actor lives: a restart re-runs the constructor with them.
        refs = [self.ray.put(a) for a in args]
        handle = actor.remote(*refs, **kwargs)
        self._pinned[handle._actor_id] = refs
        return handle

    def call_all(self, calls):
        return self.ray.get([getattr(h, method).remote(*args) for h, method, args in calls])

    def submit(self, handle, method, *args):
        return getattr(handle, method).remote(*args)

    def wait(self, future):
        return self.ray.get(future)

    def kill(self, handle):
        self.ray.kill(handle, no_restart=False)

    def close(self, handles):
        for h in handles:
            self.ray.kill(h, no_restart=True)
            self._pinned.pop(h._actor_id, None)

    def __reduce__(self):
        return (get, ("ray",))


_ENGINES = {"local": LocalEngine, "ray": RayEngine}
_cache = {}


def get(engine):
    """The engine named ``engine`` (``"local"`` or ``"ray"``), or ``engine`` itself."""
    if isinstance(engine, (LocalEngine, RayEngine)):
        return engine
    if engine not in _ENGINES:
        raise ValueError(f"engine must be 'local' or 'ray', got {engine!r}")
    if engine == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise RuntimeError('engine="ray" needs Ray: pip install "fastopt[ray]"') from None
    if engine not in _cache:
        _cache[engine] = _ENGINES[engine]()
    return _cache[engine]
