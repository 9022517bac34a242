"""Plain NumPy versions of each update rule, the baselines fastopt is compared with.

Two flavours, both computing the equations of fastopt's reference kernels
(``fastopt/backends/python/``) with the hyperparameters of
:mod:`bench.peers.algorithms`:

* ``naive``: the textbook expressions, as one writes them from the paper: every
  operator allocates a temporary and state arrays are rebound to new arrays;
* ``careful``: what a NumPy expert writes: in-place operators and ``out=``
  arguments into one or two preallocated scratch buffers, no allocation per step.

Each class takes ``(param, grad, algorithm)`` (1-D arrays, updated in place for
``param``) and exposes ``step()`` and ``state`` (torch state names).
Step-dependent scalars are computed in double precision, as torch does.
"""
import math

import numpy as np


class _Base:
    def __init__(self, param, grad, algorithm):
        self.param, self.grad, self.algo = param, grad, algorithm
        self.h = dict(algorithm.hyper)
        self.t = 0
        self.state = {}
        self._init_state()

    def _zeros(self, *names):
        for n in names:
            self.state[n] = np.zeros_like(self.param)

    def _init_state(self):
        pass


# --------------------------------------------------------------------------- naive

class NaiveSGD(_Base):
    def step(self):
        h, g = self.h, self.grad
        self.t += 1
        mu = h.get("momentum", 0.0)
        if mu:
            if self.t == 1:
                self.state["momentum_buffer"] = g.copy()
            else:
                self.state["momentum_buffer"] = mu * self.state["momentum_buffer"] + g
            g = self.state["momentum_buffer"]
        self.param -= h["lr"] * g


class NaiveAdagrad(_Base):
    def _init_state(self):
        self._zeros("sum")

    def step(self):
        h, g, s = self.h, self.grad, self.state
        self.t += 1
        clr = h["lr"] / (1 + (self.t - 1) * h["lr_decay"])
        s["sum"] = s["sum"] + g * g
        self.param -= clr * g / (np.sqrt(s["sum"]) + h["eps"])


class NaiveAdadelta(_Base):
    def _init_state(self):
        self._zeros("square_avg", "acc_delta")

    def step(self):
        h, g, s = self.h, self.grad, self.state
        rho, eps = h["rho"], h["eps"]
        self.t += 1
        s["square_avg"] = rho * s["square_avg"] + (1 - rho) * g * g
        delta = np.sqrt(s["acc_delta"] + eps) / np.sqrt(s["square_avg"] + eps) * g
        s["acc_delta"] = rho * s["acc_delta"] + (1 - rho) * delta * delta
        self.param -= h["lr"] * delta


class NaiveRMSprop(_Base):
    def _init_state(self):
        self._zeros("square_avg")

    def step(self):
        h, g, s = self.h, self.grad, self.state
        a = h["alpha"]
        self.t += 1
        s["square_avg"] = a * s["square_avg"] + (1 - a) * g * g
        self.param -= h["lr"] * g / (np.sqrt(s["square_avg"]) + h["eps"])


class NaiveAdam(_Base):
    decoupled = False

    def _init_state(self):
        self._zeros("exp_avg", "exp_avg_sq")

    def step(self):
        h, g, s = self.h, self.grad, self.state
        (b1, b2), lr = h["betas"], h["lr"]
        self.t += 1
        if self.decoupled:
            self.param *= 1 - lr * h["weight_decay"]
        s["exp_avg"] = b1 * s["exp_avg"] + (1 - b1) * g
        s["exp_avg_sq"] = b2 * s["exp_avg_sq"] + (1 - b2) * g * g
        m_hat = s["exp_avg"] / (1 - b1 ** self.t)
        v_hat = s["exp_avg_sq"] / (1 - b2 ** self.t)
        self.param -= lr * m_hat / (np.sqrt(v_hat) + h["eps"])


class NaiveAdamW(NaiveAdam):
    decoupled = True


class NaiveAdamax(_Base):
    def _init_state(self):
        self._zeros("exp_avg", "exp_inf")

    def step(self):
        h, g, s = self.h, self.grad, self.state
        (b1, b2), lr = h["betas"], h["lr"]
        self.t += 1
        s["exp_avg"] = b1 * s["exp_avg"] + (1 - b1) * g
        s["exp_inf"] = np.maximum(b2 * s["exp_inf"], np.abs(g) + h["eps"])
        self.param -= lr / (1 - b1 ** self.t) * s["exp_avg"] / s["exp_inf"]


def nadam_coefficients(t, mu_product, h):
    """(mu_t, mu_{t+1}, mu_product after step t) of NAdam, in double precision."""
    b1 = h["betas"][0]
    psi = h["momentum_decay"]
    mu = b1 * (1.0 - 0.5 * 0.96 ** (t * psi))
    mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
    return mu, mu_next, mu_product * mu


class NaiveNAdam(_Base):
    def _init_state(self):
        self._zeros("exp_avg", "exp_avg_sq")
        self.mu_product = 1.0

    def step(self):
        h, g, s = self.h, self.grad, self.state
        (b1, b2), lr = h["betas"], h["lr"]
        self.t += 1
        mu, mu_next, self.mu_product = nadam_coefficients(self.t, self.mu_product, h)
        s["exp_avg"] = b1 * s["exp_avg"] + (1 - b1) * g
        s["exp_avg_sq"] = b2 * s["exp_avg_sq"] + (1 - b2) * g * g
        denom = np.sqrt(s["exp_avg_sq"] / (1 - b2 ** self.t)) + h["eps"]
        self.param -= lr * (1 - mu) / (1 - self.mu_product) * g / denom
        self.param -= lr * mu_next / (1 - self.mu_product * mu_next) * s["exp_avg"] / denom


def radam_step_size(t, h, one_minus_pow=None):
    """(rectify, step coefficient) of RAdam at step ``t``, in double precision
    (``one_minus_pow(beta, t)``: how the bias corrections ``1 - beta**t`` are computed)."""
    (b1, b2), lr = h["betas"], h["lr"]
    if one_minus_pow is None:
        bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
    else:
        bc1, bc2 = one_minus_pow(b1, t), one_minus_pow(b2, t)
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * t * b2 ** t / bc2
    if rho_t <= 5:
        return False, lr / bc1
    rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
    return True, lr * rect * math.sqrt(bc2) / bc1


class NaiveRAdam(_Base):
    def _init_state(self):
        self._zeros("exp_avg", "exp_avg_sq")

    def step(self):
        h, g, s = self.h, self.grad, self.state
        b1, b2 = h["betas"]
        self.t += 1
        s["exp_avg"] = b1 * s["exp_avg"] + (1 - b1) * g
        s["exp_avg_sq"] = b2 * s["exp_avg_sq"] + (1 - b2) * g * g
        rectify, c = radam_step_size(self.t, h)
        if rectify:
            self.param -= c * s["exp_avg"] / (np.sqrt(s["exp_avg_sq"]) + h["eps"])
        else:
            self.param -= c * s["exp_avg"]


class NaiveLion(_Base):
    def _init_state(self):
        self._zeros("exp_avg")

    def step(self):
        h, g, s = self.h, self.grad, self.state
        b1, b2 = h["betas"]
        self.param *= 1 - h["lr"] * h["weight_decay"]
        self.param -= h["lr"] * np.sign(b1 * s["exp_avg"] + (1 - b1) * g)
        s["exp_avg"] = b2 * s["exp_avg"] + (1 - b2) * g


class NaiveRprop(_Base):
    def _init_state(self):
        self._zeros("prev")
        self.state["step_size"] = np.full_like(self.param, self.h["lr"])

    def step(self):
        h, s = self.h, self.state
        (eta_minus, eta_plus), (lo, hi) = h["etas"], h["step_sizes"]
        product = self.grad * s["prev"]
        factor = np.where(product > 0, eta_plus, np.where(product < 0, eta_minus, 1.0))
        s["step_size"] = np.clip(s["step_size"] * factor, lo, hi)
        g = np.where(product < 0, 0.0, self.grad)
        self.param -= np.sign(g) * s["step_size"]
        s["prev"] = g


class NaiveASGD(_Base):
    def _init_state(self):
        self._zeros("ax")
        self.eta, self.mu = self.h["lr"], 1.0

    def step(self):
        h = self.h
        self.t += 1
        self.param *= 1 - h["lambd"] * self.eta
        self.param -= self.eta * self.grad
        self.state["ax"] = self.state["ax"] + (self.param - self.state["ax"]) * self.mu \
            if self.mu != 1 else self.param.copy()
        self.eta = h["lr"] / (1 + h["lambd"] * h["lr"] * self.t) ** h["alpha"]
        self.mu = 1 / max(1, self.t - h["t0"])


class NaiveSparseAdam(_Base):
    def _init_state(self):
        self._zeros("exp_avg", "exp_avg_sq")

    def step(self):
        h, g, s = self.h, self.grad, self.state
        (b1, b2), lr = h["betas"], h["lr"]
        self.t += 1
        s["exp_avg"] = s["exp_avg"] + (g - s["exp_avg"]) * (1 - b1)
        s["exp_avg_sq"] = s["exp_avg_sq"] + (g * g - s["exp_avg_sq"]) * (1 - b2)
        c = lr * math.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)
        self.param -= c * s["exp_avg"] / (np.sqrt(s["exp_avg_sq"]) + h["eps"])


class NaiveFtrl(_Base):
    def _init_state(self):
        self.state["accum"] = np.full_like(self.param, self.h["initial_accumulator_value"])
        self._zeros("linear")

    def step(self):
        h, g, s = self.h, self.grad, self.state
        lr, l1 = h["lr"], h["l1"]
        new_accum = s["accum"] + g * g
        s["linear"] = s["linear"] + g - (np.sqrt(new_accum) - np.sqrt(s["accum"])) / lr * self.param
        quadratic = np.sqrt(new_accum) / lr + 2 * h["l2"]
        self.param[...] = np.where(np.abs(s["linear"]) > l1,
                                   (l1 * np.sign(s["linear"]) - s["linear"]) / quadratic, 0.0)
        s["accum"] = new_accum


class NaiveProximalAdagrad(_Base):
    def _init_state(self):
        self.state["accumulator"] = np.full_like(self.param, self.h["initial_accumulator_value"])

    def step(self):
        h, g, s = self.h, self.grad, self.state
        s["accumulator"] = s["accumulator"] + g * g
        rate = h["lr"] / np.sqrt(s["accumulator"])
        v = self.param - g * rate
        shrunk = np.maximum(np.abs(v) - rate * h["l1"], 0)
        self.param[...] = np.sign(v) * shrunk / (1 + h["l2"] * rate)


# ------------------------------------------------------------------------- careful

class CarefulSGD(_Base):
    def _init_state(self):
        if self.h.get("momentum", 0.0):
            self._zeros("momentum_buffer")
        self._tmp = np.empty_like(self.param)

    def step(self):
        h, g, tmp = self.h, self.grad, self._tmp
        self.t += 1
        mu = h.get("momentum", 0.0)
        if mu:
            buf = self.state["momentum_buffer"]
            if self.t == 1:
                np.copyto(buf, g)
            else:
                buf *= mu
                buf += g
            g = buf
        np.multiply(g, -h["lr"], out=tmp)
        self.param += tmp


class CarefulAdagrad(_Base):
    def _init_state(self):
        self._zeros("sum")
        self._tmp = np.empty_like(self.param)

    def step(self):
        h, g, tmp, ssum = self.h, self.grad, self._tmp, self.state["sum"]
        self.t += 1
        clr = h["lr"] / (1 + (self.t - 1) * h["lr_decay"])
        np.multiply(g, g, out=tmp)
        ssum += tmp
        np.sqrt(ssum, out=tmp)
        tmp += h["eps"]
        np.divide(g, tmp, out=tmp)
        tmp *= -clr
        self.param += tmp


class CarefulAdadelta(_Base):
    def _init_state(self):
        self._zeros("square_avg", "acc_delta")
        self._tmp = np.empty_like(self.param)
        self._tmp2 = np.empty_like(self.param)

    def step(self):
        h, g, s, tmp, tmp2 = self.h, self.grad, self.state, self._tmp, self._tmp2
        rho, eps = h["rho"], h["eps"]
        v, u = s["square_avg"], s["acc_delta"]
        self.t += 1
        v *= rho
        np.multiply(g, g, out=tmp)
        tmp *= 1 - rho
        v += tmp
        np.add(v, eps, out=tmp2)
        np.sqrt(tmp2, out=tmp2)          # std
        np.add(u, eps, out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp /= tmp2
        tmp *= g                         # delta
        u *= rho
        np.multiply(tmp, tmp, out=tmp2)
        tmp2 *= 1 - rho
        u += tmp2
        tmp *= -h["lr"]
        self.param += tmp


class CarefulRMSprop(_Base):
    def _init_state(self):
        self._zeros("square_avg")
        self._tmp = np.empty_like(self.param)

    def step(self):
        h, g, tmp, v = self.h, self.grad, self._tmp, self.state["square_avg"]
        a = h["alpha"]
        self.t += 1
        v *= a
        np.multiply(g, g, out=tmp)
        tmp *= 1 - a
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += h["eps"]
        np.divide(g, tmp, out=tmp)
        tmp *= -h["lr"]
        self.param += tmp


class CarefulAdam(_Base):
    decoupled = False

    def _init_state(self):
        self._zeros("exp_avg", "exp_avg_sq")
        self._tmp = np.empty_like(self.param)

    def step(self):
        h, g, tmp, s = self.h, self.grad, self._tmp, self.state
        (b1, b2), lr = h["betas"], h["lr"]
        m, v = s["exp_avg"], s["exp_avg_sq"]
        self.t += 1
        if self.decoupled:
            self.param *= 1 - lr * h["weight_decay"]
        m *= b1
        np.multiply(g, 1 - b1, out=tmp)
        m += tmp
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp *= 1 / math.sqrt(1 - b2 ** self.t)
        tmp += h["eps"]
        np.divide(m, tmp, out=tmp)
        tmp *= -lr / (1 - b1 ** self.t)
        self.param += tmp


class CarefulAdamW(CarefulAdam):
    decoupled = True


class CarefulAdamax(_Base):
    def _init_state(self):
        self._zeros("exp_avg", "exp_inf")
        self._tmp = np.empty_like(self.param)

    def step(self):
        h, g, tmp, s = self.h, self.grad, self._tmp, self.state
        (b1, b2), lr = h["betas"], h["lr"]
        m, u = s["exp_avg"], s["exp_inf"]
        self.t += 1
        m *= b1
        np.multiply(g, 1 - b1, out=tmp)
        m += tmp
        u *= b2
        np.abs(g, out=tmp)
        tmp += h["eps"]
        np.maximum(u, tmp, out=u)
        np.divide(m, u, out=tmp)
        tmp *= -lr / (1 - b1 ** self.t)
        self.param += tmp


class CarefulNAdam(_Base):
    def _init_state(self):
        self._zeros("exp_avg", "exp_avg_sq")
        self._tmp = np.empty_like(self.param)
        self._den = np.empty_like(self.param)
        self.mu_product = 1.0

    def step(self):
        h, g, tmp, den, s = self.h, self.grad, self._tmp, self._den, self.state
        (b1, b2), lr = h["betas"], h["lr"]
        m, v = s["exp_avg"], s["exp_avg_sq"]
        self.t += 1
        mu, mu_next, self.mu_product = nadam_coefficients(self.t, self.mu_product, h)
        m *= b1
        np.multiply(g, 1 - b1, out=tmp)
        m += tmp
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        v += tmp
        np.multiply(v, 1 / (1 - b2 ** self.t), out=den)
        np.sqrt(den, out=den)
        den += h["eps"]
        np.divide(g, den, out=tmp)
        tmp *= -lr * (1 - mu) / (1 - self.mu_product)
        self.param += tmp
        np.divide(m, den, out=tmp)
        tmp *= -lr * mu_next / (1 - self.mu_product * mu_next)
        self.param += tmp


class CarefulRAdam(_Base):
    def _init_state(self):
        self._zeros("exp_avg", "exp_avg_sq")
        self._tmp = np.empty_like(self.param)

    def step(self):
        h, g, tmp, s = self.h, self.grad, self._tmp, self.state
        b1, b2 = h["betas"]
        m, v = s["exp_avg"], s["exp_avg_sq"]
        self.t += 1
        m *= b1
        np.multiply(g, 1 - b1, out=tmp)
        m += tmp
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        v += tmp
        rectify, c = radam_step_size(self.t, h)
        if rectify:
            np.sqrt(v, out=tmp)
            tmp += h["eps"]
            np.divide(m, tmp, out=tmp)
        else:
            tmp[...] = m
        tmp *= -c
        self.param += tmp


class CarefulLion(_Base):
    def _init_state(self):
        self._zeros("exp_avg")
        self._tmp = np.empty_like(self.param)

    def step(self):
        h, g, tmp, m = self.h, self.grad, self._tmp, self.state["exp_avg"]
        b1, b2 = h["betas"]
        self.param *= 1 - h["lr"] * h["weight_decay"]
        np.multiply(m, b1, out=tmp)
        tmp += (1 - b1) * g
        np.sign(tmp, out=tmp)
        tmp *= -h["lr"]
        self.param += tmp
        m *= b2
        np.multiply(g, 1 - b2, out=tmp)
        m += tmp


class CarefulSparseAdam(_Base):
    def _init_state(self):
        self._zeros("exp_avg", "exp_avg_sq")
        self._tmp = np.empty_like(self.param)

    def step(self):
        h, g, tmp, s = self.h, self.grad, self._tmp, self.state
        (b1, b2), lr = h["betas"], h["lr"]
        m, v = s["exp_avg"], s["exp_avg_sq"]
        self.t += 1
        np.subtract(g, m, out=tmp)
        tmp *= 1 - b1
        m += tmp
        np.multiply(g, g, out=tmp)
        tmp -= v
        tmp *= 1 - b2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp += h["eps"]
        np.divide(m, tmp, out=tmp)
        tmp *= -lr * math.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)
        self.param += tmp


class CarefulProximalAdagrad(_Base):
    def _init_state(self):
        self.state["accumulator"] = np.full_like(self.param, self.h["initial_accumulator_value"])
        self._tmp = np.empty_like(self.param)
        self._rate = np.empty_like(self.param)

    def step(self):
        h, g, tmp, rate, a = self.h, self.grad, self._tmp, self._rate, self.state["accumulator"]
        np.multiply(g, g, out=tmp)
        a += tmp
        np.sqrt(a, out=rate)
        np.divide(h["lr"], rate, out=rate)
        np.multiply(g, rate, out=tmp)
        self.param -= tmp                       # v
        np.abs(self.param, out=tmp)
        tmp -= h["l1"] * rate
        np.maximum(tmp, 0, out=tmp)
        np.copysign(tmp, self.param, out=tmp)   # sign(v) * max(|v| - rate l1, 0), v != 0
        rate *= h["l2"]
        rate += 1
        np.divide(tmp, rate, out=self.param)


# ------------------------------------------------------ LAMB and Adafactor (both flavours)

class NaiveLAMB(_Base):
    """You et al. 2020, Algorithm 2 (one trust ratio for the whole array)."""

    def _init_state(self):
        self._zeros("exp_avg", "exp_avg_sq")

    def step(self):
        h, g, s = self.h, self.grad, self.state
        (b1, b2), lr = h["betas"], h["lr"]
        self.t += 1
        s["exp_avg"] = b1 * s["exp_avg"] + (1 - b1) * g
        s["exp_avg_sq"] = b2 * s["exp_avg_sq"] + (1 - b2) * g * g
        m_hat = s["exp_avg"] / (1 - b1 ** self.t)
        v_hat = s["exp_avg_sq"] / (1 - b2 ** self.t)
        r = m_hat / (np.sqrt(v_hat) + h["eps"]) + h["weight_decay"] * self.param
        p_norm, r_norm = np.linalg.norm(self.param), np.linalg.norm(r)
        trust = p_norm / r_norm if p_norm > 0 and r_norm > 0 else 1.0
        self.param -= lr * trust * r


class CarefulLAMB(_Base):
    def _init_state(self):
        self._zeros("exp_avg", "exp_avg_sq")
        self._tmp = np.empty_like(self.param)
        self._r = np.empty_like(self.param)

    def step(self):
        h, g, s, tmp, r = self.h, self.grad, self.state, self._tmp, self._r
        (b1, b2), lr = h["betas"], h["lr"]
        m, v = s["exp_avg"], s["exp_avg_sq"]
        self.t += 1
        m *= b1
        np.multiply(g, 1 - b1, out=tmp)
        m += tmp
        v *= b2
        np.multiply(g, g, out=tmp)
        tmp *= 1 - b2
        v += tmp
        np.multiply(v, 1 / (1 - b2 ** self.t), out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += h["eps"]
        np.multiply(m, 1 / (1 - b1 ** self.t), out=r)
        r /= tmp
        if h["weight_decay"]:
            np.multiply(self.param, h["weight_decay"], out=tmp)
            r += tmp
        flat_p, flat_r = self.param.reshape(-1), r.reshape(-1)
        p_norm, r_norm = math.sqrt(np.dot(flat_p, flat_p)), math.sqrt(np.dot(flat_r, flat_r))
        trust = p_norm / r_norm if p_norm > 0 and r_norm > 0 else 1.0
        r *= lr * trust
        self.param -= r


class NaiveAdafactor(_Base):
    """torch.optim.Adafactor's algorithm, as its documentation writes it (factored for
    two or more dimensions)."""

    def _init_state(self):
        p = self.param
        if p.ndim > 1:
            self.state["row_var"] = np.zeros(p.shape[:-1] + (1,), p.dtype)
            self.state["col_var"] = np.zeros(p.shape[:-2] + (1, p.shape[-1]), p.dtype)
        else:
            self._zeros("variance")

    def _eps1(self):
        eps1 = self.h["eps"][0]
        return float(np.finfo(self.param.dtype).eps) if eps1 is None else eps1

    def step(self):
        h, g, s, p = self.h, self.grad, self.state, self.param
        self.t += 1
        eps1, eps2 = self._eps1(), h["eps"][1]
        beta = self.t ** h["beta2_decay"]
        rho = min(h["lr"], 1 / math.sqrt(self.t))
        alpha = max(eps2, np.linalg.norm(p) / math.sqrt(p.size)) * rho
        if h["weight_decay"]:
            p *= 1 - h["lr"] * h["weight_decay"]
        if p.ndim > 1:
            row_mean = np.mean(g * g, axis=-1, keepdims=True)
            col_mean = np.mean(g * g, axis=-2, keepdims=True)
            s["row_var"] = s["row_var"] + beta * (row_mean - s["row_var"])
            s["col_var"] = s["col_var"] + beta * (col_mean - s["col_var"])
            v = s["row_var"] * s["col_var"] / np.maximum(
                np.mean(s["row_var"], axis=-2, keepdims=True), eps1)
        else:
            s["variance"] = s["variance"] + beta * (g * g - s["variance"])
            v = s["variance"]
        u = g / np.sqrt(np.maximum(v, eps1 * eps1))
        denom = max(1.0, np.linalg.norm(u) / (math.sqrt(u.size) * h["d"]))
        p -= alpha / denom * u


class CarefulAdafactor(NaiveAdafactor):
    """The same with one scratch array and in-place statistics."""

    def _init_state(self):
        super()._init_state()
        self._tmp = np.empty_like(self.param)

    def step(self):
        h, g, s, p, tmp = self.h, self.grad, self.state, self.param, self._tmp
        self.t += 1
        eps1, eps2 = self._eps1(), h["eps"][1]
        beta = self.t ** h["beta2_decay"]
        rho = min(h["lr"], 1 / math.sqrt(self.t))
        flat = p.reshape(-1)
        alpha = max(eps2, math.sqrt(np.dot(flat, flat)) / math.sqrt(p.size)) * rho
        if h["weight_decay"]:
            p *= 1 - h["lr"] * h["weight_decay"]
        np.multiply(g, g, out=tmp)
        if p.ndim > 1:
            r, c = s["row_var"], s["col_var"]
            r *= 1 - beta
            r += (beta / p.shape[-1]) * tmp.sum(axis=-1, keepdims=True)
            c *= 1 - beta
            c += (beta / p.shape[-2]) * tmp.sum(axis=-2, keepdims=True)
            np.multiply(r, c, out=tmp)
            tmp /= np.maximum(r.mean(axis=-2, keepdims=True), eps1)
        else:
            v = s["variance"]
            v *= 1 - beta
            tmp *= beta
            v += tmp
            tmp[...] = v
        np.maximum(tmp, eps1 * eps1, out=tmp)
        np.sqrt(tmp, out=tmp)
        np.divide(g, tmp, out=tmp)
        flat = tmp.reshape(-1)
        denom = max(1.0, math.sqrt(np.dot(flat, flat)) / (math.sqrt(tmp.size) * h["d"]))
        tmp *= alpha / denom
        p -= tmp


_CLASSES = {
    "naive": {"SGD": NaiveSGD, "Adagrad": NaiveAdagrad, "Adadelta": NaiveAdadelta,
              "RMSprop": NaiveRMSprop, "Adam": NaiveAdam, "AdamW": NaiveAdamW,
              "Adamax": NaiveAdamax, "NAdam": NaiveNAdam, "RAdam": NaiveRAdam, "Lion": NaiveLion,
              "Rprop": NaiveRprop, "ASGD": NaiveASGD, "SparseAdam": NaiveSparseAdam,
              "Ftrl": NaiveFtrl, "ProximalAdagrad": NaiveProximalAdagrad, "LAMB": NaiveLAMB,
              "Adafactor": NaiveAdafactor},
    "careful": {"SGD": CarefulSGD, "Adagrad": CarefulAdagrad, "Adadelta": CarefulAdadelta,
                "RMSprop": CarefulRMSprop, "Adam": CarefulAdam, "AdamW": CarefulAdamW,
                "Adamax": CarefulAdamax, "NAdam": CarefulNAdam, "RAdam": CarefulRAdam,
                "Lion": CarefulLion, "SparseAdam": CarefulSparseAdam,
                "ProximalAdagrad": CarefulProximalAdagrad,
                # elementwise branches (Rprop, ASGD's average, FTRL's threshold): the naive form
                "Rprop": NaiveRprop, "ASGD": NaiveASGD, "Ftrl": NaiveFtrl,
                "LAMB": CarefulLAMB, "Adafactor": CarefulAdafactor},
}
FLAVOURS = tuple(_CLASSES)


def make(flavour, algorithm, param, grad):
    """A NumPy optimizer of ``flavour`` ('naive' or 'careful') over one array (1-D, or the
    matrix of :meth:`bench.peers.algorithms.Algorithm.shape`)."""
    return _CLASSES[flavour][algorithm.cls](param, grad, algorithm)
