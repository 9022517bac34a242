"""A real English corpus for the GloVe benchmark, built offline from Debian packages.

``python -m bench.glove.corpus [--out PATH] [--cache DIR] [--packages P ...] [--max-tokens N]``

The packages are fetched with ``apt-get download`` into a cache folder (default
``bench/data/debs/``; a package already there is not fetched again), unpacked with
``dpkg-deb -x`` into a temporary folder, and every text-bearing file is read: plain
text, gzip/bzip2/xz-compressed text, HTML (tags, scripts and styles stripped), roff
man pages, Perl POD, reStructuredText, dictd dictionaries (``.dict.dz`` with their
``.index``), WordNet ``data.*`` files, R lazy-load data bases (``.rdb``, for the
Jane Austen novels) and fortune files.

Output format (default ``bench/data/corpus.txt``): one document per line, each line
the document's lower-case runs of ASCII letters ``[a-z]+`` joined by single spaces.
Text is lower-cased and accents are dropped (``café`` -> ``cafe``); everything that is
not a letter (digits, punctuation, underscores, apostrophes) separates tokens.

What a document is:

* a dictionary entry (dictd), a WordNet synset (its words and gloss) or a fortune:
  each is one document, they are short and self-contained;
* any other file is one document when it has at most ``DOC_MAX_TOKENS`` tokens;
  a longer one (a novel, a manual) is cut at paragraph breaks (blank lines) into
  consecutive groups of paragraphs of at most ``DOC_MAX_TOKENS`` tokens each (a
  paragraph longer than that is cut at the limit). Co-occurrence windows therefore
  never cross a file, and rarely a paragraph group; lines stay short enough to
  stream.

Documents with fewer than two tokens are dropped, and so is an exact repeat of an
earlier document (the same fortune or dictionary entry in two places). Files are
walked in sorted order and packages in the order given, so the output is the same
byte for byte on every run with the same package versions.

``word_similarity_pairs()`` loads WordSim-353 or SimLex-999, which the PyPI wheel of
``gensim`` ships as test data (``gensim/test/test_data``); see its docstring.
"""
from __future__ import annotations

import argparse
import bz2
import collections
import dataclasses
import glob
import gzip
import hashlib
import html
import io
import lzma
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unicodedata
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Iterable, Iterator

HERE = Path(__file__).resolve().parent.parent  # bench/
DATA_DIR = HERE / "data"
DEFAULT_CACHE = DATA_DIR / "debs"
DEFAULT_OUT = DATA_DIR / "corpus.txt"

DOC_MAX_TOKENS = 1000   # longer files are split into paragraph groups of at most this
MIN_DOC_TOKENS = 2      # shorter documents carry no co-occurrence and are dropped
MIN_COUNT = 5           # the vocabulary threshold reported in the summary (GloVe's)


# --------------------------------------------------------------------------------------
# Text normalisation
# --------------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z]+")
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def tokens(text: str) -> list[str]:
    """The lower-case ASCII letter runs of ``text``, accents dropped (see ``normalize``)."""
    if not text.isascii():
        # NFKD splits a letter from its accent (and expands ligatures such as "ﬁ"), the
        # accents go, and what is still not ASCII becomes a separator.
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    return _WORD.findall(text.lower())


def normalize(text: str) -> str:
    """``text`` as lower-case runs of ASCII letters separated by single spaces.

    >>> normalize("Don't PANIC: it's 42 -- naïve café!")
    'don t panic it s naive cafe'
    """
    return " ".join(tokens(text))


_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n")


def split_documents(text: str, max_tokens: int = DOC_MAX_TOKENS,
                    min_tokens: int = MIN_DOC_TOKENS) -> list[str]:
    """Normalised documents of a file's text: the whole text if it has at most
    ``max_tokens`` tokens, else consecutive groups of paragraphs (blank-line
    separated) of at most ``max_tokens`` tokens; a longer paragraph is cut at
    ``max_tokens``. Documents with fewer than ``min_tokens`` tokens are dropped."""
    words = tokens(text)
    if len(words) <= max_tokens:
        return [" ".join(words)] if len(words) >= min_tokens else []
    docs: list[str] = []
    group: list[str] = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        words = tokens(paragraph)
        if group and len(group) + len(words) > max_tokens:
            docs.append(" ".join(group))
            group = []
        while len(words) > max_tokens:
            docs.append(" ".join(words[:max_tokens]))
            words = words[max_tokens:]
        group.extend(words)
    if group:
        docs.append(" ".join(group))
    return [d for d in docs if d.count(" ") + 1 >= min_tokens]


# --------------------------------------------------------------------------------------
# Markup stripping (each returns plain text that still has its paragraph breaks)
# --------------------------------------------------------------------------------------

_HTML_DROP = re.compile(r"<(script|style|head|title|noscript|template)\b.*?</\1\s*>|<!--.*?-->|<!\[CDATA\[.*?\]\]>",
                        re.S | re.I)
_HTML_TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>|<![^>]*>|<\?[^>]*>", re.S)
_INLINE_TAGS = frozenset(
    "a abbr b bdi bdo big cite code data del dfn em font i ins kbd mark q s samp small span "
    "strike strong sub sup tt u var wbr".split())
_BLOCK_TAGS = frozenset(
    "address article aside blockquote body caption dd div dl dt figcaption figure footer "
    "form h1 h2 h3 h4 h5 h6 header hr html li main nav ol p pre section table tbody td "
    "tfoot th thead tr ul".split())


def strip_html(text: str) -> str:
    """Visible text of an HTML page: the head, scripts, styles and comments go;
    block elements become paragraph breaks, inline tags vanish (so ``<b>wo</b>rd`` stays
    one word), any other tag separates words; entities are decoded."""
    text = _HTML_DROP.sub(" ", text)

    def tag(m: re.Match) -> str:
        name = (m.group(1) or "").lower()
        if name in _INLINE_TAGS:
            return ""
        if name in _BLOCK_TAGS:
            return "\n\n"
        return "\n"

    return html.unescape(_HTML_TAG.sub(tag, text))


# roff (man pages): macros whose arguments are running text, and those that start a paragraph
_ROFF_TEXT_MACROS = frozenset(
    "SH SS B I BI BR IB IR RB RI SB SM IP TQ UR MT OP SY Nd Sh Ss Em Sy Dq Qq Sq Pa Ar Fl "
    "Nm Xr Va Dv Er Ev Fn Fa Ft Cm Ic Li Ql Tn Ux".split())
_ROFF_PARAGRAPH_MACROS = frozenset("PP LP P TP HP sp br Pp Lp Bl El Bd Ed It".split())
_ROFF_REQUEST = re.compile(r"^[.'][ \t]*([A-Za-z][A-Za-z0-9]?[A-Za-z0-9]?)\b[ \t]*(.*)$")
_ROFF_ESCAPES = [
    (re.compile(r"\\[fF](\[[^\]\n]*\]|\(..|.)"), ""),        # font changes
    (re.compile(r"\\s[+-]?(\d+|\(\d\d|\[\d+\])"), ""),       # size changes
    (re.compile(r"\\[&%c:]"), ""),                           # zero-width, hyphenation points
    (re.compile(r"\\\*(\[[^\]\n]*\]|\(..|.)"), " "),         # strings
    (re.compile(r"\\\((..)|\\\[[^\]\n]*\]"), " "),           # special characters
    (re.compile(r"\\[nkgm](\[[^\]\n]*\]|\(..|.)"), " "),     # registers, colours
    (re.compile(r"\\[hvwlLoDbxXNRSzZ]'[^'\n]*'"), " "),      # drawing / motion with args
    (re.compile(r"\\."), " "),                               # any other escape (\-, \e, \ ...)
]


def strip_roff(text: str) -> str:
    """Running text of a roff (man/mdoc) page: comments and layout requests go, the
    arguments of text macros (``.SH``, ``.B``, ``.BR`` ...) stay, escapes go
    (``\\fBls\\fR`` -> ``ls``, ``\\(em`` -> a space)."""
    out: list[str] = []
    for line in text.splitlines():
        if line.startswith(('.\\"', "'\\\"", '.\\#', '\\"', '\\#')):
            continue
        if line[:1] in ".'":
            m = _ROFF_REQUEST.match(line)
            if m is None:
                continue
            name, rest = m.groups()
            if name in _ROFF_TEXT_MACROS:
                out.append(rest.replace('"', " "))
            elif name in _ROFF_PARAGRAPH_MACROS:
                out.append("")
            continue
        out.append(line)
    text = "\n".join(out)
    for pattern, repl in _ROFF_ESCAPES:
        text = pattern.sub(repl, text)
    return text


_POD_COMMAND = re.compile(r"^=(\w+)[ \t]*(.*)$", re.M)
_POD_TEXT_COMMANDS = frozenset("head1 head2 head3 head4 head5 head6 item".split())
_POD_ESCAPE = re.compile(r"E<[^>]*>")
_POD_CODE = re.compile(r"[BCFILSXZ]<+(\s)?")


def strip_pod(text: str) -> str:
    """Running text of Perl POD: ``=head``/``=item`` keep their text, other commands
    go, formatting codes (``B<...>``, ``C<<...>>``) keep their content, ``E<...>``
    entities become separators. ``=begin``..``=end`` blocks (HTML, LaTeX) go."""
    text = re.sub(r"^=begin\b.*?^=end\b[^\n]*$", "", text, flags=re.M | re.S)

    def command(m: re.Match) -> str:
        return m.group(2) if m.group(1) in _POD_TEXT_COMMANDS else ""

    text = _POD_COMMAND.sub(command, text)
    text = _POD_ESCAPE.sub(" ", text)
    return _POD_CODE.sub(" ", text)


_RST_ROLE = re.compile(r":[A-Za-z][\w.+-]*(?::[A-Za-z][\w.+-]*)*:(?=`)")
_RST_DIRECTIVE = re.compile(r"^([ \t]*)\.\.[ \t]+[\w:.+-]+::", re.M)
_RST_OPTION = re.compile(r"^[ \t]+:[\w -]+:(?=[ \t]|$)", re.M)
_RST_TARGET_OR_COMMENT = re.compile(r"^[ \t]*\.\.(?:[ \t]+(?:_[^:\n]*:|\[[^\]\n]*\]|\|[^|\n]*\|)?[^\n]*)?$", re.M)


def strip_rst(text: str) -> str:
    """reStructuredText with its markup names removed: roles (``:func:`x``` -> ``x``),
    directive names (``.. note::``, keeping their argument), directive options
    (``:maxdepth:``), comments and link targets (lines starting ``..``, such as
    SPDX headers)."""
    text = _RST_ROLE.sub("", text)
    text = _RST_DIRECTIVE.sub(r"\1", text)
    text = _RST_OPTION.sub("", text)
    return _RST_TARGET_OR_COMMENT.sub("", text)


_GCIDE_SUBSTITUTIONS = [
    (re.compile(r"^[ \t]*\[[^\[\]\n]*\][ \t]*$", re.M), ""),             # [1913 Webster], [WordNet 1.5]
    # \A*bac"i*nate\ ([.a]*b[a^]s"[i^]*n[=a]t): syllabified headword and pronunciation
    (re.compile(r"\\[^\\\n]{1,80}\\(?:\s*\([^()]{0,160}\))?"), " "),
    (re.compile(r"\[[=.^\"'`~:,]?([A-Za-z]{1,2})[=.^\"'`~:,]?\]"), r"\1"),  # b[ae]c, [=a], [^o]
]


def clean_gcide(text: str) -> str:
    """One GCIDE dictionary entry without its syllabified headword (``\\A*back"\\``),
    pronunciation (``([.a]*b[a^]k")``) and source tags (``[1913 Webster]``); accent
    markup inside words (``b[ae]c``) becomes the bare letters."""
    for pattern, repl in _GCIDE_SUBSTITUTIONS:
        text = pattern.sub(repl, text)
    return text


# --------------------------------------------------------------------------------------
# Formats that hold many documents
# --------------------------------------------------------------------------------------

_B64 = {c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}


def _dictd_number(s: str) -> int:
    n = 0
    for c in s:
        n = n * 64 + _B64[c]
    return n


def parse_dictd(index_text: str, dict_bytes: bytes) -> list[str]:
    """The entries of a dictd dictionary, in file order: ``index_text`` has lines
    ``headword<TAB>offset<TAB>length`` (dictd's base-64 numbers), ``dict_bytes`` is the
    uncompressed ``.dict``. Entries that several headwords point at come once; the
    ``00-database-*`` metadata entries are skipped."""
    spans = set()
    for line in index_text.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or parts[0].startswith(("00-database", "00database")):
            continue
        try:
            spans.add((_dictd_number(parts[1]), _dictd_number(parts[2])))
        except KeyError:
            continue
    return [dict_bytes[o:o + n].decode("utf-8", "replace") for o, n in sorted(spans)]


def parse_wordnet_data(text: str) -> list[str]:
    """One text per synset of a WordNet ``data.noun|verb|adj|adv`` file: its words
    (underscores as spaces, adjective markers such as ``(a)`` dropped) and its gloss.
    The licence header (lines starting with two spaces) is skipped."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("  "):
            continue
        head, _, gloss = line.partition(" | ")
        fields = head.split()
        try:
            count = int(fields[3], 16)
        except (IndexError, ValueError):
            continue
        words = [re.sub(r"\([a-z]+\)$", "", w).replace("_", " ") for w in fields[4:4 + 2 * count:2]]
        out.append(", ".join(words) + ": " + gloss.strip())
    return out


def split_fortunes(text: str) -> list[str]:
    """The fortunes of a fortune(6) data file: texts separated by lines holding only ``%``."""
    return [f for f in re.split(r"^%[ \t]*$", text, flags=re.M) if f.strip()]


class _RUnserializer:
    """Enough of R's XDR serialization format (versions 2 and 3) to pull the character
    vectors out of a lazy-load data base: vectors, pairlists, symbols, references."""

    def __init__(self, data: bytes):
        self.data, self.pos, self.symbols = data, 0, []
        self.strings: list[list[str]] = []

    def int(self) -> int:
        (v,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return v

    def header(self) -> None:
        if self.data[:2] != b"X\n":
            raise ValueError("not an XDR R serialization")
        self.pos = 2
        version = self.int()
        self.int(), self.int()
        if version == 3:
            n = self.int()            # native encoding name
            self.pos += n
        elif version != 2:
            raise ValueError(f"R serialization version {version}")

    def charsxp(self) -> str | None:
        flags = self.int()
        if flags & 0xFF != 9:
            raise ValueError("expected CHARSXP")
        n = self.int()
        if n == -1:
            return None
        s = self.data[self.pos:self.pos + n]
        self.pos += n
        return s.decode("utf-8" if not flags & (1 << 15) else "latin-1", "replace")  # LATIN1_MASK

    def item(self, keep: bool = True):
        flags = self.int()
        kind, has_attr, has_tag = flags & 0xFF, flags & (1 << 9), flags & (1 << 10)
        if kind in (254, 242, 241, 253, 252, 251, 247, 0):        # NILVALUE and friends
            return None
        if kind == 255:                                            # REFSXP
            if flags >> 8 == 0:
                self.int()
            return None
        if kind == 1:                                              # SYMSXP
            self.symbols.append(self.charsxp())
            return None
        if kind in (2, 6, 17):                                     # pairlist, call, dots
            if has_attr:
                self.item(keep=False)
            if has_tag:
                self.item(keep=False)
            self.item(keep)
            self.item(keep)
            return None
        if kind == 9:
            self.pos -= 4
            self.charsxp()
            return None
        n = self.int()
        if n == -1:                                                # long vector length
            n = (self.int() << 32) + self.int()
        if kind == 16:                                             # STRSXP
            strings = [self.charsxp() for _ in range(n)]
            if keep:
                self.strings.append(["" if s is None else s for s in strings])
        elif kind in (10, 13):                                     # logical, integer
            self.pos += 4 * n
        elif kind == 14:                                           # double
            self.pos += 8 * n
        elif kind == 15:                                           # complex
            self.pos += 16 * n
        elif kind == 24:                                           # raw
            self.pos += n
        elif kind in (19, 20):                                     # list, expression
            for _ in range(n):
                self.item(keep)
        else:
            raise ValueError(f"R SEXP type {kind} is not supported")
        if has_attr:
            self.item(keep=False)
        return None


def r_character_vectors(serialized: bytes) -> list[list[str]]:
    """The character vectors (outside attributes) of one XDR-serialized R object."""
    reader = _RUnserializer(serialized)
    reader.header()
    reader.item()
    return reader.strings


def read_r_lazyload_db(rdb: bytes) -> list[list[str]]:
    """Character vectors of every object in an R lazy-load data base (``.rdb``): a
    sequence of blobs, each a 4-byte big-endian length and a compressed serialization
    (zlib, or a type byte ``Z``/``2``/``X``/``0`` and zlib/bzip2/xz/none)."""
    out: list[list[str]] = []
    pos = 0
    while pos + 5 <= len(rdb):
        (size,) = struct.unpack_from(">I", rdb, pos)
        pos += 4
        kind = rdb[pos:pos + 1]
        try:
            if kind in (b"2", b"X", b"0", b"Z"):
                pos += 1
                if kind == b"0":
                    raw, rest = rdb[pos:pos + size], rdb[pos + size:]
                else:
                    d = {b"2": bz2.BZ2Decompressor, b"X": lzma.LZMADecompressor,
                         b"Z": zlib.decompressobj}[kind]()
                    raw, rest = d.decompress(rdb[pos:]), d.unused_data
            else:
                d = zlib.decompressobj()
                raw, rest = d.decompress(rdb[pos:]), d.unused_data
        except (zlib.error, OSError, lzma.LZMAError, EOFError):
            break
        pos = len(rdb) - len(rest)
        try:
            out.extend(r_character_vectors(raw))
        except (ValueError, struct.error):
            continue
    return out


# --------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------

BINARY_SUFFIXES = frozenset(
    ".png .jpg .jpeg .gif .ico .bmp .svg .svgz .pdf .dvi .ps .eps .epub .woff .woff2 .ttf "
    ".otf .eot .zip .jar .so .a .o .mo .dat .db .inv .pyc .js .css .map .dot .rds .rdx "
    ".pickle .doctree .conc .ogg .wav .mp3 .xcf .tgz .tar .deb".split())
_COMPRESSED = {".gz": gzip.decompress, ".dz": gzip.decompress, ".z": gzip.decompress,
               ".bz2": bz2.decompress, ".xz": lzma.decompress}
# Package housekeeping files: licences, changelogs, lintian/doc-base/bug metadata.
_HOUSEKEEPING = re.compile(
    r"(^|/)(copyright|changelog[^/]*|NEWS\.Debian[^/]*|README\.Debian[^/]*)$"
    r"|/(lintian|doc-base|bug|menu|applications|mime)/|^(usr/)?(s?bin|etc|var)/")
# Sphinx build by-products: duplicate sources, assets, index pages.
_SPHINX_NOISE = re.compile(r"/_(sources|static|images|downloads)/|/(genindex|search|py-modindex)[^/]*\.html$")


def file_bytes(path: Path) -> bytes | None:
    """The bytes of a file, decompressed by its suffix (``.gz``, ``.dz``, ``.bz2``,
    ``.xz``); None when it cannot be read or does not decompress."""
    name = path.name.lower()
    try:
        data = path.read_bytes()
        for suffix, decompress in _COMPRESSED.items():
            if name.endswith(suffix):
                return decompress(data)
        return data
    except (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError):
        return None


def decode_text(data: bytes | None) -> str | None:
    """``data`` as text (UTF-8, else Latin-1); None for binary data (a NUL byte in the
    first 8 KiB)."""
    if data is None or b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def file_text(path: Path) -> str | None:
    """The text of a file, decompressed by its suffix; None for a binary file."""
    return decode_text(file_bytes(path))


def _base_name(path: str) -> str:
    """File name without a compression suffix (``.gz``, ``.dz``...)."""
    name = path.rsplit("/", 1)[-1]
    for suffix in _COMPRESSED:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _is_manpage(rel: str) -> bool:
    return re.search(r"/man/(?:[a-z_.A-Z@]+/)?man[0-9n][^/]*/[^/]+$", rel) is not None


def file_documents(path: Path, rel: str, max_tokens: int = DOC_MAX_TOKENS) -> list[str]:
    """Normalised documents of one file; ``rel`` is its path in the extracted package
    (forward slashes), which picks the format. Unknown binary files give ``[]``."""
    real_base = _base_name(rel)
    base = real_base.lower()
    stem, dot, ext = real_base.rpartition(".")
    ext = "." + ext.lower() if dot else ""
    if base.endswith(".dict"):                                        # dictd
        index = None
        for cand in (path.parent / (stem + ".index"), path.parent / (stem + ".idx")):
            if cand.is_file():
                index = cand.read_text("utf-8", "replace")
                break
        data = file_bytes(path)
        if index is None or decode_text(data) is None:
            return split_documents(decode_text(data) or "", max_tokens)
        entries = parse_dictd(index, data)
        clean = clean_gcide if "gcide" in base else (lambda s: s)
        return [d for e in entries for d in split_documents(clean(e), max_tokens)]
    if re.fullmatch(r"data\.(noun|verb|adj|adv)", base):                # WordNet
        text = file_text(path)
        return [d for s in parse_wordnet_data(text or "") for d in split_documents(s, max_tokens)]
    if base.endswith(".rdb"):                                          # R lazy-load data base
        try:
            vectors = read_r_lazyload_db(path.read_bytes())
        except OSError:
            return []
        return [d for v in vectors for d in split_documents("\n".join(v), max_tokens)]
    if ext in BINARY_SUFFIXES:
        return []
    if ext in (".index", ".idx") and any(
            (path.parent / (stem + ".dict" + z)).is_file() for z in ("", ".dz", ".gz")):
        return []                                                      # a dictd index
    text = file_text(path)
    if text is None:
        return []
    if "/fortunes/" in rel and not ext:
        return [d for f in split_fortunes(text) for d in split_documents(f, max_tokens)]
    if ext in (".html", ".htm", ".xhtml"):
        text = strip_html(text)
    elif ext == ".pod" or ext == ".pm":
        text = strip_pod(text)
    elif _is_manpage(rel) or re.fullmatch(r"\.[1-9n][a-z]*", ext or "x") and text.lstrip()[:1] in ".'":
        text = strip_roff(text)
    elif ext == ".rst" or base.endswith(".rst.txt"):
        text = strip_rst(text)
    return split_documents(text, max_tokens)


# --------------------------------------------------------------------------------------
# Packages
# --------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class PackageSpec:
    """Which files of an extracted package are read: those whose path (relative to the
    extraction root, forward slashes) matches ``include`` (a regex, searched) and not
    ``exclude``. Housekeeping files (copyright, changelogs, lintian...) never are."""
    include: str = r"."
    exclude: str | None = None
    note: str = ""

    def selects(self, rel: str) -> bool:
        if _HOUSEKEEPING.search(rel):
            return False
        if not re.search(self.include, rel):
            return False
        return not (self.exclude and re.search(self.exclude, rel))


# A package's generic reading (one not listed below): every text-bearing file, except
# Sphinx by-products that would duplicate the pages.
GENERIC = PackageSpec(exclude=_SPHINX_NOISE.pattern, note="all text-bearing files")

# The default corpus, in output order (prose first, so a --max-tokens slice is books).
# Where a package has the same text in several formats, one format is chosen.
PACKAGES: dict[str, PackageSpec] = {
    "r-cran-janeaustenr": PackageSpec(r"/data/Rdata\.rdb$", note="Jane Austen's six novels (R data)"),
    "fortunes": PackageSpec(r"/games/fortunes/[^/.]+$", note="fortune(6) quotations"),
    "dict-gcide": PackageSpec(r"\.dict\.dz$", note="GNU Collaborative International Dictionary of English"),
    "dict-foldoc": PackageSpec(r"\.dict\.dz$", note="Free On-line Dictionary of Computing"),
    "dict-jargon": PackageSpec(r"\.dict\.dz$", note="the Jargon File"),
    "dict-devil": PackageSpec(r"\.dict\.dz$", note="Ambrose Bierce, The Devil's Dictionary"),
    "wordnet-base": PackageSpec(r"/wordnet/data\.(noun|verb|adj|adv)$", note="WordNet 3.0 synsets and glosses"),
    "debian-reference-en": PackageSpec(r"\.en\.txt\.gz$", note="Debian Reference (plain text)"),
    "debian-faq": PackageSpec(r"\.en\.txt\.gz$", note="Debian FAQ (plain text)"),
    "developers-reference": PackageSpec(r"developers-reference\.txt\.gz$", note="Debian Developer's Reference"),
    "debian-policy": PackageSpec(r"/doc/debian-policy/.*\.txt\.gz$", note="Debian Policy, FHS (plain text)"),
    "gnu-standards": PackageSpec(r"\.text\.gz$", note="GNU Coding Standards, GNU maintainers"),
    "manpages": PackageSpec(r"/man/man\d/", note="Linux man pages, sections 1,4-8"),
    "manpages-dev": PackageSpec(r"/man/man\d/", note="Linux man pages, sections 2-3"),
    "perl-doc": PackageSpec(r"(/pod/.*\.pod$|/man/man3/)", note="Perl manuals (POD) and module man pages"),
    "python3.11-doc": PackageSpec(r"/html/_sources/.*\.rst\.txt$", note="Python 3.11 docs (Sphinx sources)"),
    "git-doc": PackageSpec(r"/doc/git-doc/.*\.txt$", note="Git manuals (AsciiDoc sources)"),
    "postgresql-doc-15": PackageSpec(r"/html/.*\.html$", note="PostgreSQL 15 manual (HTML)"),
    "libreoffice-help-en-us": PackageSpec(r"/help/en-US/text/.*\.html$", note="LibreOffice help (HTML)"),
    "python-django-doc": PackageSpec(r"/html/.*\.html$", _SPHINX_NOISE.pattern + r"|/_modules/",
                                     note="Django docs (HTML; no module source pages)"),
    "linux-doc-6.1": PackageSpec(r"/Documentation/.*\.(rst|txt)(\.gz)?$", note="Linux kernel documentation (rst)"),
}


def package_spec(name: str) -> PackageSpec:
    return PACKAGES.get(name, GENERIC)


def walk_tree(root: Path, spec: PackageSpec = GENERIC,
              max_tokens: int = DOC_MAX_TOKENS) -> Iterator[tuple[str, list[str]]]:
    """``(relative path, documents)`` for every selected regular file under ``root``,
    in order of relative path (compared folder by folder); symbolic links are skipped."""
    root = Path(root)
    found = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath, name)
            rel = path.relative_to(root).as_posix()
            if path.is_symlink() or not path.is_file() or not spec.selects(rel):
                continue
            found.append((rel.split("/"), rel, path))
    for _parts, rel, path in sorted(found, key=lambda t: t[0]):
        yield rel, file_documents(path, "/" + rel, max_tokens)


@dataclasses.dataclass
class PackageStats:
    name: str
    version: str = ""
    deb_bytes: int = 0
    files: int = 0
    documents: int = 0
    tokens: int = 0
    duplicates: int = 0


class CorpusWriter:
    """Writes documents one per line, drops exact repeats, counts tokens and words,
    and stops at ``max_tokens`` (the document that crosses it is cut)."""

    def __init__(self, out: io.TextIOBase, max_tokens: int | None = None):
        self.out, self.max_tokens = out, max_tokens
        self.seen: set[bytes] = set()
        self.counts: collections.Counter[str] = collections.Counter()
        self.tokens = 0

    @property
    def full(self) -> bool:
        return self.max_tokens is not None and self.tokens >= self.max_tokens

    def write(self, doc: str, stats: PackageStats) -> bool:
        """Write one document; False when it was a repeat or the corpus is full."""
        if self.full:
            return False
        key = hashlib.blake2b(doc.encode(), digest_size=16).digest()
        if key in self.seen:
            stats.duplicates += 1
            return False
        self.seen.add(key)
        words = doc.split(" ")
        if self.max_tokens is not None and self.tokens + len(words) > self.max_tokens:
            words = words[: self.max_tokens - self.tokens]
            if len(words) < MIN_DOC_TOKENS:
                self.tokens = self.max_tokens
                return False
            doc = " ".join(words)
        self.out.write(doc)
        self.out.write("\n")
        self.counts.update(words)
        self.tokens += len(words)
        stats.documents += 1
        stats.tokens += len(words)
        return True


def write_tree(root: Path, writer: CorpusWriter, stats: PackageStats,
               spec: PackageSpec = GENERIC, max_tokens: int = DOC_MAX_TOKENS) -> PackageStats:
    """Add the documents of one extracted tree to ``writer``, counting into ``stats``."""
    for _rel, docs in walk_tree(root, spec, max_tokens):
        wrote = False
        for doc in docs:
            wrote |= writer.write(doc, stats)
        stats.files += wrote
        if writer.full:
            break
    return stats


def build_corpus_from_tree(root: Path, out_path: Path, spec: PackageSpec = GENERIC,
                           max_tokens: int | None = None) -> tuple[PackageStats, CorpusWriter]:
    """Write the corpus of one extracted tree (``dpkg-deb -x`` output, or any folder)."""
    stats = PackageStats(Path(root).name)
    with open(out_path, "w", encoding="ascii", newline="\n") as out:
        writer = CorpusWriter(out, max_tokens)
        write_tree(Path(root), writer, stats, spec)
    return stats, writer


# --------------------------------------------------------------------------------------
# apt
# --------------------------------------------------------------------------------------

def cached_deb(cache: Path, package: str) -> Path | None:
    """The newest-looking cached ``PACKAGE_VERSION_ARCH.deb`` (sorted by name), or None."""
    found = sorted(p for p in cache.glob(f"{glob.escape(package)}_*.deb") if p.name.split("_", 1)[0] == package)
    return found[-1] if found else None


def download_deb(cache: Path, package: str) -> Path:
    """``apt-get download PACKAGE`` into ``cache`` unless a .deb of it is there already."""
    cache.mkdir(parents=True, exist_ok=True)
    deb = cached_deb(cache, package)
    if deb is not None:
        return deb
    cmd = ["apt-get", "download", "-q"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd += ["-o", "APT::Sandbox::User=root"]   # the cache may not be readable by _apt
    proc = subprocess.run(cmd + [package], cwd=cache, capture_output=True, text=True)
    deb = cached_deb(cache, package)
    if proc.returncode != 0 or deb is None:
        raise RuntimeError(
            f"apt-get download {package} failed:\n{proc.stderr.strip()}\n"
            "(are the package lists there? `apt-get update`; does the name exist? "
            f"`apt-cache policy {package}`)")
    return deb


def extract_deb(deb: Path, dest: Path) -> None:
    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)


def build_corpus(packages: Iterable[str], out_path: Path = DEFAULT_OUT, cache: Path = DEFAULT_CACHE,
                 max_tokens: int | None = None, log: Callable[[str], None] = print) -> dict:
    """Download, extract and read ``packages`` in order, writing the corpus to
    ``out_path`` (via a temporary file, renamed at the end). Returns the statistics."""
    packages = list(packages)
    cache, out_path = Path(cache), Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    debs = {p: download_deb(cache, p) for p in packages}
    log(f"downloaded/cached {len(debs)} packages in {time.perf_counter() - start:.1f} s")
    per_package: list[PackageStats] = []
    tmp_out = out_path.with_name(out_path.name + ".part")
    with open(tmp_out, "w", encoding="ascii", newline="\n") as out:
        writer = CorpusWriter(out, max_tokens)
        for package in packages:
            if writer.full:
                break
            t0 = time.perf_counter()
            stats = PackageStats(package, version=debs[package].name.split("_")[1].replace("%3a", ":"),
                                 deb_bytes=debs[package].stat().st_size)
            with tempfile.TemporaryDirectory(prefix="corpus-") as tmp:
                extract_deb(debs[package], Path(tmp))
                write_tree(Path(tmp), writer, stats, package_spec(package))
            per_package.append(stats)
            log(f"  {package:22s} {stats.files:6d} files {stats.documents:8d} docs "
                f"{stats.tokens:10d} tokens  ({time.perf_counter() - t0:.1f} s)")
    os.replace(tmp_out, out_path)
    counts = writer.counts
    summary = {
        "packages": per_package,
        "deb_bytes": sum(s.deb_bytes for s in per_package),
        "documents": sum(s.documents for s in per_package),
        "tokens": writer.tokens,
        "vocabulary": len(counts),
        f"vocabulary_min_count_{MIN_COUNT}": sum(1 for c in counts.values() if c >= MIN_COUNT),
        f"tokens_in_min_count_{MIN_COUNT}": sum(c for c in counts.values() if c >= MIN_COUNT),
        "seconds": time.perf_counter() - start,
        "out": str(out_path),
        "counts": counts,
    }
    return summary


def format_summary(summary: dict) -> str:
    rows = [f"{'package':22s} {'version':24s} {'deb MB':>7s} {'files':>6s} {'docs':>8s} {'tokens':>11s} {'dups':>6s}"]
    for s in summary["packages"]:
        rows.append(f"{s.name:22s} {s.version:24s} {s.deb_bytes / 1e6:7.1f} {s.files:6d} {s.documents:8d} "
                    f"{s.tokens:11,d} {s.duplicates:6d}")
    rows.append(f"{'total':22s} {'':24s} {summary['deb_bytes'] / 1e6:7.1f} {sum(s.files for s in summary['packages']):6d} "
                f"{summary['documents']:8d} {summary['tokens']:11,d}")
    rows.append(f"vocabulary: {summary['vocabulary']:,d} words; "
                f"{summary[f'vocabulary_min_count_{MIN_COUNT}']:,d} with count >= {MIN_COUNT} "
                f"(covering {summary[f'tokens_in_min_count_{MIN_COUNT}']:,d} tokens)")
    rows.append(f"wrote {summary['out']} in {summary['seconds']:.1f} s")
    return "\n".join(rows)


# --------------------------------------------------------------------------------------
# Reading the corpus back
# --------------------------------------------------------------------------------------

def read_corpus(path: Path = DEFAULT_OUT, max_tokens: int | None = None) -> Iterator[list[str]]:
    """The documents of a corpus file as token lists, stopping after ``max_tokens``
    tokens (the last document cut) when given."""
    total = 0
    with open(path, encoding="ascii") as f:
        for line in f:
            words = line.split()
            if not words:
                continue
            if max_tokens is not None and total + len(words) >= max_tokens:
                rest = words[: max_tokens - total]
                if rest:
                    yield rest
                return
            total += len(words)
            yield words


# --------------------------------------------------------------------------------------
# Human-rated word similarity
# --------------------------------------------------------------------------------------

SIMILARITY_FILES = {
    "wordsim353": "gensim/test/test_data/wordsim353.tsv",   # Finkelstein et al. 2002, 353 pairs
    "simlex999": "gensim/test/test_data/simlex999.txt",     # Hill, Reichart & Korhonen 2015, 999 pairs
}
ANALOGY_FILE = "gensim/test/test_data/questions-words.txt"  # Mikolov et al. 2013


def _gensim_data(member: str, cache: Path, fetch: bool) -> str | None:
    """Text of a file that gensim ships, from an installed gensim, a gensim wheel in
    ``cache``, or (``fetch=True``) a wheel fetched with ``pip download --no-deps``."""
    import importlib.util
    try:
        spec = importlib.util.find_spec("gensim")   # locates the package without importing it
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            candidate = Path(location).parent / member
            if candidate.is_file():
                return candidate.read_text("utf-8")
    cache = Path(cache)

    def from_wheels() -> str | None:
        for wheel in sorted(cache.glob("gensim-*.whl"), reverse=True):
            try:
                with zipfile.ZipFile(wheel) as z:
                    return z.read(member).decode("utf-8")
            except (KeyError, zipfile.BadZipFile, OSError):
                continue
        return None

    text = from_wheels()
    if text is None and fetch:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                        "--quiet", "-d", str(cache), "gensim"], check=False)
        text = from_wheels()
    return text


def word_similarity_pairs(name: str = "wordsim353", cache: Path = DATA_DIR,
                          fetch: bool = False) -> list[tuple[str, str, float]] | None:
    """Human similarity ratings ``(word1, word2, score)``, words lower-cased, scores on
    the data set's 0-10 scale; None when the data are not available offline.

    ``name`` is ``"wordsim353"`` (WordSim-353, relatedness, 353 pairs) or
    ``"simlex999"`` (SimLex-999, similarity, 999 pairs). Both files ship as test data
    in the PyPI wheel of gensim (LGPL-2.1; the ratings are the data sets' authors',
    under their own terms). They are read from an installed gensim if there is one
    (without importing it), else from a ``gensim-*.whl`` in ``cache`` (default
    ``bench/data/``), which ``fetch=True`` (or ``python -m bench.glove.corpus
    --fetch-similarity``) downloads with ``pip download --no-deps gensim`` (~28 MB).
    """
    text = _gensim_data(SIMILARITY_FILES[name], cache, fetch)
    if text is None:
        return None
    pairs = []
    for line in text.splitlines():
        parts = line.strip().split("\t")
        if len(parts) < 3 or line.startswith("#"):
            continue
        try:
            pairs.append((parts[0].lower(), parts[1].lower(), float(parts[2])))
        except ValueError:
            continue
    return pairs


def word_analogy_questions(cache: Path = DATA_DIR, fetch: bool = False) -> dict[str, list[tuple[str, str, str, str]]] | None:
    """Mikolov et al.'s analogy questions (``a : b :: c : d``), lower-cased, by section
    (``capital-common-countries``, ``gram1-adjective-to-adverb``...); same source as
    ``word_similarity_pairs``; None when not available."""
    text = _gensim_data(ANALOGY_FILE, cache, fetch)
    if text is None:
        return None
    sections: dict[str, list[tuple[str, str, str, str]]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith(":"):
            current = sections.setdefault(line[1:].strip(), [])
        elif current is not None and len(line.split()) == 4:
            current.append(tuple(line.lower().split()))
    return sections


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.glove.corpus", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"corpus file (default {DEFAULT_OUT})")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f".deb cache (default {DEFAULT_CACHE})")
    parser.add_argument("--packages", nargs="+", default=list(PACKAGES), metavar="P",
                        help="Debian packages to read, in order (default: %(default)s)")
    parser.add_argument("--max-tokens", type=int, default=None, metavar="N",
                        help="stop after N tokens (a slice; packages are read in order)")
    parser.add_argument("--fetch-similarity", action="store_true",
                        help="also fetch the gensim wheel that holds WordSim-353 / SimLex-999 into bench/data/")
    parser.add_argument("--list", action="store_true", help="list the default packages and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, spec in PACKAGES.items():
            print(f"{name:22s} {spec.note}")
        return 0
    if not shutil.which("apt-get") or not shutil.which("dpkg-deb"):
        print("bench.glove.corpus needs apt-get and dpkg-deb (a Debian or Ubuntu system)", file=sys.stderr)
        return 2
    try:
        summary = build_corpus(args.packages, args.out, args.cache, args.max_tokens)
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 1
    print(format_summary(summary))
    if args.fetch_similarity:
        for name in SIMILARITY_FILES:
            pairs = word_similarity_pairs(name, fetch=True)
            if pairs is None:
                print(f"{name}: not available")
                continue
            counts = summary["counts"]
            covered = sum(1 for a, b, _ in pairs if counts[a] >= MIN_COUNT and counts[b] >= MIN_COUNT)
            print(f"{name}: {len(pairs)} pairs, {covered} with both words at count >= {MIN_COUNT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
