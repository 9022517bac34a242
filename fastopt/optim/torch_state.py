"""Checkpoints to and from ``torch.optim``: state dicts with tensors, in PyTorch's layout.

fastopt's state names and hyperparameter names are PyTorch's, so a ``torch.optim``
state dict maps entry by entry: tensors become arrays (0-d tensors -- ``step``,
NAdam's ``mu_product``, ASGD's ``eta`` and ``mu`` -- Python numbers), PyTorch's
implementation switches (``foreach``, ``capturable``, ``differentiable``, ``fused``)
are dropped, ``None`` entries (SGD's ``momentum_buffer`` without momentum) are
dropped.  The other way, arrays become tensors (copies), numbers become the 0-d
tensors PyTorch keeps, and each group gets the switches of the PyTorch class's
defaults.  torch is imported only by :func:`to_torch`.
"""
import numpy as np

#: Hyperparameters of PyTorch's groups that only select an implementation.
TORCH_SWITCHES = ("foreach", "capturable", "differentiable", "fused")
#: PyTorch keeps these state entries as 0-d float tensors.
_SCALAR_STATE = ("step", "mu_product", "eta", "mu")


def _is_tensor(x):
    return type(x).__module__.split(".")[0] == "torch" and hasattr(x, "detach")


def is_torch_state_dict(state_dict):
    """Whether ``state_dict`` holds tensors or PyTorch's switches (i.e. came from torch)."""
    if not isinstance(state_dict, dict):
        return False
    for group in state_dict.get("param_groups") or ():
        if isinstance(group, dict) and any(k in group for k in TORCH_SWITCHES):
            return True
    state = state_dict.get("state")
    if isinstance(state, dict):
        for entry in state.values():
            if isinstance(entry, dict) and any(_is_tensor(v) for v in entry.values()):
                return True
    return False


def _plain(name, value):
    if not _is_tensor(value):
        return value
    value = value.detach().cpu()
    if value.ndim == 0:
        number = value.item()
        return int(round(number)) if name == "step" else float(number)
    return value.numpy().copy()


def from_torch(optimizer, state_dict):
    """``state_dict`` of a ``torch.optim`` optimizer in fastopt's plain form for ``optimizer``.

    Group hyperparameters that PyTorch lacks (fastopt-only options such as Adagrad's
    ``rowwise``) keep ``optimizer``'s current values.  Everything is then checked by
    :meth:`fastopt.Optimizer.load_state_dict` as for a fastopt checkpoint.
    """
    groups = state_dict.get("param_groups")
    if not isinstance(groups, (list, tuple)) or len(groups) != len(optimizer.param_groups):
        raise ValueError(f"the torch state dict has "
                         f"{len(groups) if isinstance(groups, (list, tuple)) else '?'} parameter "
                         f"groups, the optimizer has {len(optimizer.param_groups)}")
    new_groups = []
    for saved, current in zip(groups, optimizer.param_groups):
        if not isinstance(saved, dict):
            raise ValueError("a parameter group of the torch state dict is not a dict")
        group = {k: v for k, v in saved.items() if k not in TORCH_SWITCHES and k != "param_names"}
        for k in optimizer.defaults:
            group.setdefault(k, current[k])
        new_groups.append(group)
    state = {}
    saved_state = state_dict.get("state")
    if not isinstance(saved_state, dict):
        raise ValueError("the torch state dict's 'state' must be a dict")
    for key, entry in saved_state.items():
        if not isinstance(entry, dict):
            raise ValueError(f"state_dict['state'][{key!r}] must be a dict")
        plain = {name: _plain(name, v) for name, v in entry.items() if v is not None}
        plain.setdefault("step", 0)  # torch's SGD counts no steps
        state[key] = plain
    return {"state": state, "param_groups": new_groups}


def to_torch(optimizer):
    """``optimizer``'s state as a state dict that the ``torch.optim`` class of the same name
    loads."""
    import torch
    name = type(optimizer).__name__
    torch_cls = getattr(torch.optim, name, None)
    if torch_cls is None:
        raise ValueError(f"torch.optim has no {name}: there is no PyTorch checkpoint for it")
    torch_defaults = torch_cls([torch.zeros(1, requires_grad=True)]).defaults
    plain = optimizer.state_dict()
    groups = []
    for group in plain["param_groups"]:
        extra = {k: v for k, v in group.items() if k not in torch_defaults and k != "params"}
        for k, v in extra.items():
            if v:
                raise ValueError(f"torch.optim.{name} has no option {k!r} (here {v!r}); "
                                 f"its state cannot be loaded there")
        out = {k: (tuple(v) if isinstance(v, list) and k != "params" else v)
               for k, v in group.items() if k not in extra}
        for k in TORCH_SWITCHES:
            if k in torch_defaults:
                out[k] = torch_defaults[k]
        groups.append(out)
    scalar_dtype = torch.get_default_dtype()
    state = {}
    for i, entry in plain["state"].items():
        out = {}
        for k, v in entry.items():
            if isinstance(v, np.ndarray):
                out[k] = torch.from_numpy(v.copy())
            elif k == "step" and name == "SparseAdam":  # a Python int there
                out[k] = int(v)
            elif k in _SCALAR_STATE:
                out[k] = torch.tensor(float(v), dtype=scalar_dtype)
            else:
                out[k] = v
        if name == "SGD":
            out.pop("step", None)
        state[i] = out
    return {"state": state, "param_groups": groups}
