"""``python -m bench.glove``: GloVe training speed and cost curves (issue #6).

Trains GloVe word vectors on a corpus with :mod:`fastopt.embeddings.glove` (1 thread and all
cores), with a plain NumPy mini-batch implementation of the same objective and
update, and -- when ``--glove-c`` names a build of GloVe's own ``glove`` program --
with the reference C implementation on the same shuffled records.  The runs are
interleaved: one epoch of each per round, the order rotated every round (GloVe's C
program is paused between its epochs), so every ratio compares epochs trained in
the same minutes.  Reports records per second (median over the epochs, with the
spread) and the cost after every epoch, and the ratios the issue's targets ask for.
Results go to ``bench_results/glove/`` (git-ignored); ``--publish`` writes
``bench/results/glove.json`` and ``glove.md`` from a clean tree, and with
``--readme`` refreshes the block between ``<!-- glove:start -->`` and
``<!-- glove:end -->`` in README.md.

Memory: the shuffled records (16 bytes each: 0.8 GB for the 49M records of the
20M-token corpus), the weights computed from them once per run (8 bytes each),
and while the trainer prepares an epoch another 8 bytes each; counting the corpus
(the first run only: it is cached) needs more.  The run records its peak resident
memory (``peak_rss_bytes`` in glove.json).

Corpus: ``--corpus PATH``, else ``bench/data/corpus.txt`` when present (built by
``python -m bench.glove.corpus``), else a generated Zipf corpus (``--quick`` always uses a
small generated one).  Vocabulary and co-occurrence records are cached in
``bench/data/glove-cache/`` (GloVe's ``vocab.txt`` and binary formats).
"""
import argparse
import hashlib
import json
import os
import resource
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from fastopt.embeddings import glove

from ..harness import load, machine, memory

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # bench/
DATA = os.path.join(HERE, "data")
RESULTS = os.path.join(HERE, "results")
README = os.path.join(os.path.dirname(HERE), "README.md")


# ----------------------------------------------------------------------------- corpus

def generated_corpus(n_tokens, vocab_size=20000, seed=0, line_tokens=500):
    """Lines of Zipf-distributed words (``w<rank>``): a stand-in when no corpus is
    built.  Its co-occurrences are random, so the vectors mean nothing."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, vocab_size + 1)
    tokens = rng.choice(vocab_size, size=n_tokens, p=p / p.sum())
    words = np.array([f"w{i}" for i in range(vocab_size)])
    return [" ".join(words[tokens[k:k + line_tokens]])
            for k in range(0, n_tokens, line_tokens)]


def records_for(corpus, *, window, min_count, cache=True, log=print):
    """``(vocab, records, info)`` for ``corpus`` (a path or lines), cached by content."""
    info = {}
    key = None
    if cache and isinstance(corpus, str):
        st = os.stat(corpus)
        key = hashlib.sha1(f"{os.path.abspath(corpus)}:{st.st_size}:{st.st_mtime_ns}:"
                           f"{window}:{min_count}".encode()).hexdigest()[:16]
        folder = os.path.join(DATA, "glove-cache")
        vocab_path = os.path.join(folder, f"{key}.vocab.txt")
        records_path = os.path.join(folder, f"{key}.cooc.bin")
        meta_path = os.path.join(folder, f"{key}.json")
        if all(os.path.exists(p) for p in (vocab_path, records_path, meta_path)):
            with open(meta_path) as f:
                info = json.load(f)
            info["cached"] = True
            return glove.Vocabulary.load(vocab_path), glove.read_cooccurrence(records_path), info
    t0 = time.perf_counter()
    vocab = glove.Vocabulary.from_corpus(corpus, min_count=min_count)
    ids, starts = vocab.encode(corpus)
    t1 = time.perf_counter()
    records = glove.cooccurrence((ids, starts), vocab, window=window)
    t2 = time.perf_counter()
    lines = corpus if not isinstance(corpus, str) else None
    n_tokens = (sum(len(line.split()) for line in lines) if lines is not None
                else _count_tokens(corpus))
    info = dict(tokens=n_tokens, tokens_in_vocab=int(ids.size), lines=int(starts.size - 1),
                vocab=len(vocab), records=len(records), vocab_s=t1 - t0, cooccur_s=t2 - t1,
                cached=False)
    log(f"corpus: {n_tokens:,} tokens, vocabulary {len(vocab):,} (min count {min_count}), "
        f"{len(records):,} records (window {window}); counted in {t1 - t0:.1f} + "
        f"{t2 - t1:.1f} s")
    if key is not None:
        os.makedirs(folder, exist_ok=True)
        vocab.save(vocab_path)
        records.save(records_path)
        with open(meta_path, "w") as f:
            json.dump(info, f)
    return vocab, records, info


# ------------------------------------------------------------------------- counting

REPO = os.path.dirname(HERE)


def _peak_of(pid):
    """``VmHWM`` of a running process (its peak resident memory so far), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _run_measured(cmd, stdin=None, stdout=None):
    """Run ``cmd`` to its end: ``(wall seconds, peak resident bytes of that process, its
    standard output)``; raises if it fails.

    The peak is the child's own ``VmHWM``, read from /proc every 10 ms while it runs:
    ``wait4``'s ``ru_maxrss`` of a child started from this (large) process includes this
    process's resident memory at the fork (Linux keeps the larger of the pre- and
    post-exec images), which made a 0.5 GiB ``cooccur`` read as 1.6 GiB.  Falls back to
    ``ru_maxrss`` where /proc is unreadable."""
    with tempfile.TemporaryFile() as err, tempfile.TemporaryFile() as captured:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=stdin, stdout=stdout if stdout is not None
                                else captured, stderr=err, cwd=REPO)
        peak = None
        while proc.poll() is None:
            now = _peak_of(proc.pid)
            if now is not None:
                peak = now if peak is None else max(peak, now)
            time.sleep(0.01)
        wall = time.perf_counter() - t0
        captured.seek(0)
        out = captured.read() if stdout is None else b""
        usage_peak = None
        if proc.returncode:
            err.seek(0)
            raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}: "
                               f"{err.read().decode(errors='replace')[-2000:]}")
        if peak is None:
            usage_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return wall, peak if peak is not None else usage_peak, out.decode()


def _same_records(path_a, path_b, chunk=1 << 22):
    """``(identical pairs, largest relative difference of the counts)`` of two files in
    GloVe's binary format (compared a chunk at a time)."""
    size = os.path.getsize(path_a)
    if size != os.path.getsize(path_b) or size % glove.RECORD_DTYPE.itemsize:
        return False, float("nan")
    if size == 0:
        return True, 0.0
    a = np.memmap(path_a, glove.RECORD_DTYPE, "r")
    b = np.memmap(path_b, glove.RECORD_DTYPE, "r")
    worst = 0.0
    for lo in range(0, a.size, chunk):
        x, y = a[lo:lo + chunk], b[lo:lo + chunk]
        if not (np.array_equal(x["word1"], y["word1"]) and np.array_equal(x["word2"], y["word2"])):
            return False, float("nan")
        if x.size:
            worst = max(worst, float(np.max(np.abs(x["count"] / y["count"] - 1))))
    return True, worst


def count_comparison(corpus_path, vocab, cooccur, *, window, memory_mb, rounds, log=print):
    """Co-occurrence counting: fastopt (:mod:`bench.glove.count`: ``glove.cooccurrence`` with
    ``memory_mb``, records written to a file) against GloVe's ``cooccur`` (``-memory`` the same
    budget in GB), on the same corpus file, vocabulary and window, each in a process of its
    own, ``rounds`` rounds in alternating order.  Returns per-run wall times, peak resident
    memory (each process's own) and whether the two record files agree."""
    runs = {"fastopt": [], "cooccur": []}
    with tempfile.TemporaryDirectory(prefix="fastopt-count-") as tmp:
        vocab_path = os.path.join(tmp, "vocab.txt")
        vocab.save(vocab_path)
        outs = {name: os.path.join(tmp, f"{name}.bin") for name in runs}
        for r in range(rounds):
            for name in (["fastopt", "cooccur"] if r % 2 == 0 else ["cooccur", "fastopt"]):
                if name == "fastopt":
                    wall, peak, out = _run_measured(
                        [sys.executable, "-m", "bench.glove.count", corpus_path, vocab_path,
                         outs[name], "--window", str(window), "--memory-mb", str(memory_mb)])
                    got = json.loads(out.strip().splitlines()[-1])
                    seconds = got["seconds"]
                else:
                    with open(corpus_path, "rb") as fin, open(outs[name], "wb") as fout:
                        wall, peak, _ = _run_measured(
                            [cooccur, "-verbose", "0", "-symmetric", "1", "-window-size",
                             str(window), "-vocab-file", vocab_path, "-memory",
                             str(memory_mb / 1024), "-overflow-file",
                             os.path.join(tmp, "overflow")], stdin=fin, stdout=fout)
                    seconds = wall
                runs[name].append(dict(seconds=seconds, process_seconds=wall, peak_rss_bytes=peak))
                log(f"  counting round {r + 1}: {name} {seconds:.1f} s (process {wall:.1f} s), "
                    f"peak {peak / 2 ** 30:.2f} GiB")
        same, worst = _same_records(outs["fastopt"], outs["cooccur"])
        records = os.path.getsize(outs["fastopt"]) // glove.RECORD_DTYPE.itemsize
    log(f"  counting: {'the same' if same else 'DIFFERENT'} records ({records:,}), counts "
        f"within {worst:.1e} (relative)")
    return dict(runs=runs, memory_mb=memory_mb, window=window, same_pairs=same,
                worst_relative_count_difference=worst, records=records)


def _count_tokens(path):
    n = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            n += len(line.split())
    return n


# -------------------------------------------------------------------- NumPy mini-batch

def numpy_epoch(model, word1, word2, log_count, weight, batch):
    """One epoch of the same objective and Adagrad update in plain NumPy, ``batch``
    records at a time: gather the rows, compute the batch's gradients, sum those of
    repeated rows (sort + ``np.add.reduceat``), update the distinct rows.  Returns
    the mean cost (each batch's cost taken before its update)."""
    W, C, SW, SC = model.weights, model.context, model.weights_sum, model.context_sum
    t = W.dtype.type
    eps = t(model.eps)
    cost = 0.0
    for lo in range(0, word1.size, batch):
        i, j = word1[lo:lo + batch], word2[lo:lo + batch]
        w, c = W[i], C[j]
        diff = np.einsum("ij,ij->i", w[:, :-1], c[:, :-1]) + w[:, -1] + c[:, -1] \
            - log_count[lo:lo + batch]
        fdiff = weight[lo:lo + batch] * diff
        cost += float(np.dot(fdiff.astype(np.float64), diff.astype(np.float64))) * 0.5
        for rows, other, table, state in ((i, c, W, SW), (j, w, C, SC)):
            grad = fdiff[:, None] * other
            grad[:, -1] = fdiff
            order = np.argsort(rows, kind="stable")
            sorted_rows = rows[order]
            starts = np.flatnonzero(np.r_[True, sorted_rows[1:] != sorted_rows[:-1]])
            g = np.add.reduceat(grad[order], starts, axis=0)
            r = sorted_rows[starts]
            s = state[r] + g * g
            state[r] = s
            table[r] -= g / (np.sqrt(s) + eps)
    return cost / max(word1.size, 1)


# ------------------------------------------------------------------- word similarity

def _ranks(x):
    """Ranks from 0, ties given their average rank."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts
    return (first + (counts - 1) / 2)[inverse]


def spearman(a, b):
    ra, rb = _ranks(np.asarray(a, float)), _ranks(np.asarray(b, float))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return float(ra @ rb / np.sqrt((ra @ ra) * (rb @ rb)))


def word_similarity(vectors, vocab, log=print):
    """Spearman correlation between cosine similarities and human ratings, for every
    rated word-pair list found offline (see :func:`bench.glove.corpus.word_similarity_pairs`);
    pairs with a word outside the vocabulary are left out (and counted)."""
    from . import corpus

    out = {}
    norms = np.linalg.norm(vectors, axis=1)
    for name in ("wordsim353", "simlex999"):
        pairs = corpus.word_similarity_pairs(name)
        if not pairs:
            continue
        kept = [(vocab.index[a], vocab.index[b], s) for a, b, s in pairs
                if a in vocab.index and b in vocab.index]
        if len(kept) < 10:
            continue
        i, j, human = (np.array(x) for x in zip(*kept))
        cos = np.einsum("ij,ij->i", vectors[i], vectors[j]) / (norms[i] * norms[j])
        out[name] = dict(spearman=spearman(cos, human), pairs=len(kept), total=len(pairs))
    return out


# --------------------------------------------------------------------------- runners
#
# Every competitor is a generator: each ``next()`` trains one more epoch and yields
# ``dict(epoch, cost, seconds, records_per_s)``.  :func:`interleave` runs them round-robin,
# one epoch each per round, in an order rotated every round, so that every ratio compares
# epochs run in the same minutes, under the same load.

def _epoch(e, cost, seconds, n):
    return dict(epoch=e, cost=cost, seconds=seconds, records_per_s=n / seconds)


def fastopt_epochs(model, shuffled, *, epochs, n_threads, progress):
    """fastopt's trainer, one ``fit(epochs=1)`` per epoch on the same model (its vectors and
    Adagrad sums carry over; ``seconds`` is the training loop alone, as ``fit`` reports it)."""
    for e in range(epochs):
        got = []
        model.fit(shuffled, epochs=1, n_threads=n_threads, shuffle=False, progress=progress,
                  callback=lambda _, c, sec: got.append((c, sec)))
        yield _epoch(e + 1, got[0][0], got[0][1], len(shuffled))


def numpy_epochs(model, shuffled, *, epochs, batch, max_seconds):
    """The NumPy mini-batch version; stops early once it has trained ``max_seconds``."""
    log_count, weight = model._prepare(shuffled)
    spent = 0.0
    for e in range(epochs):
        t0 = time.perf_counter()
        cost = numpy_epoch(model, shuffled.word1, shuffled.word2, log_count, weight, batch)
        s = time.perf_counter() - t0
        spent += s
        yield _epoch(e + 1, cost, s, len(shuffled))
        if spent > max_seconds:
            return


def glove_c_epochs(binary, vocab, shuffled, *, dim, epochs, n_threads):
    """GloVe's own ``glove`` program (float64, its defaults: eta 0.05, x_max 100, alpha 0.75)
    on the same shuffled records, one process for all epochs, paused (SIGSTOP) when it prints
    an epoch's ``iter: NNN, cost: X`` line and resumed (SIGCONT) at its next turn: an epoch's
    time runs from the resume (from the end of its set-up for the first) to its line."""
    with tempfile.TemporaryDirectory(prefix="fastopt-glove-") as tmp:
        rec_path = os.path.join(tmp, "cooccurrence.shuf.bin")
        shuffled.save(rec_path)
        vocab_path = os.path.join(tmp, "vocab.txt")
        vocab.save(vocab_path)
        cmd = [binary, "-input-file", rec_path, "-vocab-file", vocab_path, "-threads",
               str(n_threads), "-iter", str(epochs), "-vector-size", str(dim), "-eta", "0.05",
               "-x-max", "100", "-alpha", "0.75", "-binary", "1", "-verbose", "2",
               "-save-file", os.path.join(tmp, "vectors")]
        proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                text=True, cwd=tmp)
        try:
            last = None
            for line in proc.stderr:
                now = time.perf_counter()
                m = re.search(r"iter:\s*(\d+),\s*cost:\s*([0-9.eE+-]+)", line)
                if m and last is not None:
                    proc.send_signal(signal.SIGSTOP)
                    yield _epoch(int(m.group(1)), float(m.group(2)), now - last, len(shuffled))
                    proc.send_signal(signal.SIGCONT)
                    last = time.perf_counter()
                elif "alpha" in line or "Read" in line:
                    last = now  # the first epoch starts after the set-up lines
            if proc.wait():
                raise RuntimeError(f"{binary} exited with {proc.returncode}")
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
                proc.kill()
                proc.wait()


def interleave(competitors, log=print):
    """``{name: [epoch dicts]}``: one epoch of each competitor per round, the order rotated
    by one place every round; a competitor drops out when its generator ends."""
    live = dict(competitors)
    out = {name: [] for name in live}
    r = 0
    while live:
        names = list(live)
        k = r % len(names)
        for name in names[k:] + names[:k]:
            try:
                e = next(live[name])
            except StopIteration:
                del live[name]
                continue
            out[name].append(e)
            log(f"  round {r + 1}: {name} epoch {e['epoch']}: cost {e['cost']:.6f}, "
                f"{e['records_per_s'] / 1e6:.3f}M records/s")
        r += 1
    return out


# ---------------------------------------------------------------------------- report

def median_rate(epochs):
    """Median records/s over a run's epochs (nan for no epoch)."""
    return statistics.median(e["records_per_s"] for e in epochs) if epochs else float("nan")


def summary(results):
    """The figures the issue's targets ask for, as ``(label, value, target, ok)``, from the
    median epoch of each run (its epochs interleaved with the other runs')."""
    runs, rows = results["runs"], []
    one = median_rate(runs.get("fastopt-1", []))
    cores = results["threads"]
    many = median_rate(runs.get(f"fastopt-{cores}", [])) if cores > 1 else float("nan")
    rows.append(("records/s, 1 thread", f"{one / 1e6:.2f}M", ">= 2M", one >= 2e6))
    if cores > 1:
        rows.append((f"{cores} threads / 1 thread", f"{many / one:.2f}x", ">= 1.9x",
                     many / one >= 1.9))
    if runs.get("numpy"):
        x = one / median_rate(runs["numpy"])
        rows.append(("fastopt 1 thread / NumPy mini-batch", f"{x:.1f}x", ">= 10x", x >= 10))
    for t in (1, cores):
        c_runs = runs.get(f"glove-c-{t}")
        if c_runs:
            mine = median_rate(runs.get(f"fastopt-{t}", []))
            rows.append((f"fastopt / GloVe C, {t} thread{'s' * (t > 1)}",
                         f"{mine / median_rate(c_runs):.2f}x", "> 1x",
                         mine > median_rate(c_runs)))
    counting = results.get("counting")
    if counting:
        mine = statistics.median(r["seconds"] for r in counting["runs"]["fastopt"])
        theirs = statistics.median(r["seconds"] for r in counting["runs"]["cooccur"])
        peak = max(r["peak_rss_bytes"] for r in counting["runs"]["fastopt"])
        rows.append(("counting time / GloVe cooccur", f"{mine / theirs:.2f}x ({mine:.1f} s vs "
                     f"{theirs:.1f} s)", "<= 1x", mine <= theirs))
        rows.append((f"counting peak memory (memory_mb {counting['memory_mb']:g})",
                     f"{peak / 2 ** 30:.2f} GiB", "<= 2 GiB", peak <= 2 * 2 ** 30))
    c1 = runs.get("glove-c-1")
    if c1 and runs.get("fastopt-1"):
        worst = max(abs(a["cost"] / b["cost"] - 1)
                    for a, b in zip(runs["fastopt-1"], c1))
        rows.append(("cost vs GloVe C, worst epoch", f"{100 * worst:.2f}%", "~1%",
                     worst <= 0.01))
    return rows


def markdown(results):
    info = results["corpus"]
    lines = [f"Corpus: {info['name']}: {info['tokens']:,} tokens, vocabulary "
             f"{info['vocab']:,} (min count {results['min_count']}), {info['records']:,} "
             f"co-occurrence records (window {results['window']}); d = {results['dim']}, "
             f"{results['dtype']}; {results['machine']}.", ""]
    for why in results.get("unreliable") or []:
        lines += [f"UNRELIABLE: the machine was busy: {why}.", ""]
    lines += ["| target | measured | wanted | |", "|---|---:|---:|---|"]
    for label, value, want, ok in summary(results):
        lines.append(f"| {label} | {value} | {want} | {'ok' if ok else 'MISS'} |")
    counting = results.get("counting")
    if counting:
        f, c = counting["runs"]["fastopt"], counting["runs"]["cooccur"]
        med = lambda runs, key: statistics.median(r[key] for r in runs)  # noqa: E731
        lines += ["", f"Counting (window {counting['window']}, memory budget "
                  f"{counting['memory_mb']:g} MiB for both, median of {len(f)} alternating "
                  f"runs): fastopt {med(f, 'seconds'):.1f} s (`glove.cooccurrence` on the corpus "
                  f"file and writing the records; the whole process {med(f, 'process_seconds'):.1f} s), "
                  f"peak {max(r['peak_rss_bytes'] for r in f) / 2 ** 30:.2f} GiB; GloVe's "
                  f"`cooccur` {med(c, 'seconds'):.1f} s, peak "
                  f"{max(r['peak_rss_bytes'] for r in c) / 2 ** 30:.2f} GiB; "
                  f"{counting['records']:,} records, "
                  + ("the same pairs in both, counts within "
                     f"{counting['worst_relative_count_difference']:.1e} (relative)."
                     if counting["same_pairs"] else "the two record files DIFFER.")]
    lines += ["", "| run | " + " | ".join(f"epoch {e + 1}" for e in range(results["epochs"]))
              + " | records/s: median epoch (min-max) |",
              "|---|" + "---:|" * (results["epochs"] + 1)]
    for name, epochs in results["runs"].items():
        costs = [f"{e['cost']:.5f}" for e in epochs]
        costs += [""] * (results["epochs"] - len(costs))
        rates = [e["records_per_s"] / 1e6 for e in epochs] or [float("nan")]
        lines.append(f"| {name} | " + " | ".join(costs) + f" | {median_rate(epochs) / 1e6:.2f}M "
                     f"({min(rates):.2f}-{max(rates):.2f}M) |")
    if results.get("interleaved"):
        lines += ["", "Runs interleaved: one epoch of each per round, the order rotated every "
                  "round; speeds are medians over the epochs."]
    else:
        lines += ["", "Runs one after another (not interleaved); speeds are medians over the "
                  "epochs."]
    git = results.get("git")
    if git:
        lines.append(f"Command: `{results.get('command')}`; git {git.get('commit')} "
                     f"({'DIRTY tree' if git.get('dirty') else 'clean tree'}); peak memory "
                     f"{results.get('peak_rss_bytes', 0) / 2 ** 30:.1f} GiB.")
    similarity = [(run, name, r) for run, found in results.get("similarity", {}).items()
                  for name, r in found.items()]
    if similarity:
        lines.append("")
    for run, name, r in similarity:
        lines.append(f"- word similarity, {run} after {results['epochs']} epochs: Spearman "
                     f"{r['spearman']:.3f} on {name} ({r['pairs']} of {r['total']} pairs "
                     f"in the vocabulary)")
    lines += ["", "(cost: the mean over records of ½·f(x)·(w·w̃ + b + b̃ − log x)², before each "
              "record's update, as GloVe prints it.)"]
    return "\n".join(lines)


def readme_section(path=README):
    """The README's text between the glove markers (None without them)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    start, end = "<!-- glove:start -->", "<!-- glove:end -->"
    if start not in text or end not in text:
        return None
    return text.split(start, 1)[1].split(end, 1)[0].strip("\n")


def rerender(folder, readme=False):
    """Rewrite ``glove.md`` (and the README block) from ``glove.json`` in ``folder``."""
    with open(os.path.join(folder, "glove.json")) as f:
        results = json.load(f)
    text = markdown(results)
    with open(os.path.join(folder, "glove.md"), "w") as f:
        f.write(text + "\n")
    if readme:
        refresh_readme(text)
    print(text)
    return results


def _git_commit():
    return machine._git("rev-parse", "HEAD")


def refresh_readme(text, path=README):
    with open(path, encoding="utf-8") as f:
        readme = f.read()
    start, end = "<!-- glove:start -->", "<!-- glove:end -->"
    if start not in readme or end not in readme:
        return False
    head, rest = readme.split(start, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + start + "\n" + text + "\n" + end + tail)
    return True


# ------------------------------------------------------------------------------ main

def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m bench.glove", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small generated corpus, 2 epochs")
    ap.add_argument("--corpus", help="a text corpus (default: bench/data/corpus.txt if present)")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--numpy-epochs", type=int, default=None)
    ap.add_argument("--numpy-batch", type=int, default=4096)
    ap.add_argument("--dim", type=int, default=50)
    ap.add_argument("--window", type=int, default=15)
    ap.add_argument("--min-count", type=int, default=5)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="the 'all cores' thread count (default: every CPU)")
    ap.add_argument("--glove-c", help="GloVe's own glove binary, to compare with (and its "
                    "cooccur, from the same folder, for the counting)")
    ap.add_argument("--count-rounds", type=int, default=None,
                    help="counting runs of each (fastopt, cooccur), alternating "
                         "(default 3, --quick 1)")
    ap.add_argument("--count-memory-mb", type=float, default=glove.DEFAULT_MEMORY_MB,
                    help="the counting's memory budget, both fastopt's memory_mb and "
                         "cooccur's -memory (default %(default)s)")
    ap.add_argument("--out", default=None,
                    help="results folder (default bench_results/glove, --quick: "
                         "bench_results/quick; both git-ignored)")
    ap.add_argument("--publish", action="store_true",
                    help="write into bench/results/ (committed); refuses a dirty git tree")
    ap.add_argument("--readme", action="store_true",
                    help="with --publish: refresh the README block")
    ap.add_argument("--no-progress", action="store_true")
    ap.add_argument("--rerender", metavar="DIR",
                    help="no training: rewrite DIR/glove.md (and with --readme the README "
                         "block) from DIR/glove.json")
    args = ap.parse_args(argv)
    if args.rerender:
        return rerender(args.rerender, readme=args.readme)
    log = lambda *a: print(*a, flush=True)  # noqa: E731
    if args.publish:
        if args.quick:
            ap.error("--publish takes a full run (not --quick)")
        dirty = machine.git_dirty()
        if dirty:
            ap.error(f"refusing to publish from a dirty tree ({dirty}); commit first")

    default_corpus = os.path.join(DATA, "corpus.txt")
    if args.quick:
        corpus, name = generated_corpus(200_000, vocab_size=5000), "generated (Zipf, 200k tokens)"
    elif args.corpus or os.path.exists(default_corpus):
        corpus = args.corpus or default_corpus
        name = os.path.relpath(corpus)
    else:
        log("no corpus (python -m bench.glove.corpus builds one): using a generated one")
        corpus, name = generated_corpus(10_000_000), "generated (Zipf, 10M tokens)"
    epochs = args.epochs or (2 if args.quick else 5)
    numpy_epochs_wanted = args.numpy_epochs or (1 if args.quick else 2)
    vocab, records, info = records_for(corpus, window=args.window, min_count=args.min_count,
                                       log=log)
    info["name"] = name
    counting = None
    cooccur = args.glove_c and os.path.join(os.path.dirname(os.path.abspath(args.glove_c)),
                                            "cooccur")
    if cooccur and not os.path.exists(cooccur):
        log(f"no {cooccur}: the counting is not compared")
    elif cooccur:
        rounds = args.count_rounds or (1 if args.quick else 3)
        log(f"counting: fastopt against {cooccur}, {rounds} round(s)")
        with tempfile.TemporaryDirectory(prefix="fastopt-corpus-") as tmp:
            path = corpus
            if not isinstance(corpus, str):
                path = os.path.join(tmp, "corpus.txt")
                with open(path, "w", encoding="utf-8") as f:
                    f.writelines(line + "\n" for line in corpus)
            counting = count_comparison(path, vocab, cooccur, window=args.window,
                                        memory_mb=args.count_memory_mb, rounds=rounds, log=log)
    order = np.random.default_rng(0).permutation(len(records))
    shuffled = glove.Cooccurrence(records.word1[order], records.word2[order],
                                  records.count[order])
    del records
    git_state = machine.git_dirty()
    results = dict(corpus=info, dim=args.dim, window=args.window, min_count=args.min_count,
                   dtype=args.dtype, epochs=epochs, threads=args.threads, runs={},
                   counting=counting,
                   interleaved=True, command=" ".join(["python -m bench.glove",
                                     *(sys.argv[1:] if argv is None else argv)]),
                   git={"commit": _git_commit(),
                        "dirty": None if git_state is None else bool(git_state)},
                   machine=f"{machine.cpu_model()}, {machine.cores()[0]} usable cores")
    thread_counts = sorted({1, args.threads})
    # compile the trainer's loop before anything is timed
    warm = glove.GloVe(len(vocab), args.dim, dtype=args.dtype, seed=0)
    warm.fit(glove.Cooccurrence(shuffled.word1[:100], shuffled.word2[:100], shuffled.count[:100]),
             epochs=1, n_threads=1, shuffle=False, progress=False)
    del warm
    models, competitors = {}, []
    for t in thread_counts:
        models[t] = glove.GloVe(len(vocab), args.dim, dtype=args.dtype, seed=0)
        competitors.append((f"fastopt-{t}", fastopt_epochs(
            models[t], shuffled, epochs=epochs, n_threads=t, progress=not args.no_progress)))
    competitors.append(("numpy", numpy_epochs(
        glove.GloVe(len(vocab), args.dim, dtype=args.dtype, seed=0), shuffled,
        epochs=numpy_epochs_wanted, batch=args.numpy_batch, max_seconds=1800)))
    if args.glove_c:
        for t in thread_counts:
            competitors.append((f"glove-c-{t}", glove_c_epochs(
                args.glove_c, vocab, shuffled, dim=args.dim, epochs=epochs, n_threads=t)))
    log(f"{len(competitors)} runs interleaved epoch by epoch: "
        + ", ".join(name for name, _ in competitors))
    before = load.snapshot(0.5 if args.quick else 1.0)
    for why in load.verdict(before=before):
        log(f"WARNING: the machine is busy: {why}; the figures will be marked unreliable")
    monitor = load.Monitor().start()
    results["runs"] = interleave(competitors, log=log)
    during = monitor.stop()
    after = load.snapshot(0.5 if args.quick else 1.0)
    results["busy"] = {"before": before, "during": during, "after": after}
    results["unreliable"] = load.verdict(before=before, after=after, during=during)
    results["similarity"] = {}
    if not args.quick:
        for t, model in models.items():
            results["similarity"][f"fastopt-{t}"] = word_similarity(model.vectors(), vocab)
    results["peak_rss_bytes"] = memory.peak_bytes()
    text = markdown(results)
    print("\n" + text)
    if args.readme and not args.publish:
        ap.error("--readme needs --publish (the README shows the published results)")
    out = args.out or (RESULTS if args.publish else os.path.join(
        os.path.dirname(HERE), "bench_results", "quick" if args.quick else "glove"))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "glove.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(out, "glove.md"), "w") as f:
        f.write(text + "\n")
    if args.readme and not args.quick:
        log("README block refreshed" if refresh_readme(text) else "README has no glove block")
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
