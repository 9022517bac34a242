"""Optimizer API: checkpoints resume bit for bit, state naming, groups, backend selection."""
import ast
import io
import os
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastopt
from fastopt.backends import _dispatch

from conftest import bits, require
from optimizer_cases import GRIDS

ALL_BACKENDS = ["python", "numba", "cython"]


def _grads(rng, params):
    return [rng.standard_normal(p.shape).astype(p.dtype) for p in params]


def _maximal_options(cls):
    """Every option switched on (so that every state array exists)."""
    kwargs = {k: v[-1] for k, v in GRIDS[cls].items()}
    if cls is fastopt.SGD:
        kwargs.update(momentum=0.9, dampening=0.0, nesterov=True)
    return kwargs


@pytest.mark.parametrize("backend", ALL_BACKENDS)
@pytest.mark.parametrize("cls", list(GRIDS), ids=lambda c: c.__name__)
@pytest.mark.parametrize("via", ["pickle", "npz"])
def test_checkpoint_resumes_bit_for_bit(cls, backend, via):
    require(backend)
    kwargs = _maximal_options(cls)
    rng = np.random.default_rng(1)
    shapes = [(6, 4), (9,)]
    start = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [_grads(rng, start) for _ in range(30)]

    # Uninterrupted run.
    params = [p.copy() for p in start]
    opt = cls(params, backend=backend, **kwargs)
    for g in grads:
        opt.step(g)

    # Interrupted at step 12: save, build a fresh optimizer, load, go on.
    resumed = [p.copy() for p in start]
    first = cls(resumed, backend=backend, **kwargs)
    for g in grads[:12]:
        first.step(g)
    checkpoint = first.state_dict()
    if via == "pickle":
        checkpoint = pickle.loads(pickle.dumps(checkpoint))
    else:
        buf = io.BytesIO()
        np.savez(buf, checkpoint=np.array(checkpoint, dtype=object))
        buf.seek(0)
        checkpoint = np.load(buf, allow_pickle=True)["checkpoint"].item()
    saved_params = [p.copy() for p in resumed]
    for g in grads[12:15]:  # steps after the checkpoint must not leak into it
        first.step(g)
    resumed = saved_params
    second = cls(resumed, backend=backend, **kwargs)
    second.load_state_dict(checkpoint)
    for g in grads[12:]:
        second.step(g)

    for a, b in zip(resumed, params):
        np.testing.assert_array_equal(bits(a), bits(b))
    for i, s in opt.state.items():
        for name, v in s.items():
            got = second.state[i][name]
            if isinstance(v, np.ndarray):
                np.testing.assert_array_equal(bits(got), bits(v))
            else:
                assert got == v


def test_state_dict_is_plain_data_with_torch_names():
    p = np.zeros((2, 3), np.float32)
    opt = fastopt.Adam(p, amsgrad=True)
    assert opt.state_dict() == {"state": {}, "param_groups": [
        {"lr": 1e-3, "betas": [0.9, 0.999], "eps": 1e-8, "weight_decay": 0.0, "amsgrad": True,
         "maximize": False, "decoupled_weight_decay": False, "per_row_step": False,
         "params": [0]}]}
    opt.step(np.ones_like(p))
    sd = opt.state_dict()
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert sd["state"][0]["step"] == 1 and sd["state"][0]["exp_avg"].shape == (2, 3)
    assert opt.state[p] is opt.state[0]  # by position or by the array itself
    assert p in opt.state and np.zeros(1) not in opt.state


STATE_NAMES = {
    fastopt.SGD: {"momentum_buffer"}, fastopt.Adagrad: {"sum"},
    fastopt.Adadelta: {"square_avg", "acc_delta"},
    fastopt.RMSprop: {"square_avg", "grad_avg", "momentum_buffer"},
    fastopt.Adam: {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    fastopt.AdamW: {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    fastopt.Adamax: {"exp_avg", "exp_inf"}, fastopt.NAdam: {"exp_avg", "exp_avg_sq", "mu_product"},
    fastopt.RAdam: {"exp_avg", "exp_avg_sq"}, fastopt.Lion: {"exp_avg"},
    fastopt.Rprop: {"prev", "step_size"}, fastopt.ASGD: {"ax", "eta", "mu"},
    fastopt.SparseAdam: {"exp_avg", "exp_avg_sq", "row_step"},
    fastopt.Ftrl: {"accum", "linear"}, fastopt.ProximalAdagrad: {"accumulator"},
    fastopt.LAMB: {"exp_avg", "exp_avg_sq", "update"},
}


@pytest.mark.parametrize("cls", list(GRIDS), ids=lambda c: c.__name__)
def test_state_uses_pytorch_names(cls):
    p = np.zeros(4)
    opt = cls(p, **_maximal_options(cls))
    opt.step(np.ones(4))
    assert set(opt.state[0]) == STATE_NAMES[cls] | {"step"}


def test_parameter_groups_have_their_own_hyperparameters():
    a, b = np.ones(3), np.ones(3)
    opt = fastopt.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1)
    opt.step([np.ones(3), np.ones(3)])
    np.testing.assert_allclose(a, 0.9)
    np.testing.assert_allclose(b, 0.5)
    c = np.ones(2)
    opt.add_param_group({"params": [c], "lr": 1.0})
    opt.step([np.ones(3), np.ones(3), np.ones(2)])
    np.testing.assert_allclose(c, 0.0)


def test_learning_rate_change_between_steps_takes_effect():
    p = np.zeros(2)
    opt = fastopt.SGD(p, lr=1.0)
    opt.step(np.ones(2))
    opt.param_groups[0]["lr"] = 0.25
    opt.step(np.ones(2))
    np.testing.assert_array_equal(p, -1.25)


def test_state_is_allocated_once_and_updated_in_place():
    p = np.zeros(10, np.float32)
    opt = fastopt.Adam(p)
    opt.step(np.ones(10, np.float32))
    exp_avg = opt.state[0]["exp_avg"]
    for _ in range(5):
        opt.step(np.ones(10, np.float32))
    assert opt.state[0]["exp_avg"] is exp_avg


def test_float64_and_float32_parameters_can_be_mixed():
    a, b = np.ones(3, np.float32), np.ones(3, np.float64)
    opt = fastopt.Adam([a, b], lr=0.1)
    opt.step([np.ones(3, np.float32), np.ones(3, np.float64)])
    assert a.dtype == np.float32 and b.dtype == np.float64
    np.testing.assert_allclose(a, 0.9, rtol=1e-6)
    np.testing.assert_allclose(b, 0.9, rtol=1e-8)  # eps shifts the step by 1e-8 relative


# -- backend selection ------------------------------------------------------------------

def test_all_three_backends_are_available():
    """The package as installed must have both compiled backends (CI fails otherwise)."""
    assert fastopt.available_backends() == ["cython", "numba", "python"]


_JIT_OFF_SCRIPT = """
import numpy as np, fastopt
w = np.ones(4, np.float32)
fastopt.Adam(w, lr=0.1).step(np.ones(4, np.float32))
print(fastopt.available_backends(), w[0])
try:
    fastopt.Adam(w, backend="numba")
except RuntimeError as e:
    print(e)
"""


@pytest.mark.parametrize("value,off", [("1", True), ("0", False)])
def test_numba_disable_jit_takes_numba_out_of_the_backends(value, off):
    # numba's debugging switch turns every @njit into plain Python, which the numba kernels
    # (compiled C entry points, fastopt's pool) cannot run: the backend says so
    env = dict(os.environ, NUMBA_DISABLE_JIT=value)
    env.pop("FASTOPT_BACKEND", None)
    out = subprocess.run([sys.executable, "-c", _JIT_OFF_SCRIPT], env=env, check=True,
                         capture_output=True, text=True, timeout=300).stdout.splitlines()
    backends = ast.literal_eval(out[0].rsplit("]", 1)[0] + "]")
    assert ("numba" not in backends) == off and "python" in backends
    assert float(out[0].rsplit("]", 1)[1]) == pytest.approx(0.9, rel=1e-6)
    if off:
        assert "NUMBA_DISABLE_JIT" in out[1]


def test_default_backend_is_the_fastest_available(monkeypatch):
    monkeypatch.delenv("FASTOPT_BACKEND", raising=False)
    assert fastopt.get_backend() == fastopt.available_backends()[0]


def test_set_backend_and_use_backend(monkeypatch):
    monkeypatch.delenv("FASTOPT_BACKEND", raising=False)
    fastopt.set_backend("python")
    assert fastopt.get_backend() == "python"
    with fastopt.use_backend("numba"):
        assert fastopt.get_backend() == "numba"
        with fastopt.use_backend("python"):
            assert fastopt.get_backend() == "python"
        assert fastopt.get_backend() == "numba"
    assert fastopt.get_backend() == "python"
    fastopt.set_backend(None)
    assert fastopt.get_backend() == fastopt.available_backends()[0]


def test_use_backend_is_local_to_its_thread(monkeypatch):
    monkeypatch.delenv("FASTOPT_BACKEND", raising=False)
    seen = []
    with fastopt.use_backend("python"):
        t = threading.Thread(target=lambda: seen.append(fastopt.get_backend()))
        t.start()
        t.join()
    assert seen == [fastopt.available_backends()[0]]


def test_optimizer_backend_argument_wins_and_is_used(monkeypatch):
    calls = []
    real = _dispatch.kernel
    monkeypatch.setattr(_dispatch, "kernel", lambda b, a: calls.append(b) or real(b, a))
    p = np.zeros(3)
    with fastopt.use_backend("numba"):
        fastopt.SGD(p, backend="python").step(np.ones(3))
        fastopt.SGD(p).step(np.ones(3))
    assert calls == ["python", "numba"]


def test_environment_variables_choose_backend_and_threads():
    code = ("import fastopt; print(fastopt.get_backend(), fastopt.get_num_threads())")
    env = dict(os.environ, FASTOPT_BACKEND="numba", OMP_NUM_THREADS="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["numba", "3"]
    env["FASTOPT_BACKEND"] = "vulkan"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode != 0 and "backend must be one of" in proc.stderr


def test_import_does_not_import_numba():
    code = "import sys, fastopt; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_show_config_reports_backends_threads_and_build(capsys):
    fastopt.set_num_threads(2)
    info = fastopt.show_config()
    text = capsys.readouterr().out
    assert info["num_threads"] == 2 and "threads:             2" in text
    assert info["available_backends"] == fastopt.available_backends()
    assert info["numba"] and "numba" in text
    if "cython" in info["available_backends"]:
        assert isinstance(info["cython"]["openmp"], bool)
        assert "-O3" in info["cython"]["compile_args"] and "cython threads:" in text
        assert info["cython"]["pool"]["threads"] is True and "fastopt pool" in text
