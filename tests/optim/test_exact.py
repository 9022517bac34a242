"""Every rule against its published equations, computed in 60-digit arithmetic.

An oracle that shares no code with fastopt: each function below is written from
the equations of PyTorch's documentation of ``torch.optim.<Rule>`` (which follow
the papers: Duchi et al. 2011, Zeiler 2012, Hinton's RMSprop lecture and Graves
2013 for the centered form, Kingma & Ba 2015 for Adam and Adamax, Reddi et al.
2018 for AMSGrad, Loshchilov & Hutter 2019 for AdamW, Dozat 2016 for NAdam),
with the hyperparameters the user passes taken as exact real numbers and every
operation, square roots and powers included, done by ``mpmath`` at 60 digits.
It checks what the bitwise backend comparisons cannot: the step scalars that the
Python layer computes once per step and shares with all three backends (step
sizes, bias corrections, Adagrad's decayed learning rate, NAdam's momentum
schedule), and the reference kernels themselves.

Each rule runs STEPS steps from a fresh optimizer on a small (2, 3) parameter, for
every combination of the options in ``optimizer_cases``, in float32 and
float64, on the reference backend.  Inputs keep away from cancellation (each
element's gradient keeps one sign, of magnitude in [0.5, 2]; parameters in
[1, 2]; weight decay and learning rates small next to them), so every computed
value must lie within ``ULP_BOUND`` units in the last place (of the dtype) of the
exact value.  The bound covers the rounding of ~10 operations per step compounded
over the steps and the hyperparameters rounded to the dtype: the measured worst case
is 4.6 ulps (Adadelta's ``acc_delta``, float32; every other array is within 3.1).
A wrong coefficient, a step off by one or a wrong sign is off by 2**15 ulps or more.
"""
import mpmath
import numpy as np
import pytest
from mpmath import mp, mpf

import fastopt

from optimizer_cases import case_id, cases

mp.dps = 60
STEPS = 4
SHAPE = (2, 3)
#: Largest allowed |computed - exact|, in units in the last place of the exact value
#: (measured worst case 4.6, see above).
ULP_BOUND = {np.float64: 8, np.float32: 8}


def _inputs(dtype):
    rng = np.random.default_rng(20261130)
    param = (rng.uniform(1.0, 2.0, SHAPE) * rng.choice([-1.0, 1.0], SHAPE)).astype(dtype)
    sign = rng.choice([-1.0, 1.0], SHAPE)
    grads = [(sign * rng.uniform(0.5, 2.0, SHAPE)).astype(dtype) for _ in range(STEPS)]
    return param, grads


def _mp(a):
    """Exact values of a float array (every float is a dyadic rational), as nested lists."""
    return [[mpf(float(x)) for x in row] for row in np.asarray(a, np.float64)]


def _map(fn, *arrays):
    return [[fn(*xs) for xs in zip(*rows)] for rows in zip(*arrays)]


def _zeros():
    return [[mpf(0)] * SHAPE[1] for _ in range(SHAPE[0])]


def _coupled(theta, g, maximize, weight_decay):
    """g <- -g if maximize; g <- g + lambda * theta."""
    lam = mpf(weight_decay)
    return _map(lambda p, gi: (-gi if maximize else gi) + lam * p, theta, g)


def _decay(theta, g, maximize, weight_decay, decoupled, lr):
    """Adam's and NAdam's weight decay: theta <- theta (1 - lr lambda) if decoupled
    (AdamW), else g <- g + lambda theta; g <- -g first if maximize."""
    if decoupled:
        theta = _map(lambda p: p * (1 - lr * mpf(weight_decay)), theta)
        return theta, _coupled(theta, g, maximize, 0.0)
    return theta, _coupled(theta, g, maximize, weight_decay)


# -- the oracles: (theta, grads, hyperparameters) -> (theta, {state name: value}) -----------

def sgd(theta, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
        maximize=False):
    mu, tau, lr = mpf(momentum), mpf(dampening), mpf(lr)
    buf = None
    for t, g in enumerate(grads, start=1):
        g = _coupled(theta, g, maximize, weight_decay)
        if mu != 0:
            buf = g if t == 1 else _map(lambda b, gi: mu * b + (1 - tau) * gi, buf, g)
            g = _map(lambda gi, b: gi + mu * b, g, buf) if nesterov else buf
        theta = _map(lambda p, gi: p - lr * gi, theta, g)
    return theta, ({"momentum_buffer": buf} if mu != 0 else {})


def adagrad(theta, grads, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
            eps=1e-10, maximize=False, rowwise=False):
    lr, decay, eps = mpf(lr), mpf(lr_decay), mpf(eps)
    if rowwise:  # one accumulator per row: s_r += mean_j g_rj^2
        s = [mpf(initial_accumulator_value)] * SHAPE[0]
    else:
        s = [[mpf(initial_accumulator_value)] * SHAPE[1] for _ in range(SHAPE[0])]
    for t, g in enumerate(grads, start=1):
        g = _coupled(theta, g, maximize, weight_decay)
        clr = lr / (1 + (t - 1) * decay)
        if rowwise:
            s = [sr + mp.fsum(x * x for x in row) / len(row) for sr, row in zip(s, g)]
            theta = [[p - clr * gi / (mpmath.sqrt(sr) + eps) for p, gi in zip(prow, grow)]
                     for prow, grow, sr in zip(theta, g, s)]
        else:
            s = _map(lambda si, gi: si + gi * gi, s, g)
            theta = _map(lambda p, gi, si: p - clr * gi / (mpmath.sqrt(si) + eps), theta, g, s)
    return theta, {"sum": s}


def adadelta(theta, grads, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False):
    lr, rho, eps = mpf(lr), mpf(rho), mpf(eps)
    v, u = _zeros(), _zeros()
    for g in grads:
        g = _coupled(theta, g, maximize, weight_decay)
        v = _map(lambda vi, gi: rho * vi + (1 - rho) * gi * gi, v, g)
        delta = _map(lambda ui, vi, gi: mpmath.sqrt(ui + eps) / mpmath.sqrt(vi + eps) * gi,
                     u, v, g)
        u = _map(lambda ui, di: rho * ui + (1 - rho) * di * di, u, delta)
        theta = _map(lambda p, di: p - lr * di, theta, delta)
    return theta, {"square_avg": v, "acc_delta": u}


def rmsprop(theta, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
            centered=False, maximize=False):
    lr, alpha, eps, mu = mpf(lr), mpf(alpha), mpf(eps), mpf(momentum)
    v, gbar, buf = _zeros(), _zeros(), _zeros()
    for g in grads:
        g = _coupled(theta, g, maximize, weight_decay)
        v = _map(lambda vi, gi: alpha * vi + (1 - alpha) * gi * gi, v, g)
        vt = v
        if centered:
            gbar = _map(lambda a, gi: alpha * a + (1 - alpha) * gi, gbar, g)
            vt = _map(lambda vi, a: vi - a * a, v, gbar)
        step = _map(lambda gi, vi: gi / (mpmath.sqrt(vi) + eps), g, vt)
        if mu > 0:
            buf = _map(lambda b, s: mu * b + s, buf, step)
            step = buf
        theta = _map(lambda p, s: p - lr * s, theta, step)
    state = {"square_avg": v}
    if centered:
        state["grad_avg"] = gbar
    if mu > 0:
        state["momentum_buffer"] = buf
    return theta, state


def adam(theta, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
         maximize=False, decoupled_weight_decay=False):
    lr, eps = mpf(lr), mpf(eps)
    b1, b2 = mpf(betas[0]), mpf(betas[1])
    m, v, vmax = _zeros(), _zeros(), _zeros()
    for t, g in enumerate(grads, start=1):
        theta, g = _decay(theta, g, maximize, weight_decay, decoupled_weight_decay, lr)
        m = _map(lambda mi, gi: b1 * mi + (1 - b1) * gi, m, g)
        v = _map(lambda vi, gi: b2 * vi + (1 - b2) * gi * gi, v, g)
        vhat = v
        if amsgrad:
            vmax = _map(max, vmax, v)
            vhat = vmax
        theta = _map(lambda p, mi, vi: p - lr * (mi / (1 - b1 ** t))
                     / (mpmath.sqrt(vi / (1 - b2 ** t)) + eps), theta, m, vhat)
    state = {"exp_avg": m, "exp_avg_sq": v}
    if amsgrad:
        state["max_exp_avg_sq"] = vmax
    return theta, state


def adamw(theta, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
          amsgrad=False, maximize=False):
    return adam(theta, grads, lr, betas, eps, weight_decay, amsgrad, maximize,
                decoupled_weight_decay=True)


def adamax(theta, grads, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
           maximize=False):
    lr, eps = mpf(lr), mpf(eps)
    b1, b2 = mpf(betas[0]), mpf(betas[1])
    m, u = _zeros(), _zeros()
    for t, g in enumerate(grads, start=1):
        g = _coupled(theta, g, maximize, weight_decay)
        m = _map(lambda mi, gi: b1 * mi + (1 - b1) * gi, m, g)
        u = _map(lambda ui, gi: max(b2 * ui, abs(gi) + eps), u, g)
        theta = _map(lambda p, mi, ui: p - lr / (1 - b1 ** t) * mi / ui, theta, m, u)
    return theta, {"exp_avg": m, "exp_inf": u}


def nadam(theta, grads, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
          momentum_decay=4e-3, maximize=False, decoupled_weight_decay=False):
    lr, eps, psi = mpf(lr), mpf(eps), mpf(momentum_decay)
    b1, b2 = mpf(betas[0]), mpf(betas[1])
    m, v = _zeros(), _zeros()
    mu_product = mpf(1)
    for t, g in enumerate(grads, start=1):
        theta, g = _decay(theta, g, maximize, weight_decay, decoupled_weight_decay, lr)
        mu = b1 * (1 - mpf("0.5") * mpf("0.96") ** (t * psi))
        mu_next = b1 * (1 - mpf("0.5") * mpf("0.96") ** ((t + 1) * psi))
        mu_product *= mu
        m = _map(lambda mi, gi: b1 * mi + (1 - b1) * gi, m, g)
        v = _map(lambda vi, gi: b2 * vi + (1 - b2) * gi * gi, v, g)
        mhat = _map(lambda mi, gi: mu_next * mi / (1 - mu_product * mu_next)
                    + (1 - mu) * gi / (1 - mu_product), m, g)
        theta = _map(lambda p, mh, vi: p - lr * mh / (mpmath.sqrt(vi / (1 - b2 ** t)) + eps),
                     theta, mhat, v)
    return theta, {"exp_avg": m, "exp_avg_sq": v, "mu_product": mu_product}


ORACLES = {fastopt.SGD: sgd, fastopt.Adagrad: adagrad, fastopt.Adadelta: adadelta,
           fastopt.RMSprop: rmsprop, fastopt.Adam: adam, fastopt.AdamW: adamw,
           fastopt.Adamax: adamax, fastopt.NAdam: nadam}

#: Hyperparameters the grid leaves at their defaults, set here so every rule runs
#: with non-trivial values (SGD's lr default is small; Adagrad's eps is checked too).
EXTRA = {fastopt.Adagrad: dict(eps=1e-3), fastopt.Adadelta: dict(eps=1e-4),
         fastopt.RMSprop: dict(lr=0.01, alpha=0.9), fastopt.NAdam: dict(lr=0.01)}


#: Rules whose independent check is elsewhere (not yet in 60-digit arithmetic here): the
#: file that checks each against its source's equations or against torch.
CHECKED_ELSEWHERE = {
    fastopt.RAdam: "test_torch.py (torch.optim.RAdam)",
    fastopt.Rprop: "test_torch.py (torch.optim.Rprop)",
    fastopt.ASGD: "test_torch.py (torch.optim.ASGD)",
    fastopt.SparseAdam: "test_rule_oracles.py (torch.optim.SparseAdam, the epsilon placement)",
    fastopt.Lion: "test_rule_oracles.py (the paper's Algorithm 2)",
    fastopt.LAMB: "test_rule_oracles.py (the paper's algorithm)",
    fastopt.Ftrl: "test_rule_oracles.py (TensorFlow's ApplyFtrlV2 equations)",
    fastopt.ProximalAdagrad: "test_rule_oracles.py (TensorFlow's ApplyProximalAdagrad)",
}


def _cases():
    for cls, kwargs in cases():
        if cls in ORACLES:
            yield pytest.param(cls, {**EXTRA.get(cls, {}), **kwargs}, id=case_id(cls, kwargs))


def test_every_rule_has_an_independent_check():
    """A new rule in the case table needs an oracle here or a declared one elsewhere."""
    unchecked = {cls for cls, _ in cases()} - set(ORACLES) - set(CHECKED_ELSEWHERE)
    assert not unchecked, f"no independent check declared for {sorted(c.__name__ for c in unchecked)}"


def ulps(got, exact, dtype):
    """|got - exact| in units in the last place (of ``dtype``) of the exact value."""
    got = np.asarray(got, np.float64).reshape(-1)
    flat = [x for row in exact for x in row] if isinstance(exact[0], list) else list(exact)
    worst = 0.0
    for g, e in zip(got, flat):
        unit = float(np.spacing(dtype(abs(float(e)))))
        worst = max(worst, float(abs(mpf(float(g)) - e) / unit))
    return worst


def run_fastopt(cls, kwargs, dtype):
    param, grads = _inputs(dtype)
    opt = cls([param], backend="python", **kwargs)
    for g in grads:
        opt.step([g])
    return param, opt.state[0]


def worst_ulps(cls, kwargs, dtype):
    """``{array name: worst error in ulps}`` of fastopt against the oracle."""
    param, state = run_fastopt(cls, kwargs, dtype)
    start, grads = _inputs(dtype)
    theta, exact_state = ORACLES[cls](_mp(start), [_mp(g) for g in grads], **kwargs)
    errors = {"param": ulps(param, theta, dtype)}
    assert state["step"] == STEPS
    names = {k for k, v in state.items() if isinstance(v, np.ndarray)} | {"mu_product"} & set(state)
    assert names == set(exact_state), (sorted(names), sorted(exact_state))
    for name, exact in exact_state.items():
        got = state[name]
        if name == "mu_product":  # a Python float (double), whatever the arrays' dtype
            errors[name] = ulps([got], [exact], np.float64)
        else:
            errors[name] = ulps(got, exact, dtype)
    return errors


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cls,kwargs", list(_cases()))
def test_reference_follows_the_published_equations(cls, kwargs, dtype):
    errors = worst_ulps(cls, kwargs, dtype)
    bad = {k: v for k, v in errors.items() if v > ULP_BOUND[dtype]}
    assert not bad, f"off by more than {ULP_BOUND[dtype]} ulps: {bad}"
