"""torch.optim on the same memory as the NumPy arrays (optional: skipped without torch).

Parameters are ``torch.from_numpy(param)`` (no copy: torch updates the very
arrays that fastopt updates) and gradients are assigned to ``.grad`` the same
way.  Three implementations per optimizer, where torch has them:
``foreach=False`` (a loop of per-tensor ops), ``foreach=True`` (multi-tensor
ops) and ``fused=True`` (torch's fused CPU kernel; Adam, AdamW, SGD, Adagrad).
"""
VARIANTS = ("loop", "foreach", "fused")
_FLAGS = {"loop": dict(foreach=False), "foreach": dict(foreach=True), "fused": dict(fused=True)}

_torch = None


_available = None


def available():
    """Whether torch imports here (imported once; a broken install counts as missing)."""
    global _available
    if _available is None:
        try:
            torch()
        except ImportError:
            _available = False
        else:
            _available = True
    return _available


def torch():
    global _torch
    if _torch is None:
        import torch as t  # noqa: PLC0415 - optional, imported on first use
        _torch = t
    return _torch


def version():
    if not available():
        return None
    return torch().__version__


def has_variant(algorithm, variant):
    """Whether torch.optim.<cls> accepts the variant's flag (``fused`` is not everywhere)."""
    if not available():
        return False
    import inspect  # noqa: PLC0415
    cls = getattr(torch().optim, algorithm.cls, None)
    # not in torch, or torch's takes sparse gradients only
    if cls is None or algorithm.cls == "SparseAdam":
        return False
    return variant != "fused" or "fused" in inspect.signature(cls.__init__).parameters


class TorchOptimizer:
    """``torch.optim.<cls>`` over NumPy ``params``/``grads`` (lists of 1-D arrays), zero-copy."""

    def __init__(self, algorithm, variant, params, grads):
        t = torch()
        self.tensors = []
        for p, g in zip(params, grads):
            tp = t.from_numpy(p)
            tp.grad = t.from_numpy(g)
            self.tensors.append(tp)
        self.opt = getattr(t.optim, algorithm.cls)(self.tensors, **algorithm.hyper,
                                                   **_FLAGS[variant])
        self.step = self.opt.step

    def state(self, i=0):
        return {k: v.numpy() for k, v in self.opt.state[self.tensors[i]].items()
                if hasattr(v, "numpy") and v.dim() > 0}


def get_num_threads():
    return torch().get_num_threads()


def set_num_threads(n):
    torch().set_num_threads(n)
