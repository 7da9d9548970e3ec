"""Readers: real PDF, HTML and DOCX files in, text with exact offsets, titles and locators out;
every bad file becomes one line naming it and what to do, and the rest is still indexed."""
from __future__ import annotations

import logging

import pytest

from qa.ingest.documents import load_documents
from qa.ingest import UnreadableFile, detect, read
from qa.ingest.titles import title_of_text

from ..conftest import ROOT, build_bot, write_corpus
from ..writers import html_page, write_docx, write_pdf, write_scanned_pdf, write_zip_bomb_docx

PAGES = [
    ["The Harbour Board met on 3 March to review the dredging programme.",
     "Members agreed that the eastern channel must be kept at a depth of nine metres."],
    ["Dredging of the eastern channel will cost 4.2 million pounds over three years.",
     "The contract was awarded to Tidewell Marine after a public tender."],
    ["Work starts in September, outside the breeding season of the harbour seals.",
     "A seal survey will be repeated every spring until the work is finished."],
]


@pytest.fixture
def mixed(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    write_pdf(folder / "harbour.pdf", PAGES, title="Harbour Board Minutes", heading="Harbour Board Minutes, March")
    write_docx(folder / "handbook.docx", "Staff Handbook", [
        ("Holidays", ["Every employee receives 27 days of paid holiday a year."]),
        ("Expenses", ["Claims for travel must be filed within 30 days of the journey."]),
    ], table=[["Grade", "Allowance"], ["Junior", "12 pounds a day"], ["Senior", "18 pounds a day"]],
        bullets=["Bring your badge every day.", "Lock your screen when you leave."])
    (folder / "trail.html").write_text(html_page("Ridge Walk", "The Ridge Walk Guide", [
        ("Getting there", ["The number 61 bus stops at the trailhead every two hours."]),
        ("Safety", ["Mountain rescue is called out most often for ankle injuries on the steep descent."]),
    ]), encoding="utf-8")
    (folder / "notes.md").write_text("# Garden Notes\n\n## Roses\n\nPrune the climbing roses in late February.\n", encoding="utf-8")
    return folder


def test_pdf_text_pages_and_title(mixed):
    doc = read(mixed / "harbour.pdf", mixed)
    assert doc.kind == "pdf" and doc.title == "Harbour Board Minutes" and len(doc.pages) == 3
    for n, paragraphs in enumerate(PAGES, start=1):
        for p in paragraphs:
            at = doc.text.index(p)  # each paragraph comes back whole, as one line of text
            assert doc.page_at(at) == n
    assert "\x02" not in doc.text and "\ufffe" not in doc.text


def test_html_keeps_the_article_and_drops_the_boilerplate(mixed):
    doc = read(mixed / "trail.html", mixed)
    assert doc.kind == "html" and doc.title == "The Ridge Walk Guide"
    assert "number 61 bus" in doc.text and "ankle injuries" in doc.text
    for junk in ("cookies", "Sign in", "Copyright", "Ten gadgets", "track()", "console.log", "color: red"):
        assert junk not in doc.text
    assert doc.section_at(doc.text.index("ankle injuries")) == "Safety"


def test_docx_paragraphs_lists_tables_headings_and_title(mixed):
    doc = read(mixed / "handbook.docx", mixed)
    assert doc.kind == "docx" and doc.title == "Staff Handbook"
    assert "Senior | 18 pounds a day" in doc.text and "• Lock your screen" in doc.text
    assert doc.section_at(doc.text.index("30 days")) == "Expenses"


def test_markdown_is_verbatim_with_its_heading_path(mixed):
    doc = read(mixed / "notes.md", mixed)
    assert doc.text == (mixed / "notes.md").read_text(encoding="utf-8")
    assert doc.title == "Garden Notes" and doc.section_at(doc.text.index("Prune")) == "Roses"


def test_format_is_detected_by_content_as_well_as_by_name(mixed, tmp_path):
    (mixed / "report.txt").write_bytes((mixed / "harbour.pdf").read_bytes())  # a PDF saved under the wrong name
    (mixed / "page").write_text(html_page("Plain", "A Page Without Extension", [("S", ["Body text of the page."])]))
    assert read(mixed / "report.txt", mixed).kind == "pdf"
    assert read(mixed / "page", mixed).kind == "html"
    assert detect("x.docx", (mixed / "handbook.docx").read_bytes()[:4096]) == "docx"


def test_shipped_articles_show_their_headlines():
    titles = {d.source: d.title for d in load_documents(ROOT / "corpus")[0]}
    assert titles["000_77ba88b572b902ff.txt"] == "AI Arms Race Update: China Closes Model Gap While US Dominates Data Centers"
    assert titles["002_bee61e89716221f4.txt"] == "12 Strategic Dimensions of the US vs China AI Race: The 2026 Industrialization Verdict"
    assert titles["001_06bfcd0d09ee8628.txt"] == "Where China Is Catching Up — and Where America Still Leads"
    assert titles["003_1d80c323a32be6d0.txt"] == "Is China Closing the A.I. Gap Faster Than Expected?"
    assert titles["004_bab159b4ce78312f.txt"] == "The 2026 Scorecard for the US-China AI Race"


@pytest.mark.parametrize("text, title", [
    ("Home › News › Tech\nChips Get Cheaper\nBody.", "Chips Get Cheaper"),
    ("Skip to content\n\nThe Real Headline Here\n", "The Real Headline Here"),
    ("By Jane Doe\n2026-01-02\nA Headline\n", "A Headline"),
])
def test_navigation_crumbs_are_not_titles(text, title):
    assert title_of_text(text, "x") == title


def test_pdf_citations_carry_the_page_and_html_the_section(mixed, tmp_path, embedder):
    bot = build_bot(mixed, tmp_path / "ix", embedder)
    c = bot.ask("How much will dredging the eastern channel cost?").citations[0]
    assert c.source == "harbour.pdf" and c.kind == "pdf"
    assert "4.2 million" in c.highlight and c.page == 2 and c.pages[0] <= 2 <= c.pages[1]
    text = bot.text("harbour.pdf")
    assert text[c.start:c.end] == c.passage  # offsets point into the extracted text the API returns
    c = bot.ask("What are mountain rescue teams usually called out for on the ridge walk?").citations[0]
    assert c.source == "trail.html" and c.page is None and c.section == "Safety" and "ankle" in c.highlight


# ---------------------------------------------------------------- the bad-input matrix

def _bad_files(folder, tmp_path):
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage\n%%EOF")
    write_pdf(folder / "locked.pdf", [["A secret paragraph about the harbour."]], encrypt="s3cret")
    write_scanned_pdf(folder / "scan.pdf")
    (folder / "blank.html").write_text("  \n\t \n")
    (folder / "scripts.html").write_text("<html><head><script>" + "var a=1;" * 2000 + "</script></head><body><script>alert(1)</script></body></html>")
    write_zip_bomb_docx(folder / "bomb.docx")
    (folder / "fake.pdf").write_text("this is not a pdf at all", encoding="utf-8")
    (folder / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (folder / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)


EXPECTED = {  # file → words its one-line warning must contain
    "empty.txt": "empty", "binary.txt": "binary", "corrupt.pdf": "damaged PDF (PDFium: data format error)", "locked.pdf": "password",
    "scan.pdf": "OCR", "scripts.html": "no main text", "blank.html": "empty", "bomb.docx": "zip bomb", "fake.pdf": "not a PDF",
    "latin1.txt": "UTF-8",
}


def test_each_bad_file_gets_one_clear_line_and_the_rest_is_indexed(mixed, tmp_path, caplog):
    _bad_files(mixed, tmp_path)
    with caplog.at_level(logging.INFO):
        docs, warnings = load_documents(mixed)
    # Only qa's own line per file: no extraction library's log ("trafilatura: discarding data: None").
    assert not [r for r in caplog.records if not r.name.startswith("qa") and r.levelno >= logging.WARNING], caplog.text
    assert {d.source for d in docs} == {"harbour.pdf", "handbook.docx", "trail.html", "notes.md"}
    for name, words in EXPECTED.items():
        lines = [w for w in warnings if w.startswith(f"Skipped {name}:")]
        assert len(lines) == 1, (name, warnings)
        assert words in lines[0] and "\n" not in lines[0] and ";" in lines[0]  # what is wrong; what to do
    assert any("1 .png" in w for w in warnings)  # unsupported types are reported, not silently dropped


def test_a_bad_file_added_later_loses_nothing_already_indexed(mixed, tmp_path, embedder):
    bot = build_bot(mixed, tmp_path / "ix", embedder)
    before = set(bot.index.documents)
    bad = tmp_path / "incoming"
    bad.mkdir()
    _bad_files(bad, tmp_path)
    good = write_corpus(tmp_path / "more", {"ferry.md": "# Ferries\n\nThe winter ferry leaves at 7:15 from the north pier.\n"})
    warnings = bot.add(sorted(p for p in bad.iterdir()) + [good / "ferry.md"])
    assert set(bot.index.documents) == before | {"ferry.md"}
    assert len(warnings) == len(EXPECTED) + 1  # the .png too
    assert all(w.startswith("Skipped ") and "\n" not in w for w in warnings)
    assert not any((mixed / name).exists() for name in EXPECTED)  # refused copies are not left in the corpus
    assert bot.ask("When does the winter ferry leave?").citations[0].source == "ferry.md"


def test_numbers_alone_on_a_line_survive_page_number_footers(tmp_path):
    from reportlab.pdfgen import canvas

    path = tmp_path / "table.pdf"
    c = canvas.Canvas(str(path))
    for page in range(1, 4):
        c.drawString(72, 800, "Harbour Board annual figures")
        y = 760
        for line in ("Year", "Units", f"{2020 + page}", f"{240000 + page * 1000}", "The figures were audited in spring."):
            c.drawString(72, y, line)
            y -= 20
        c.drawString(300, 40, f"Page {page}")
        c.showPage()
    c.save()
    doc = read(path, tmp_path)
    assert "Page 1" not in doc.text and "Harbour Board annual figures" not in doc.text  # running header and footer
    for page in range(1, 4):
        assert f"{2020 + page}" in doc.text and f"{240000 + page * 1000}" in doc.text


@pytest.mark.parametrize("name, data, kind", [
    ("notes.md", b"# Notes\n\nA PDF file begins with the header %PDF-1.7 and a version.\n", "markdown"),
    ("README", b"Read me first.\n\nThis folder holds the harbour minutes.\n", "text"),
    ("page.xhtml", b'<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html><html xmlns="http://www.w3.org/1999/xhtml">'
                   b"<head><title>Tide Tables</title></head><body><article><h1>Tide Tables for Skye</h1>"
                   b"<p>High water at Portree is at 6:40 on Monday, and the range is 4.1 metres.</p></article></body></html>", "html"),
    ("sjis.html", '<html><head><meta charset="shift_jis"><title>港</title></head><body><article><h1>港の案内</h1>'
                  '<p>フェリーは毎朝七時に北の桟橋から出航します。冬の間も運航しています。</p></article></body></html>'.encode("shift_jis"), "html"),
])
def test_detection_and_decoding_edge_cases(tmp_path, name, data, kind):
    (tmp_path / name).write_bytes(data)
    doc = read(tmp_path / name, tmp_path)
    assert doc.kind == kind
    if name == "page.xhtml":
        assert doc.title == "Tide Tables for Skye" and "4.1 metres" in doc.text
    if name == "sjis.html":
        assert "フェリーは毎朝七時" in doc.text


def test_utf16_text_says_how_to_fix_it(tmp_path):
    (tmp_path / "old.txt").write_bytes("Notes in UTF-16".encode("utf-16"))
    with pytest.raises(UnreadableFile, match="UTF-16.*UTF-8"):
        read(tmp_path / "old.txt", tmp_path)


def test_a_fixed_file_loses_its_warning_after_add(tmp_path, embedder):
    corpus = write_corpus(tmp_path / "c", {"a.md": "# A\n\nThe ferry leaves at 7:15.\n", "b.txt": bytes(range(256)) * 8})
    bot = build_bot(corpus, tmp_path / "ix", embedder)
    assert any(w.startswith("Skipped b.txt:") for w in bot.index.manifest["skipped"])
    (corpus / "b.txt").write_text("Bees\n\nA hive holds 40,000 bees.\n", encoding="utf-8")
    assert bot.add([corpus / "b.txt"]) == []
    assert not any("b.txt" in w for w in bot.index.manifest["skipped"])
