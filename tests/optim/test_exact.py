"""Every rule against its published equations, computed in 60-digit arithmetic.

An oracle that shares no code with fastopt: each function below is written from
the published equations -- PyTorch's documentation of ``torch.optim.<Rule>`` (which
follows the papers: Duchi et al. 2011, Zeiler 2012, Hinton's RMSprop lecture and Graves
2013 for the centered form, Kingma & Ba 2015 for Adam, Adamax and SparseAdam, Reddi et
al. 2018 for AMSGrad, Loshchilov & Hutter 2019 for AdamW, Dozat 2016 for NAdam, Liu et
al. 2020 for RAdam, Riedmiller & Braun 1993 for Rprop, Polyak & Juditsky 1992 for ASGD),
Chen et al. 2023's Algorithm 2 for Lion, You et al. 2020 for LAMB (one trust ratio per
array), and TensorFlow's ``ApplyFtrlV2`` / ``ApplyProximalAdagrad`` for FTRL-Proximal and
proximal Adagrad -- with the hyperparameters the user passes taken as exact real numbers
(their double values) and every operation, square roots and powers included, done by
``mpmath`` at 60 digits.  It checks what the bitwise backend comparisons cannot: the step
scalars that the Python layer computes once per step and shares with all three backends
(step sizes, bias corrections, Adagrad's decayed learning rate, NAdam's momentum
schedule, RAdam's rectification, ASGD's eta and mu, LAMB's trust ratio), and the
reference kernels themselves.

Each rule runs STEPS steps (``RULE_STEPS`` where a branch starts later) from a fresh
optimizer on a small (2, 3) parameter, for every combination of the options in
``optimizer_cases`` (plus ``EXTRA_CASES``), in float32 and float64, on the reference
backend.  Inputs keep away from cancellation (each element's gradient keeps one sign, of
magnitude in [0.5, 2]; parameters in [1, 2]; weight decay and learning rates small next
to them; ``FLIPPING`` lists the rules whose sign tests need sign changes), so every
computed value must lie within ``ULP_BOUND`` units in the last place (of the dtype) of
the exact value.  The bound covers the rounding of ~10 operations per step compounded
over the steps and the hyperparameters rounded to the dtype: the measured worst case is
4.8 ulps (Rprop's parameter, Lion's parameter and Adadelta's ``acc_delta`` 4.6-4.8 in
float32; RAdam's float64 parameter, 5.5 while its bias corrections cancelled, is 2.4).
FTRL's parameter is measured against the error one ulp of ``linear`` makes (see
``_param_units``).  Discontinuous rules (RAdam's rho_t > 5, Lion's
sign, Rprop's sign tests, FTRL's |z| > l1) are checked to be away from the switch.  A
wrong coefficient, a step off by one or a wrong sign is off by 2**15 ulps or more.
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
#: (measured worst case 4.8, see above).
ULP_BOUND = {np.float64: 6, np.float32: 6}
#: Wider bounds for one array of one rule, keyed (rule name, array, dtype).
#: LAMB's ``update`` r = m_hat / (sqrt(v_hat) + eps) is the array most sensitive to the bias
#: correction 1 - beta2^t.  Computed as ``1.0 - beta2 ** t`` it cancelled (relative error up
#: to 2^-53 / (1 - beta2^t): measured 48 ulps of r in float64 at t = 4, beta2 = 0.999);
#: ``fastopt.optim.optimizer._one_minus_pow`` computes ``-expm1(t * log(beta2))``, and r is
#: now within 1.8 ulps (1.6 in float32).  A coefficient error is >= 2^15 ulps.
#: FTRL's ``linear`` in float32 with lr_power = -0.25: z gains (n'^c - n^c) / lr * theta,
#: a difference of two powers each rounded to the dtype, which cancels more the smaller c
#: is (measured 6.7 ulps; 4.4 with sqrt, c = 0.5; 2.7 with c = 1).
ULP_BOUND_OF = {("Ftrl", "linear", np.float32): 8}


def _inputs(dtype, steps=STEPS, flip=None):
    rng = np.random.default_rng(20261130)
    param = (rng.uniform(1.0, 2.0, SHAPE) * rng.choice([-1.0, 1.0], SHAPE)).astype(dtype)
    sign = rng.choice([-1.0, 1.0], SHAPE)
    grads = [(sign * rng.uniform(0.5, 2.0, SHAPE)).astype(dtype) for _ in range(steps)]
    board = np.indices(SHAPE).sum(axis=0) % 2 == 0
    if flip == "every":  # a checkerboard of elements whose gradient flips sign at every step
        grads = [np.where(board, (-1) ** k * g, g).astype(dtype) for k, g in enumerate(grads)]
    elif flip == "last":  # ... only at the last step, to a quarter of its magnitude
        grads[-1] = np.where(board, -0.25 * grads[-1], grads[-1]).astype(dtype)
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


def radam(theta, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
          decoupled_weight_decay=False, maximize=False):
    """torch.optim.RAdam's documented algorithm (Liu et al. 2020).  The switch on
    rho_t > 5 is discontinuous: rho_t (computed in double by fastopt, error ~1e-13) must
    stay 1e-6 away from 5 for both to take the same branch (checked below; the closest
    of the grid is rho_5 = 4.996 with beta2 = 0.999)."""
    lr, eps = mpf(lr), mpf(eps)
    b1, b2 = mpf(betas[0]), mpf(betas[1])
    rho_inf = 2 / (1 - b2) - 1
    m, v = _zeros(), _zeros()
    for t, g in enumerate(grads, start=1):
        theta, g = _decay(theta, g, maximize, weight_decay, decoupled_weight_decay, lr)
        m = _map(lambda mi, gi: b1 * mi + (1 - b1) * gi, m, g)
        v = _map(lambda vi, gi: b2 * vi + (1 - b2) * gi * gi, v, g)
        rho_t = rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)
        assert abs(rho_t - 5) > mpf("1e-6"), "inputs too close to RAdam's rho_t > 5 switch"
        mhat_coef = 1 / (1 - b1 ** t)
        if rho_t > 5:
            r_t = mpmath.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                              / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            # torch: adaptive lr = sqrt(1 - b2^t) / (sqrt(v) + eps)
            theta = _map(lambda p, mi, vi: p - lr * mhat_coef * mi * r_t
                         * mpmath.sqrt(1 - b2 ** t) / (mpmath.sqrt(vi) + eps), theta, m, v)
        else:
            theta = _map(lambda p, mi: p - lr * mhat_coef * mi, theta, m)
    return theta, {"exp_avg": m, "exp_avg_sq": v}


def lion(theta, grads, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, maximize=False):
    """Chen et al. 2023, Algorithm 2 (decoupled decay).  sign(c) is discontinuous at 0:
    the inputs keep every |c| above 1e-3 (asserted), so rounding cannot flip a sign."""
    lr, lam = mpf(lr), mpf(weight_decay)
    b1, b2 = mpf(betas[0]), mpf(betas[1])
    m = _zeros()
    for g in grads:
        g = _coupled(theta, g, maximize, 0.0)
        theta = _map(lambda p: p * (1 - lr * lam), theta)
        c = _map(lambda mi, gi: b1 * mi + (1 - b1) * gi, m, g)
        assert all(abs(ci) > mpf("1e-3") for row in c for ci in row)
        theta = _map(lambda p, ci: p - lr * mpmath.sign(ci), theta, c)
        m = _map(lambda mi, gi: b2 * mi + (1 - b2) * gi, m, g)
    return theta, {"exp_avg": m}


def rprop(theta, grads, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0), maximize=False):
    """torch.optim.Rprop's documented algorithm (Rprop-, no weight backtracking).  The
    sign tests on g * g_prev are exact in floating point (a product of nonzero floats
    never rounds to the other sign or to 0), so the branches are those of exact
    arithmetic; the clamps are continuous."""
    eta_minus, eta_plus = mpf(etas[0]), mpf(etas[1])
    smin, smax = mpf(step_sizes[0]), mpf(step_sizes[1])
    prev = _zeros()
    delta = [[mpf(lr)] * SHAPE[1] for _ in range(SHAPE[0])]
    for g in grads:
        g = _coupled(theta, g, maximize, 0.0)
        s = _map(lambda gi, pi: gi * pi, g, prev)
        delta = _map(lambda d, si: min(max(d * (eta_plus if si > 0 else eta_minus if si < 0
                                                  else 1), smin), smax), delta, s)
        g = _map(lambda gi, si: mpf(0) if si < 0 else gi, g, s)
        theta = _map(lambda p, gi, d: p - mpmath.sign(gi) * d, theta, g, delta)
        prev = g
    return theta, {"prev": prev, "step_size": delta}


def asgd(theta, grads, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0.0,
         maximize=False):
    """torch.optim.ASGD's documented algorithm (Polyak & Juditsky 1992; Bottou 2012)."""
    lr, lambd, alpha, t0 = mpf(lr), mpf(lambd), mpf(alpha), mpf(t0)
    eta, mu = lr, mpf(1)
    ax = _zeros()
    for t, g in enumerate(grads, start=1):
        g = _coupled(theta, g, maximize, weight_decay)
        theta = _map(lambda p: p * (1 - lambd * eta), theta)
        theta = _map(lambda p, gi: p - eta * gi, theta, g)
        if mu != 1:
            ax = _map(lambda a, p: a + (p - a) * mu, ax, theta)
        else:
            ax = theta
        eta = lr / (1 + lambd * lr * t) ** alpha
        mu = 1 / max(mpf(1), t - t0)
    return theta, {"ax": ax, "eta": eta, "mu": mu}


def ftrl(theta, grads, lr=1e-3, l1=0.0, l2=0.0, l2_shrinkage=0.0, beta=0.0,
         initial_accumulator_value=0.1, maximize=False, lr_power=-0.5):
    """TensorFlow's ApplyFtrlV2 (n^(-lr_power) in place of sqrt(n)), Keras' beta as the
    extra L2 term beta / lr.  The threshold |z| > l1 is discontinuous: every |z| is checked
    to stay at least 1e-3 away from l1 (true of these inputs)."""
    lr, l1, l2, ls, beta = mpf(lr), mpf(l1), mpf(l2), mpf(l2_shrinkage), mpf(beta)
    c = -mpf(lr_power)
    n = [[mpf(initial_accumulator_value)] * SHAPE[1] for _ in range(SHAPE[0])]
    z = _zeros()
    for g in grads:
        g = _coupled(theta, g, maximize, 0.0)
        gs = _map(lambda gi, p: gi + 2 * ls * p, g, theta)
        n_new = _map(lambda ni, gi: ni + gi * gi, n, g)
        z = _map(lambda zi, gsi, nn, ni, p: zi + gsi - (nn ** c - ni ** c) / lr * p,
                 z, gs, n_new, n, theta)
        assert all(abs(abs(zi) - l1) > mpf("1e-3") for row in z for zi in row), \
            "inputs too close to FTRL's |z| > l1 threshold"
        theta = _map(lambda zi, nn: (l1 * mpmath.sign(zi) - zi)
                     / (nn ** c / lr + 2 * l2 + beta / lr) if abs(zi) > l1 else mpf(0),
                     z, n_new)
        n = n_new
    return theta, {"accum": n, "linear": z}


def proximal_adagrad(theta, grads, lr=1e-2, l1=0.0, l2=0.0, initial_accumulator_value=0.1,
                     maximize=False):
    """TensorFlow's ApplyProximalAdagrad (FOBOS).  max(|v| - lr_i l1, 0) is continuous;
    sign(v) only matters away from v = 0 (|v| >= 0.5 with these inputs, checked)."""
    lr, l1, l2 = mpf(lr), mpf(l1), mpf(l2)
    a = [[mpf(initial_accumulator_value)] * SHAPE[1] for _ in range(SHAPE[0])]
    for g in grads:
        g = _coupled(theta, g, maximize, 0.0)
        a = _map(lambda ai, gi: ai + gi * gi, a, g)
        rate = _map(lambda ai: lr / mpmath.sqrt(ai), a)
        v = _map(lambda p, r, gi: p - r * gi, theta, rate, g)
        assert all(abs(vi) > mpf("0.5") for row in v for vi in row)
        theta = _map(lambda vi, r: mpmath.sign(vi) * max(abs(vi) - r * l1, mpf(0)) / (1 + r * l2),
                     v, rate)
    return theta, {"accumulator": a}


def lamb(theta, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0,
         maximize=False):
    """You et al. 2020, Algorithm 2 with phi(x) = x; the whole array is one layer."""
    lr, eps, lam = mpf(lr), mpf(eps), mpf(weight_decay)
    b1, b2 = mpf(betas[0]), mpf(betas[1])
    m, v = _zeros(), _zeros()
    r = None
    for t, g in enumerate(grads, start=1):
        g = _coupled(theta, g, maximize, 0.0)
        m = _map(lambda mi, gi: b1 * mi + (1 - b1) * gi, m, g)
        v = _map(lambda vi, gi: b2 * vi + (1 - b2) * gi * gi, v, g)
        r = _map(lambda mi, vi, p: (mi / (1 - b1 ** t)) / (mpmath.sqrt(vi / (1 - b2 ** t)) + eps)
                 + lam * p, m, v, theta)
        norm_theta = mpmath.sqrt(mp.fsum(p * p for row in theta for p in row))
        norm_r = mpmath.sqrt(mp.fsum(x * x for row in r for x in row))
        trust = norm_theta / norm_r if norm_theta != 0 and norm_r != 0 else mpf(1)
        theta = _map(lambda p, ri: p - lr * trust * ri, theta, r)
    return theta, {"exp_avg": m, "exp_avg_sq": v, "update": r}


def sparse_adam(theta, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False,
                per_row_step=False):
    """torch.optim.SparseAdam's algorithm, given every row at every step (a dense
    gradient, which fastopt accepts as "every row"): Adam with eps on the uncorrected
    sqrt(v).  per_row_step then counts the same t for every row."""
    lr, eps = mpf(lr), mpf(eps)
    b1, b2 = mpf(betas[0]), mpf(betas[1])
    m, v = _zeros(), _zeros()
    for t, g in enumerate(grads, start=1):
        g = _coupled(theta, g, maximize, 0.0)
        m = _map(lambda mi, gi: mi + (gi - mi) * (1 - b1), m, g)
        v = _map(lambda vi, gi: vi + (gi * gi - vi) * (1 - b2), v, g)
        theta = _map(lambda p, mi, vi: p - lr * mpmath.sqrt(1 - b2 ** t) / (1 - b1 ** t)
                     * mi / (mpmath.sqrt(vi) + eps), theta, m, v)
    return theta, {"exp_avg": m, "exp_avg_sq": v}


ORACLES = {fastopt.SGD: sgd, fastopt.Adagrad: adagrad, fastopt.Adadelta: adadelta,
           fastopt.RMSprop: rmsprop, fastopt.Adam: adam, fastopt.AdamW: adamw,
           fastopt.Adamax: adamax, fastopt.NAdam: nadam, fastopt.RAdam: radam,
           fastopt.Lion: lion, fastopt.Rprop: rprop, fastopt.ASGD: asgd, fastopt.Ftrl: ftrl,
           fastopt.ProximalAdagrad: proximal_adagrad, fastopt.LAMB: lamb,
           fastopt.SparseAdam: sparse_adam}

#: Hyperparameters the grid leaves at their defaults, set here so every rule runs
#: with non-trivial values (SGD's lr default is small; Adagrad's eps is checked too).
EXTRA = {fastopt.Adagrad: dict(eps=1e-3), fastopt.Adadelta: dict(eps=1e-4),
         fastopt.RMSprop: dict(lr=0.01, alpha=0.9), fastopt.NAdam: dict(lr=0.01)}

#: Rules that need more than STEPS steps for every branch of the grid to run: RAdam's
#: rectified branch (rho_t > 5 from step 6 with either grid beta2) and ASGD's averaging
#: (mu_t != 1 from step t0 + 2 = 12 with t0 = 10).
RULE_STEPS = {fastopt.RAdam: 8, fastopt.ASGD: 14, fastopt.Rprop: 8}

#: Rules whose gradients flip sign between steps (Rprop's sign tests and its lower
#: step-size clamp only run on flips); every other rule keeps one sign per element.
#: Rprop's flipping elements shrink every other step (a flip zeroes g_prev), so in 8 steps
#: etas[0] = 0.3 takes 0.02 below step_sizes[0] = 1e-3, and etas[1] = 2 above 0.05.
#: Lion's sign(beta1 m + (1 - beta1) g) only depends on beta1 where m and g disagree in
#: sign, so its gradients flip once, at the last step (flipping at every step would make m
#: an alternating sum that cancels; the oracle asserts |c| > 1e-3).  After 3 steps m is
#: ~0.03 |g| (beta2 = 0.99) or ~0.27 |g| (beta2 = 0.9), so a flipped gradient of a quarter
#: of the size makes beta1 m and (1 - beta1) g comparable: the sign of c depends on beta1.
FLIPPING = {fastopt.Rprop: "every", fastopt.Lion: "last"}

#: Cases beyond the grid.  FTRL with these inputs has |z| between 9 and 37: l1 = 15 puts
#: the threshold inside that range, so some elements are exactly 0 and others not.
EXTRA_CASES = [(fastopt.Ftrl, dict(lr=0.1, l1=15.0, l2=0.1, l2_shrinkage=0.05, beta=0.5,
                                   maximize=m)) for m in (False, True)]
#: FTRL's other powers: a constant rate (lr_power = 0) and 1/n (lr_power = -1).
EXTRA_CASES += [(fastopt.Ftrl, dict(lr=0.1, l1=0.3, l2=0.1, l2_shrinkage=0.05, beta=0.5,
                                    lr_power=c)) for c in (0.0, -1.0)]

#: Step scalars kept as Python floats (double), whatever the arrays' dtype.
SCALAR_STATE = {"mu_product", "eta", "mu"}


#: Rules whose independent check is elsewhere (not in 60-digit arithmetic here): the file
#: that checks each against its source's equations or against torch.  Every rule of the
#: case table has an oracle here today.
CHECKED_ELSEWHERE = {}


def _cases():
    for cls, kwargs in [*cases(), *EXTRA_CASES]:
        if cls in ORACLES:
            yield pytest.param(cls, {**EXTRA.get(cls, {}), **kwargs}, id=case_id(cls, kwargs))


def test_every_rule_has_an_independent_check():
    """A new rule in the case table needs an oracle here or a declared one elsewhere."""
    unchecked = {cls for cls, _ in cases()} - set(ORACLES) - set(CHECKED_ELSEWHERE)
    assert not unchecked, f"no independent check declared for {sorted(c.__name__ for c in unchecked)}"


def _flat(a):
    return [x for row in a for x in row] if isinstance(a[0], list) else list(a)


def ulps(got, exact, dtype, units=None):
    """|got - exact| in units in the last place (of ``dtype``) of the exact value, or in
    ``units`` (per element) where those are larger."""
    got = np.asarray(got, np.float64).reshape(-1)
    flat = _flat(exact)
    units = [0.0] * len(flat) if units is None else units
    worst = 0.0
    for g, e, u in zip(got, flat, units):
        unit = max(float(np.spacing(dtype(abs(float(e))))), u)
        worst = max(worst, float(abs(mpf(float(g)) - e) / unit))
    return worst


def _param_units(cls, kwargs, exact_state, dtype):
    """Per-element units for the parameter, where the rule amplifies a rounding error.

    FTRL's theta = (l1 sign(z) - z) / q cancels when |z| is near l1: an error of one ulp
    of z (which no order of operations avoids) moves theta by ulp(z) / q, where
    q >= n^c / lr (c = -lr_power).  So theta is measured in units of
    max(ulp(theta), ulp(z) lr / n^c), the error that one ulp of z makes; far from the
    threshold that is ulp(theta)."""
    if cls is not fastopt.Ftrl:
        return None
    lr, c = mpf(kwargs["lr"]), -mpf(kwargs.get("lr_power", -0.5))
    return [float(np.spacing(dtype(abs(float(z)))) * lr / n ** c)
            for z, n in zip(_flat(exact_state["linear"]), _flat(exact_state["accum"]))]


def _rule_inputs(cls, dtype):
    return _inputs(dtype, RULE_STEPS.get(cls, STEPS), FLIPPING.get(cls))


def run_fastopt(cls, kwargs, dtype):
    param, grads = _rule_inputs(cls, dtype)
    opt = cls([param], backend="python", **kwargs)
    for g in grads:
        opt.step([g])
    return param, opt.state[0]


def worst_ulps(cls, kwargs, dtype):
    """``{array name: worst error in ulps}`` of fastopt against the oracle."""
    param, state = run_fastopt(cls, kwargs, dtype)
    start, grads = _rule_inputs(cls, dtype)
    theta, exact_state = ORACLES[cls](_mp(start), [_mp(g) for g in grads], **kwargs)
    errors = {"param": ulps(param, theta, dtype, _param_units(cls, kwargs, exact_state, dtype))}
    assert state["step"] == len(grads)
    if "row_step" in state:  # SparseAdam(per_row_step): a dense gradient touches every row
        assert (state["row_step"] == len(grads)).all()
    names = ({k for k, v in state.items()
              if isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating)}
             | SCALAR_STATE & set(state))
    assert names == set(exact_state), (sorted(names), sorted(exact_state))
    for name, exact in exact_state.items():
        got = state[name]
        if name in SCALAR_STATE:
            errors[name] = ulps([got], [exact], np.float64)
        else:
            errors[name] = ulps(got, exact, dtype)
    return errors


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("cls,kwargs", list(_cases()))
def test_reference_follows_the_published_equations(cls, kwargs, dtype):
    errors = worst_ulps(cls, kwargs, dtype)
    bound = {k: ULP_BOUND_OF.get((cls.__name__, k, dtype), ULP_BOUND[dtype]) for k in errors}
    bad = {k: (v, bound[k]) for k, v in errors.items() if v > bound[k]}
    assert not bad, f"off by more than the bound, in ulps (error, bound): {bad}"
