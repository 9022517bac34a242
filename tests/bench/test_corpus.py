"""bench.glove.corpus: text normalisation, markup stripping, document splitting and the
directory walk, on small in-memory inputs and a fake extracted package (no apt, no network)."""
import gzip
import os
import re
import struct
import zipfile
import zlib

from bench.glove import corpus as C

WORD_LINE = r"^[a-z]+( [a-z]+)*$"


# ---------------------------------------------------------------- normalisation

def test_normalize_letters_only_lower_case():
    assert C.normalize("Hello, World! It's 2024 -- e-mail me@example.com_now") == \
        "hello world it s e mail me example com now"


def test_normalize_accents_and_ligatures():
    assert C.normalize("Naïve CAFÉ, façade; ﬁnal") == "naive cafe facade final"
    # what has no ASCII decomposition separates tokens
    assert C.normalize("straße Ærøskøbing") == "stra e r sk bing"


def test_normalize_empty_and_no_letters():
    assert C.normalize("") == ""
    assert C.normalize("123 -- 456\n\t!!") == ""
    assert C.tokens("A b\nC") == ["a", "b", "c"]


def test_normalize_output_is_single_spaced():
    out = C.normalize("  many   spaces\n\nand\tlines  ")
    assert out == "many spaces and lines"
    assert re.fullmatch(WORD_LINE, out)


# ---------------------------------------------------------------- documents

def test_split_documents_short_text_is_one_document():
    assert C.split_documents("One two.\n\nThree four.", max_tokens=10) == ["one two three four"]


def test_split_documents_groups_paragraphs():
    text = "a b c\n\nd e f\n  \ng h i\n\nj k"
    docs = C.split_documents(text, max_tokens=6)
    assert docs == ["a b c d e f", "g h i j k"]
    assert " ".join(docs) == C.normalize(text)


def test_split_documents_cuts_long_paragraph():
    text = " ".join(f"w{chr(97 + i % 26)}" for i in range(25))
    docs = C.split_documents(text, max_tokens=10)
    assert [len(d.split()) for d in docs] == [10, 10, 5]
    assert " ".join(docs) == C.normalize(text)


def test_split_documents_drops_tiny_documents():
    assert C.split_documents("word") == []
    assert C.split_documents("...") == []
    assert C.split_documents("two words") == ["two words"]


# ---------------------------------------------------------------- markup

def test_strip_html():
    page = """<html><head><title>Title words</title><style>p { color: red }</style></head>
    <body><script>var x = "hidden";</script><!-- a comment -->
    <h1>Heading</h1><p>Some <b>bo</b>ld &amp; <i>italic</i>&nbsp;text&#33;</p>
    <table><tr><td>cell</td><td>other</td></tr></table></body></html>"""
    text = C.strip_html(page)
    assert C.normalize(text) == "heading some bold italic text cell other"
    assert "\n\n" in text   # block elements keep paragraph breaks


def test_strip_roff():
    page = r""".\" Copyright comment line
.TH SIGNAL 7 2023-02-05 "Linux man-pages"
.SH NAME
signal \- overview of signals
.SH DESCRIPTION
Each signal has a current
.IR disposition ,
see
.BR sigaction (2).
.PP
\fBls\fR lists \(em quickly\(aqish \*(lqfiles\*(rq.
.ft B
.in +4n
"""
    assert C.normalize(C.strip_roff(page)) == (
        "name signal overview of signals description each signal has a current disposition "
        "see sigaction ls lists quickly ish files")


def test_strip_pod():
    pod = """=head1 NAME

perlfoo - B<bold> and C<< code >> E<gt> L<perlfunc/open>

=begin html

<p>hidden</p>

=end html

=over 4

=item first

Text I<here>.

=back

=cut
"""
    assert C.normalize(C.strip_pod(pod)) == "name perlfoo bold and code perlfunc open first text here"


def test_strip_rst():
    rst = """.. SPDX-License-Identifier: GPL-2.0

.. _label:

Title
=====

Call :func:`len` or :c:type:`struct foo`.

.. note::
   :class: small

   A note body.

.. function:: spam(eggs)
"""
    assert C.normalize(C.strip_rst(rst)) == "title call len or struct foo small a note body spam eggs"


def test_clean_gcide():
    entry = """Aback \\A*back"\\ ([.a]*b[a^]k"), adv. [Pref. a- + back; AS. on
   b[ae]c at, on, or toward the back. See {Back}.]
   1. Toward the back or rear; backward.
   [1913 Webster]
"""
    assert C.normalize(C.clean_gcide(entry)) == (
        "aback adv pref a back as on baec at on or toward the back see back "
        "toward the back or rear backward")


# ---------------------------------------------------------------- container formats

def _dictd_b64(n):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    s = ""
    while True:
        s = alphabet[n % 64] + s
        n //= 64
        if n == 0:
            return s


def _dictd(entries):
    body, index, offset = b"", [], 0
    for head, text in entries:
        raw = text.encode()
        index.append(f"{head}\t{_dictd_b64(offset)}\t{_dictd_b64(len(raw))}")
        body += raw
        offset += len(raw)
    return "\n".join(index) + "\n", body


def test_parse_dictd():
    index, body = _dictd([("00-database-info", "meta data\n"), ("apple", "apple\n  A fruit.\n"),
                          ("banana", "banana\n  Yellow fruit; long.\n")])
    index += "pomme\tB\tC\n"  # a second headword pointing into 'apple' (offset 1, length 2)
    entries = C.parse_dictd(index, body)
    # file order; the metadata entry is skipped; 'pomme' points at bytes 1..2 of the body
    assert [C.normalize(e) for e in entries] == ["et", "apple a fruit", "banana yellow fruit long"]


def test_parse_dictd_shared_entries_come_once():
    index, body = _dictd([("colour", "colour\n  Hue.\n")])
    index += index.replace("colour", "color", 1)
    assert len(C.parse_dictd(index, body)) == 1


def test_parse_wordnet_data():
    data = (
        "  1 This software and database is being provided to you, the LICENSEE, by\n"
        "00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 | that which is perceived or known\n"
        "00002098 00 a 02 able(a) 0 capable 0 001 ! 00002312 a 0101 | (usually followed by `to') having the "
        "necessary means; \"able to swim\"\n")
    assert [C.normalize(s) for s in C.parse_wordnet_data(data)] == [
        "entity that which is perceived or known",
        "able capable usually followed by to having the necessary means able to swim"]


def test_split_fortunes():
    text = "First fortune\n  -- Someone\n%\nSecond one\n%\n%\n"
    assert [C.normalize(f) for f in C.split_fortunes(text)] == ["first fortune someone", "second one"]


def _r_serialize_strsxp(strings, version=3):
    out = b"X\n" + struct.pack(">iii", version, 0x40201, 0x30500)
    if version == 3:
        out += struct.pack(">i", 5) + b"UTF-8"
    out += struct.pack(">ii", 16, len(strings))
    for s in strings:
        if s is None:
            out += struct.pack(">ii", 9, -1)
        else:
            raw = s.encode()
            out += struct.pack(">ii", 0x40009, len(raw)) + raw
    return out


def test_read_r_lazyload_db():
    blobs = [_r_serialize_strsxp(["EMMA", "", "Emma Woodhouse, handsome,", None, "clever."]),
             _r_serialize_strsxp(["Second", "vector"], version=2)]
    rdb = b"".join(struct.pack(">I", len(b)) + zlib.compress(b) for b in blobs)
    assert C.read_r_lazyload_db(rdb) == [["EMMA", "", "Emma Woodhouse, handsome,", "", "clever."],
                                         ["Second", "vector"]]


def test_read_r_lazyload_db_ignores_garbage():
    assert C.read_r_lazyload_db(b"\x00\x00\x00\x05not zlib at all") == []


# ---------------------------------------------------------------- files and the walk

def test_file_text_binary_and_compressed(tmp_path):
    (tmp_path / "bin").write_bytes(b"\x89PNG\x00\x00rest")
    (tmp_path / "t.gz").write_bytes(gzip.compress("Gzipped words".encode()))
    (tmp_path / "latin").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (tmp_path / "broken.gz").write_bytes(b"not gzip")
    assert C.file_text(tmp_path / "bin") is None
    assert C.file_text(tmp_path / "t.gz") == "Gzipped words"
    assert C.normalize(C.file_text(tmp_path / "latin")) == "cafe creme"
    assert C.file_text(tmp_path / "broken.gz") is None


def test_package_spec_skips_housekeeping():
    spec = C.GENERIC
    assert spec.selects("usr/share/doc/pkg/guide.txt")
    assert not spec.selects("usr/share/doc/pkg/copyright")
    assert not spec.selects("usr/share/doc/pkg/changelog.Debian.gz")
    assert not spec.selects("usr/share/lintian/overrides/pkg")
    assert not spec.selects("usr/share/doc/pkg/html/_sources/index.rst.txt")
    assert C.PackageSpec(r"\.txt$").selects("a/b.txt") and not C.PackageSpec(r"\.txt$").selects("a/b.html")


def _fake_tree(root):
    doc = root / "usr/share/doc/pkg"
    (doc / "html").mkdir(parents=True)
    (doc / "guide.txt").write_text("The quick brown fox.\n\nJumps over the lazy dog!\n")
    (doc / "again.txt").write_text("the QUICK brown fox jumps over the lazy dog")  # same document: dropped
    (doc / "html/page.html").write_text("<html><head><title>T</title></head><body><p>Web page &amp; words</p></body></html>")
    (doc / "notes.gz").write_bytes(gzip.compress(b"Compressed notes here."))
    (doc / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (doc / "blob").write_bytes(b"\x00\x01\x02binary data")
    (doc / "copyright").write_text("Licence text that is never read.")
    (doc / "one").write_text("single")  # one token: too short for a document
    man = root / "usr/share/man/man1"
    man.mkdir(parents=True)
    (man / "tool.1.gz").write_bytes(gzip.compress(b'.TH TOOL 1\n.SH NAME\ntool \\- does \\fBthings\\fR\n'))
    dictd = root / "usr/share/dictd"
    dictd.mkdir(parents=True)
    index, body = _dictd([("00-database-short", "Test dict\n"), ("alpha", "alpha\n  First letter.\n"),
                          ("beta", "beta\n  Second letter.\n")])
    (dictd / "test.index").write_text(index)
    (dictd / "test.dict.dz").write_bytes(gzip.compress(body))
    fortunes = root / "usr/share/games/fortunes"
    fortunes.mkdir(parents=True)
    (fortunes / "wisdom").write_text("Look before you leap.\n%\nHaste makes waste.\n%\n")
    (fortunes / "wisdom.dat").write_bytes(b"\x00\x00\x00\x02binary index")
    if hasattr(os, "symlink"):
        os.symlink("wisdom", fortunes / "wisdom.u8")
    return root


EXPECTED_LINES = [
    "alpha first letter",                            # usr/share/dictd/test.dict.dz
    "beta second letter",
    "the quick brown fox jumps over the lazy dog",   # usr/share/doc/pkg/again.txt (guide.txt repeats it)
    "web page words",                                # usr/share/doc/pkg/html/page.html
    "compressed notes here",                         # usr/share/doc/pkg/notes.gz
    "look before you leap",                          # usr/share/games/fortunes/wisdom
    "haste makes waste",
    "name tool does things",                         # usr/share/man/man1/tool.1.gz
]


def test_build_corpus_from_fake_tree(tmp_path):
    root = _fake_tree(tmp_path / "extracted")
    out = tmp_path / "corpus.txt"
    stats, writer = C.build_corpus_from_tree(root, out)
    lines = out.read_text().splitlines()
    assert lines == EXPECTED_LINES   # in sorted path order
    assert all(re.fullmatch(WORD_LINE, line) for line in lines)
    assert stats.documents == len(lines) and stats.duplicates == 1
    assert stats.files == 6   # test.dict.dz, again.txt, page.html, notes.gz, wisdom, tool.1.gz
    assert stats.tokens == writer.tokens == sum(len(line.split()) for line in lines)
    assert writer.counts["the"] == 2 and writer.counts["letter"] == 2

    # deterministic: the same bytes again
    out2 = tmp_path / "corpus2.txt"
    C.build_corpus_from_tree(root, out2)
    assert out2.read_bytes() == out.read_bytes()


def test_build_corpus_max_tokens(tmp_path):
    root = _fake_tree(tmp_path / "extracted")
    out = tmp_path / "slice.txt"
    stats, writer = C.build_corpus_from_tree(root, out, max_tokens=8)
    assert out.read_text().splitlines() == ["alpha first letter", "beta second letter", "the quick"]
    assert writer.tokens == stats.tokens == 8


def test_walk_tree_is_sorted_and_skips_links(tmp_path):
    root = _fake_tree(tmp_path / "extracted")
    rels = [rel for rel, _ in C.walk_tree(root)]
    assert rels == sorted(rels, key=lambda r: r.split("/"))
    assert not any(r.endswith((".u8", "copyright")) for r in rels)


def test_read_corpus(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b c\nd e\n\nf g h i\n")
    assert list(C.read_corpus(path)) == [["a", "b", "c"], ["d", "e"], ["f", "g", "h", "i"]]
    assert list(C.read_corpus(path, max_tokens=6)) == [["a", "b", "c"], ["d", "e"], ["f"]]
    assert list(C.read_corpus(path, max_tokens=5)) == [["a", "b", "c"], ["d", "e"]]


# ---------------------------------------------------------------- word similarity

def test_word_similarity_pairs_from_wheel(tmp_path, monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "gensim" else real(name, *a))
    assert C.word_similarity_pairs("wordsim353", cache=tmp_path) is None
    with zipfile.ZipFile(tmp_path / "gensim-0.0.0-py3-none-any.whl", "w") as z:
        z.writestr(C.SIMILARITY_FILES["wordsim353"], "# header\n# Word 1\tWord 2\tHuman (mean)\n"
                                                     "alpha\tBeta\t1.50\ngamma\tdelta\tbad\n")
        z.writestr(C.ANALOGY_FILE, ": section-a\nA b C d\n: section-b\ne f g h\n")
    assert C.word_similarity_pairs("wordsim353", cache=tmp_path) == [("alpha", "beta", 1.5)]
    assert C.word_similarity_pairs("simlex999", cache=tmp_path) is None
    assert C.word_analogy_questions(cache=tmp_path) == {"section-a": [("a", "b", "c", "d")],
                                                        "section-b": [("e", "f", "g", "h")]}
