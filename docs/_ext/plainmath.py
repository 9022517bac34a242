"""Docstring math written as plain text, rendered as TeX.

fastopt's docstrings write their equations so that ``help()`` reads well: Unicode
symbols (θ ← θ − η·g, √(1 − β_2^t), v̂), one equation per line, and an optional
condition after two or more spaces in parentheses::

    .. math::

        g ← g + λθ                  (if λ ≠ 0)
        θ ← θ − η/(1 − β_1^t) · m/d

This extension turns the lines of every ``.. math::`` block of a docstring into TeX
for MathJax (``\\leftarrow``, ``\\sqrt{...}``, ``\\hat{v}``, ``\\text{...}``, one
aligned equation per line).  Blocks that already contain a backslash are TeX and left
alone.
"""
import re

_SYMBOLS = [
    ("v̂", r"\hat{v}"), ("ḡ", r"\bar{g}"), ("η̃", r"\tilde{\eta}"), ("θ̃", r"\tilde{\theta}"),
    ("w̃", r"\tilde{w}"), ("b̃", r"\tilde{b}"), ("x̂", r"\hat{x}"), ("m̂", r"\hat{m}"),
    ("g̃", r"\tilde{g}"), ("x̃", r"\tilde{x}"), ("θ̄", r"\bar{\theta}"), ("β̂", r"\hat{\beta}"),
    ("‖", r"\| "),
    ("←", r"\leftarrow "), ("·", r"\cdot "), ("≠", r"\ne "), ("≤", r"\le "), ("≥", r"\ge "),
    ("−", "-"), ("∈", r"\in "), ("∞", r"\infty "), ("Σ", r"\sum "), ("Π", r"\Pi "),
    ("⌊", r"\lfloor "), ("⌋", r"\rfloor "), ("∘", r"\circ "), ("∼", r"\sim "), ("×", r"\times "),
    ("…", r"\ldots "), ("²", "^2"),
]
_FUNCTIONS = ("max", "min", "log", "exp", "cos", "sin")
_OPERATORS = ("sign", "clip", "prox", "mean", "var", "Bernoulli")


def _matching(text, start):
    """Index of the parenthesis closing the one at ``start``."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    return len(text) - 1


def _roots(text):
    out, i = [], 0
    while i < len(text):
        if text[i] == "√":
            if i + 1 < len(text) and text[i + 1] == "(":
                end = _matching(text, i + 1)
                out.append(r"\sqrt{" + _roots(text[i + 2:end]) + "}")
                i = end + 1
                continue
            m = re.match(r"[^\s()+\-−/·*,]+", text[i + 1:])
            if m:
                out.append(r"\sqrt{" + m.group(0) + "}")
                i += 1 + m.end()
                continue
        out.append(text[i])
        i += 1
    return "".join(out)


def tex(line):
    """One plain-text equation line as TeX."""
    condition = None
    m = re.match(r"^(.*?\S)\s{2,}\((.*)\)\s*$", line)
    if m:
        line, condition = m.group(1), m.group(2)
    line = _roots(line)
    for a, b in _SYMBOLS:
        line = line.replace(a, b)
    line = re.sub(r"\^\(([^()]*)\)", r"^{\1}", line)
    line = re.sub(r"_\(([^()]*)\)", r"_{\1}", line)
    line = re.sub(r"([_^])([A-Za-z0-9]{2,})", r"\1{\2}", line)
    for f in _FUNCTIONS:
        line = re.sub(r"(?<![\\A-Za-z])%s(?=\()" % f, "\\\\" + f, line)
    for f in _OPERATORS:
        line = re.sub(r"(?<![\\A-Za-z])%s(?=[(_])" % f, r"\\operatorname{%s}" % f, line)
    line = re.sub(r"\b(if|and|or|else|otherwise|for|with)\b", r"\\text{ \1 }", line)
    if condition is not None:
        line += r" \qquad \text{(" + condition.replace("\\", "") + ")}"
    return line


def convert_block(body):
    """The lines of one math block (without indentation) -> TeX lines."""
    if any("\\" in line for line in body):
        return body
    equations = []
    for line in body:
        if not line.strip():
            continue
        if line.startswith((" ", "\t")) and equations:   # continuation of the equation above
            equations[-1] += " " + line.strip()
        else:
            equations.append(line.strip())
    out = []
    for k, eq in enumerate(equations):
        if k:
            out.append("")
        out.append(("& " if len(equations) > 1 else "") + tex(eq))
    return out


def process_docstring(app, what, name, obj, options, lines):
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)\.\. math::\s*$", lines[i])
        if not m:
            i += 1
            continue
        indent = len(m.group(1))
        j = i + 1
        while j < len(lines) and (not lines[j].strip() or
                                  len(lines[j]) - len(lines[j].lstrip()) > indent):
            j += 1
        while j > i + 1 and not lines[j - 1].strip():
            j -= 1
        start = i + 1
        while start < j and not lines[start].strip():
            start += 1
        block = lines[start:j]
        body = [l for l in block if l.strip()]
        if body:
            inner = min(len(l) - len(l.lstrip()) for l in body)
            new = convert_block([l[inner:] if l.strip() else "" for l in block])
            lines[i + 1:j] = [""] + [(" " * inner + l) if l else "" for l in new]
            j = i + 2 + len(new)
        i = j


def setup(app):
    app.connect("autodoc-process-docstring", process_docstring)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
