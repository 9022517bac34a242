"""The README's and the docs' code runs and prints what the text shows; docstring examples pass.

Every ```python block of ``README.md`` and ``docs/**/*.md`` is executed, in order, in one
namespace per file (a page may build on its earlier blocks), in a temporary working
directory.  When a ```text block follows a python block (nothing but blank lines between),
it is the block's shown output: what the block prints must equal it, line for line
(trailing spaces aside).  A block that must not run here (it builds an extension, say) is
preceded by the line ``<!-- docs-test: skip -->``; each such block is listed by
:func:`test_skipped_blocks_are_few`.
"""
import contextlib
import doctest
import importlib
import io
import pathlib
import pkgutil
import re

import pytest

import fastopt

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
SKIP = "<!-- docs-test: skip -->"

_FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)


def code_blocks(text):
    """``[(language, code, line, skipped, shown_output_or_None)]`` for the fenced blocks."""
    fences = [(m.group(1), m.group(2), m.start(), m.end()) for m in _FENCE.finditer(text)]
    blocks = []
    for k, (lang, code, start, end) in enumerate(fences):
        if lang != "python":
            continue
        before = text[:start].rstrip("\n").rsplit("\n", 1)[-1].strip()
        shown = None
        if k + 1 < len(fences):
            nlang, ncode, nstart, _ = fences[k + 1]
            if nlang == "text" and not text[end:nstart].strip():
                shown = ncode
        blocks.append((lang, code, text.count("\n", 0, start) + 1, before == SKIP, shown))
    return blocks


def _pages():
    pages = [README] if README.exists() else []
    if DOCS.exists():
        pages += sorted(p for p in DOCS.rglob("*.md") if "_build" not in p.parts)
    return pages


def _normalized(text):
    return [line.rstrip() for line in text.strip("\n").splitlines()]


PAGES = [p for p in _pages() if any(not b[3] for b in code_blocks(p.read_text()))]


@pytest.fixture
def restore_backend_settings():
    """Examples may call set_backend / set_num_threads: undo that for the other tests."""
    from fastopt.backends import _dispatch
    saved = _dispatch._global_backend, _dispatch._num_threads
    yield
    fastopt.set_backend(saved[0])
    fastopt.set_num_threads(saved[1])


@pytest.mark.skipif(not README.exists(), reason="README.md not beside the tests (installed copy)")
@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_page_examples_run_and_print_what_is_shown(page, tmp_path, monkeypatch,
                                                  restore_backend_settings):
    monkeypatch.chdir(tmp_path)  # files an example saves land here
    namespace = {"__name__": "__docs_example__"}
    name = page.relative_to(ROOT).as_posix()
    for _, code, line, skipped, shown in code_blocks(page.read_text()):
        if skipped:
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"{name}:{line}", "exec"), namespace)
        if shown is not None:
            assert _normalized(out.getvalue()) == _normalized(shown), \
                f"{name}, the block at line {line} prints something else than its shown output"


def test_skipped_blocks_are_few():
    """Only blocks that cannot run inside a test process are skipped (a setup.py)."""
    skipped = [(p.relative_to(ROOT).as_posix(), line) for p in _pages()
               for _, code, line, skip, _ in code_blocks(p.read_text()) if skip]
    assert len(skipped) <= 2, skipped


def test_code_blocks_parser():
    text = ("a\n```python\nprint(1)\n```\n\n```text\n1\n```\n"
            f"{SKIP}\n```python\nboom()\n```\n```bash\nls\n```\n")
    blocks = code_blocks(text)
    assert [(b[1], b[3], b[4]) for b in blocks] == [("print(1)\n", False, "1\n"),
                                                     ("boom()\n", True, None)]


def test_readme_shows_the_cpu_only_torch_install():
    text = README.read_text() if README.exists() else pytest.skip("no README")
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in text
    assert "<!-- bench:start -->" in text and "<!-- bench:end -->" in text


def _modules():
    names = [m.name for m in pkgutil.walk_packages(fastopt.__path__, "fastopt.")
             if ".backends.cython" not in m.name]
    return sorted(names)


def _doctest_modules():
    out = []
    for name in _modules():
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if doctest.DocTestFinder().find(module) and any(
                t.examples for t in doctest.DocTestFinder().find(module)):
            out.append(name)
    return out


@pytest.mark.parametrize("module", _doctest_modules())
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module),
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_doctests_are_found():
    assert {"fastopt.optim.sgd", "fastopt.optim.adam"} <= set(_doctest_modules())


def _public_docstrings():
    import inspect
    from fastopt.embeddings import glove
    objects = [(name, getattr(fastopt, name)) for name in fastopt.__all__]
    objects += [(f"glove.{name}", getattr(glove, name)) for name in
                ("Vocabulary", "cooccurrence", "Cooccurrence", "read_cooccurrence", "GloVe")]
    for name, obj in objects:
        yield name, inspect.getdoc(obj) or ""
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if not attr.startswith("_") and callable(member):
                    yield f"{name}.{attr}", inspect.getdoc(member) or ""


def test_public_docstrings_read_as_plain_text():
    """help() shows no raw LaTeX: equations are written with plain-text symbols."""
    raw = [(name, line.strip()) for name, doc in _public_docstrings()
           for line in doc.splitlines() if re.search(r"\\[A-Za-z]|:math:`", line)]
    assert not raw, raw[:5]


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "Adamax",
                                  "NAdam"])
def test_optimizer_docstrings_state_source_errors_and_sparse_semantics(name):
    doc = getattr(fastopt, name).__doc__
    for section in ("Source:", "Args:", "Raises:", "Sparse gradients:", "Conventions:",
                    ".. math::"):
        assert section in doc, f"{name}'s docstring has no {section!r}"


def test_plainmath_renders_docstring_equations_as_tex():
    import sys
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        plainmath = importlib.import_module("plainmath")
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    assert plainmath.tex("θ ← θ − η/(1 − β_1^t) · m/(√v̂ + ε)   (if amsgrad)") == (
        r"θ \leftarrow  θ - η/(1 - β_1^t) \cdot  m/(\sqrt{\hat{v}} + ε) \qquad \text{(if amsgrad)}")
    lines = [".. math::", "", "    a ← b", "    c = √(d)", "", "after"]
    plainmath.process_docstring(None, "class", "x", None, None, lines)
    assert lines == [".. math::", "", "    & a \\leftarrow  b", "", "    & c = \\sqrt{d}", "",
                     "after"]
    tex_block = [".. math::", "", r"    \alpha", ""]
    plainmath.process_docstring(None, "class", "x", None, None, tex_block)
    assert tex_block[2] == r"    \alpha"
