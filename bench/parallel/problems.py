"""The showcase problems of the parallel-SGD benchmark, on generated data.

No ratings or bag-of-words data set ships with the packages installed here (scikit-learn's
bundled sets are dense and small; its text sets are downloads), so both are generated,
seeded, with the shape of the real thing:

* :func:`ratings` -- a MovieLens-like ratings set: users and items with Zipf-distributed
  activity, ratings ``1..5`` from a low-rank model plus noise;
* :func:`documents` -- bag-of-words documents from two "sources" drawing words from a
  Zipf vocabulary in different orders (a shared core of frequent words), labelled by
  source, as a CSR matrix of counts.

Each problem has a compiled (``nogil``) per-example step for
:func:`fastopt.parallel.hogwild` that applies fastopt's numba Adagrad row kernel, and a
full-data loss.
"""
import numba
import numpy as np

from fastopt.backends.numba.adagrad import adagrad_element, adagrad_serial

_njit = numba.njit(nogil=True, error_model="numpy", boundscheck=False, fastmath=False,
                   cache=True)


def _zipf_probabilities(n, s=1.05):
    p = 1.0 / np.arange(1, n + 1) ** s
    return p / p.sum()


# ------------------------------------------------------------------ matrix factorization

class Ratings:
    """``user``, ``item`` (int32) and ``rating`` (float32) of ``n`` ratings."""

    def __init__(self, n_users, n_items, user, item, rating):
        self.n_users, self.n_items = n_users, n_items
        self.user, self.item, self.rating = user, item, rating

    def __len__(self):
        return self.rating.size


def ratings(n_users=2000, n_items=1000, n_ratings=200_000, rank=8, seed=0):
    """A generated ratings set (see the module docstring)."""
    rng = np.random.default_rng(seed)
    user = rng.choice(n_users, n_ratings, p=_zipf_probabilities(n_users, 0.8)).astype(np.int32)
    item = rng.choice(n_items, n_ratings, p=_zipf_probabilities(n_items, 0.9)).astype(np.int32)
    u = rng.standard_normal((n_users, rank)) / np.sqrt(rank)
    v = rng.standard_normal((n_items, rank))
    score = np.einsum("ij,ij->i", u[user], v[item]) + 3.5 + 0.3 * rng.standard_normal(n_ratings)
    rating = np.clip(np.rint(score), 1, 5).astype(np.float32)
    return Ratings(n_users, n_items, user, item, rating)


class MatrixFactorization:
    """``rating ~ p_u . q_i + b_u + c_i + mu``: user rows ``[p_u, b_u]`` and item rows
    ``[q_i, c_i]`` (float32, ``dim + 1`` wide), each with its Adagrad accumulator."""

    def __init__(self, data, dim=16, lr=0.05, seed=0):
        rng = np.random.default_rng(seed)
        self.data, self.dim = data, dim
        self.mu = np.float32(data.rating.mean())
        self.users = (0.1 * rng.standard_normal((data.n_users, dim + 1))).astype(np.float32)
        self.items = (0.1 * rng.standard_normal((data.n_items, dim + 1))).astype(np.float32)
        self.users[:, -1] = 0
        self.items[:, -1] = 0
        self.users_sum = np.full_like(self.users, 1e-2)
        self.items_sum = np.full_like(self.items, 1e-2)
        self.lr = float(np.float32(lr))

    def args(self):
        d = self.data
        return (self.users, self.items, self.users_sum, self.items_sum, d.user, d.item,
                d.rating, self.mu, self.lr)

    def loss(self):
        """Mean of ``(prediction - rating)^2 / 2`` over the data set (double)."""
        d = self.data
        p = self.users[d.user].astype(np.float64)
        q = self.items[d.item].astype(np.float64)
        pred = np.einsum("ij,ij->i", p[:, :-1], q[:, :-1]) + p[:, -1] + q[:, -1] + self.mu
        return float(np.mean(0.5 * (pred - d.rating) ** 2))

    def state(self):
        return [self.users, self.items, self.users_sum, self.items_sum]


@_njit
def mf_step(batch, users, items, users_sum, items_sum, user, item, rating, mu, lr):
    """One Adagrad step per rating of ``batch`` on its user row and item row; returns the
    sum of the squared errors / 2 before the updates.  The gradient scratch is allocated
    per call: each thread has its own (run it with a ``batch_size`` of tens or more)."""
    d = users.shape[1] - 1
    gu = np.empty(d + 1, users.dtype)
    gi = np.empty(d + 1, users.dtype)
    loss = 0.0
    for e in batch:
        u, i = user[e], item[e]
        p, q = users[u], items[i]
        pred = mu + p[d] + q[d]
        for k in range(d):
            pred += p[k] * q[k]
        err = pred - rating[e]
        loss += 0.5 * np.float64(err) * np.float64(err)
        for k in range(d):
            gu[k] = err * q[k]
            gi[k] = err * p[k]
        gu[d] = err
        gi[d] = err
        adagrad_serial(p, gu, users_sum[u], lr, 0.0, 1e-10, False)
        adagrad_serial(q, gi, items_sum[i], lr, 0.0, 1e-10, False)
    return loss


# ------------------------------------------------------- sparse logistic regression

class Documents:
    """A CSR bag of words: document ``k`` has the words ``indices[indptr[k]:indptr[k+1]]``
    with counts ``counts[...]``; ``labels[k]`` in {0, 1} is its source."""

    def __init__(self, n_words, indptr, indices, counts, labels):
        self.n_words = n_words
        self.indptr, self.indices, self.counts, self.labels = indptr, indices, counts, labels

    def __len__(self):
        return self.labels.size


def documents(n_docs=20_000, n_words=20_000, mean_length=60, shared=200, seed=0):
    """Generated documents from two sources (see the module docstring)."""
    rng = np.random.default_rng(seed)
    p = _zipf_probabilities(n_words)
    orders = [np.arange(n_words)]
    tail = rng.permutation(np.arange(shared, n_words)) if n_words > shared else np.arange(0)
    orders.append(np.concatenate([np.arange(shared), tail]))
    labels = rng.integers(0, 2, n_docs)
    lengths = np.maximum(2, rng.poisson(mean_length, n_docs))
    doc = np.repeat(np.arange(n_docs), lengths)
    position = np.arange(doc.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    mixed = rng.random(n_docs) < 0.1  # these borrow half their words from the other source
    source = labels[doc] ^ (mixed[doc] & (position < lengths[doc] // 2))
    ranks = rng.choice(n_words, doc.size, p=p)
    words = np.where(source == 0, orders[0][ranks], orders[1][ranks])
    keys, counts = np.unique(doc.astype(np.int64) * n_words + words, return_counts=True)
    indptr = np.searchsorted(keys // n_words, np.arange(n_docs + 1)).astype(np.int64)
    return Documents(n_words, indptr, (keys % n_words).astype(np.int32),
                     counts.astype(np.float32), labels.astype(np.float32))


class LogisticRegression:
    """``P(label = 1) = sigmoid(w . x + b)`` with per-coordinate Adagrad; ``w[n_words]`` is
    the bias (its feature is always 1)."""

    def __init__(self, data, lr=0.1):
        self.data = data
        self.w = np.zeros(data.n_words + 1, np.float32)
        self.w_sum = np.full_like(self.w, 1e-2)
        self.lr = float(np.float32(lr))

    def args(self):
        d = self.data
        return (self.w, self.w_sum, d.indptr, d.indices, d.counts, d.labels, self.lr)

    def loss(self):
        """Mean log-loss over the documents (double)."""
        d = self.data
        w = self.w.astype(np.float64)
        z = np.add.reduceat(w[d.indices] * d.counts, d.indptr[:-1]) + w[-1]
        return float(np.mean(np.logaddexp(0.0, z) - d.labels * z))

    def state(self):
        return [self.w, self.w_sum]


@_njit
def logistic_step(batch, w, w_sum, indptr, indices, counts, labels, lr):
    """One Adagrad step per document of ``batch`` on the coordinates of its words and the
    bias; returns the sum of the log-losses before the updates."""
    t = w.dtype.type
    bias = w.size - 1
    loss = 0.0
    lr_, eps = t(lr), t(1e-10)
    for e in batch:
        z = w[bias]
        for k in range(indptr[e], indptr[e + 1]):
            z += w[indices[k]] * counts[k]
        y = labels[e]
        zd = np.float64(z)
        loss += max(zd, 0.0) + np.log1p(np.exp(-abs(zd))) - np.float64(y) * zd
        err = t(1.0) / (t(1.0) + np.exp(-z)) - y
        for k in range(indptr[e], indptr[e + 1]):
            j = indices[k]
            w[j], w_sum[j] = adagrad_element(w[j], err * counts[k], w_sum[j], lr_, t(0.0), eps,
                                             False)
        w[bias], w_sum[bias] = adagrad_element(w[bias], err, w_sum[bias], lr_, t(0.0), eps,
                                               False)
    return loss


# ------------------------------------------- the same problems for the parameter server

@_njit
def _logistic_batch(batch, w, indptr, indices, counts, labels):
    """Summed log-loss of ``batch`` and its gradient as (rows, values) pairs, one per word
    occurrence plus one for the bias (duplicates are summed by the server)."""
    n = 0
    for e in batch:
        n += indptr[e + 1] - indptr[e] + 1
    rows = np.empty(n, np.int64)
    values = np.empty((n, 1), w.dtype)
    bias = w.shape[0] - 1
    loss, j = 0.0, 0
    for e in batch:
        z = w[bias, 0]
        for k in range(indptr[e], indptr[e + 1]):
            z += w[indices[k], 0] * counts[k]
        zd = np.float64(z)
        loss += max(zd, 0.0) + np.log1p(np.exp(-abs(zd))) - np.float64(labels[e]) * zd
        err = w.dtype.type(1.0) / (w.dtype.type(1.0) + np.exp(-z)) - labels[e]
        for k in range(indptr[e], indptr[e + 1]):
            rows[j] = indices[k]
            values[j, 0] = err * counts[k]
            j += 1
        rows[j] = bias
        values[j, 0] = err
        j += 1
    return loss, rows, values


class SparseLogisticProblem:
    """Sparse logistic regression on :func:`documents` for the parameter server: one table
    ``"w"`` of shape ``(n_words + 1, 1)`` (the last row is the bias); each batch pulls and
    pushes only the rows of its words."""

    def __init__(self, data):
        self.data = data
        self.n_examples = len(data)

    def initial(self):
        return {"w": np.zeros((self.data.n_words + 1, 1), np.float32)}

    def rows(self, batch):
        d = self.data
        words = [d.indices[d.indptr[e]:d.indptr[e + 1]] for e in batch]
        return {"w": np.concatenate(words + [np.array([d.n_words], np.int32)])}

    def gradient(self, batch, params):
        from fastopt import SparseGrad
        d = self.data
        loss, rows, values = _logistic_batch(np.asarray(batch, np.int64), params["w"],
                                             d.indptr, d.indices, d.counts, d.labels)
        return loss, {"w": SparseGrad(rows, values)}

    def loss(self, tables):
        d = self.data
        w = tables["w"][:, 0].astype(np.float64)
        z = np.add.reduceat(w[d.indices] * d.counts, d.indptr[:-1]) + w[-1]
        return float(np.mean(np.logaddexp(0.0, z) - d.labels * z))


class SoftmaxProblem:
    """Dense softmax regression on generated Gaussian clusters (``n_classes`` of them in
    ``n_features`` dimensions): one dense table ``"W"`` of shape
    ``(n_features + 1, n_classes)`` (the last row is the bias) -- the dense showcase."""

    def __init__(self, n_examples=20_000, n_features=64, n_classes=10, seed=0,
                 dtype=np.float64):
        rng = np.random.default_rng(seed)
        centers = rng.standard_normal((n_classes, n_features)) * 0.15
        self.y = rng.integers(0, n_classes, n_examples)
        x = centers[self.y] + rng.standard_normal((n_examples, n_features))
        self.x = np.hstack([x, np.ones((n_examples, 1))]).astype(dtype)
        self.n_examples, self.n_classes, self.dtype = n_examples, n_classes, np.dtype(dtype)

    def initial(self):
        return {"W": np.zeros((self.x.shape[1], self.n_classes), self.dtype)}

    def _loss_grad(self, idx, W):
        z = self.x[idx] @ W
        z -= z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = -logp[np.arange(len(idx)), self.y[idx]].sum()
        p = np.exp(logp)
        p[np.arange(len(idx)), self.y[idx]] -= 1
        return float(loss), (self.x[idx].T @ p).astype(self.dtype)

    def gradient(self, batch, params):
        loss, g = self._loss_grad(batch, params["W"])
        return loss, {"W": g / len(batch)}

    def loss(self, tables):
        return self._loss_grad(np.arange(self.n_examples), tables["W"])[0] / self.n_examples
