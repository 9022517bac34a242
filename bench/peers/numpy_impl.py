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


_CLASSES = {
    "naive": {"SGD": NaiveSGD, "Adagrad": NaiveAdagrad, "Adadelta": NaiveAdadelta,
              "RMSprop": NaiveRMSprop, "Adam": NaiveAdam, "AdamW": NaiveAdamW,
              "Adamax": NaiveAdamax, "NAdam": NaiveNAdam},
    "careful": {"SGD": CarefulSGD, "Adagrad": CarefulAdagrad, "Adadelta": CarefulAdadelta,
                "RMSprop": CarefulRMSprop, "Adam": CarefulAdam, "AdamW": CarefulAdamW,
                "Adamax": CarefulAdamax, "NAdam": CarefulNAdam},
}
FLAVOURS = tuple(_CLASSES)


def make(flavour, algorithm, param, grad):
    """A NumPy optimizer of ``flavour`` ('naive' or 'careful') over one 1-D array."""
    return _CLASSES[flavour][algorithm.cls](param, grad, algorithm)
