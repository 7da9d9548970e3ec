"""Write the mixed-format evaluation corpus (PDF, HTML, DOCX, Markdown) from its plain sources.

    python bench/make_mixed.py OUT_DIR

The seven sources live in tests/data/mixed/src/ as UTF-8 text with a small markup:

    # Title               document title (one per file, first block)
    ## Section            section heading
    - item                bullet list item (consecutive lines form one list)
    1. item               numbered list item
    | a | b |             table row; the first row is the header, |---| rows are skipped
    ---page---            page break (PDF only)

Every other block (blocks are separated by blank lines) is one paragraph; its lines are joined
with single spaces. The documents are written with real writer libraries: reportlab (PDF),
python-docx (DOCX), and plain string templates (HTML with site boilerplate around an <article>).
The labeled questions are in tests/data/mixed.jsonl; bench/check_mixed.py checks the written
files against them with independent tools (pdftotext, unzip of word/document.xml, an HTML parser).

Output is deterministic: the same text on every run, and the same bytes for PDF, DOCX and HTML.
Needs `reportlab` and `python-docx`.
"""
from __future__ import annotations

import datetime as dt
import html
import io
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "tests" / "data" / "mixed" / "src"
PAGE_BREAK = "---page---"
FIXED_DATE = dt.datetime(2024, 6, 1, 9, 0, 0)


# --------------------------------------------------------------------------- source parsing

@dataclass
class Block:
    kind: str  # title | heading | para | bullets | numbered | table | page
    text: str = ""
    items: list = field(default_factory=list)  # list items, or table rows (lists of cells)


def _table_row(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _is_rule_row(line: str) -> bool:
    return set(line.replace(" ", "")) <= set("|-:")


def parse(text: str) -> list[Block]:
    blocks: list[Block] = []
    for chunk in text.replace("\r\n", "\n").split("\n\n"):
        lines = [ln.rstrip() for ln in chunk.strip("\n").split("\n") if ln.strip()]
        if not lines:
            continue
        first = lines[0]
        if first.strip() == PAGE_BREAK:
            blocks.append(Block("page"))
        elif first.startswith("# "):
            blocks.append(Block("title", first[2:].strip()))
        elif first.startswith("## "):
            blocks.append(Block("heading", first[3:].strip()))
        elif first.startswith("- "):
            blocks.append(Block("bullets", items=[ln[2:].strip() for ln in lines]))
        elif first[:1].isdigit() and ". " in first[:4]:
            blocks.append(Block("numbered", items=[ln.split(". ", 1)[1].strip() for ln in lines]))
        elif first.startswith("|"):
            rows = [_table_row(ln) for ln in lines if not _is_rule_row(ln)]
            blocks.append(Block("table", items=rows))
        else:
            blocks.append(Block("para", " ".join(ln.strip() for ln in lines)))
    return blocks


# --------------------------------------------------------------------------- documents

@dataclass
class Doc:
    source: str      # file in SRC
    out: str         # output file name
    title: str       # metadata / <title> text (deliberately not identical to the # heading)
    author: str = ""
    site: dict = field(default_factory=dict)  # HTML boilerplate


DOCS = [
    Doc("water-report.txt", "water-report.pdf",
        "Annual Report 2023 - Brennock Valley Water Authority", "Brennock Valley Water Authority"),
    Doc("soil-protocol.txt", "soil-protocol.pdf",
        "SL-07 Soil pH, EC and Organic Matter (v3.2)", "Halden Field Station Soil Laboratory"),
    Doc("trail-guide.txt", "trail-guide.html", "Tavish Ridge Loop Walk | Northern Fells Walking",
        site={
            "name": "Northern Fells Walking",
            "nav": [("/", "Home"), ("/walks/", "Walks"), ("/walks/brennock-valley/", "Brennock Valley"),
                    ("/gear/", "Gear Reviews"), ("/safety/", "Hill Safety"), ("/about/", "About Us")],
            "related": [("/walks/brennock-easy-walks/", "Five Easy Walks Around Brennock"),
                        ("/walks/hask-hill-circular/", "Hask Hill Circular: A Short Evening Stroll"),
                        ("/safety/winter-skills/", "Winter Skills: Using an Ice Axe Safely"),
                        ("/guides/bothy-code/", "The Bothy Code for First-Time Visitors")],
            "copyright": "2024 Northern Fells Walking. Route descriptions are a guide only; "
                         "conditions on the hill change.",
            "footer_links": [("/privacy/", "Privacy Policy"), ("/terms/", "Terms of Use"),
                             ("/contact/", "Contact"), ("/advertise/", "Advertise With Us")],
            "section": "walks",
        }),
    Doc("museum-exhibition.txt", "museum-exhibition.html",
        "Lights Along the Coast | Exhibitions | Saltmarsh Maritime Museum",
        site={
            "name": "Saltmarsh Maritime Museum",
            "nav": [("/", "Home"), ("/visit/", "Plan Your Visit"), ("/exhibitions/", "Exhibitions"),
                    ("/collections/", "Collections"), ("/learning/", "Schools and Learning"),
                    ("/support/", "Support Us"), ("/shop/", "Shop")],
            "related": [("/exhibitions/ships-in-bottles/", "Ships in Bottles: A Sailor's Pastime"),
                        ("/collections/figureheads/", "Figureheads of the Saltmarsh Fleet"),
                        ("/blog/conserving-a-chronometer/", "Behind the Scenes: Conserving a Chronometer"),
                        ("/visit/family-trails/", "Family Trails for the School Holidays")],
            "copyright": "2024 Saltmarsh Maritime Museum Trust. Registered charity.",
            "footer_links": [("/visit/opening-times/", "Opening Times"), ("/accessibility/", "Accessibility"),
                             ("/privacy/", "Privacy"), ("/press/", "Press Office")],
            "section": "exhibitions",
        }),
    Doc("handbook.txt", "handbook.docx",
        "Fernwood Print Co. - Employee Handbook (January 2024 edition)", "Deepa Rao"),
    Doc("grinder-manual.txt", "grinder-manual.docx",
        "Ostara C40 User Manual", "Ostara Kitchenworks"),
    Doc("lighthouse-history.txt", "lighthouse-history.md", "Greyhaven Point Lighthouse"),
]


# --------------------------------------------------------------------------- PDF (reportlab)

def write_pdf(doc: Doc, blocks: list[Block], path: Path) -> int:
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import (ListFlowable, ListItem, PageBreak, Paragraph, SimpleDocTemplate,
                                    Spacer, Table, TableStyle)

    ss = getSampleStyleSheet()
    h1 = ParagraphStyle("H1", parent=ss["Heading1"], fontName="Helvetica-Bold", fontSize=18, leading=22,
                        spaceAfter=10)
    h2 = ParagraphStyle("H2", parent=ss["Heading2"], fontName="Helvetica-Bold", fontSize=13, leading=16,
                        spaceBefore=8, spaceAfter=4)
    body = ParagraphStyle("Body", parent=ss["Normal"], fontName="Helvetica", fontSize=10.5, leading=14,
                          alignment=TA_LEFT, spaceAfter=7)
    cell = ParagraphStyle("Cell", parent=body, fontSize=9.5, leading=12, spaceAfter=0)
    cell_b = ParagraphStyle("CellB", parent=cell, fontName="Helvetica-Bold")

    story = []
    for b in blocks:
        if b.kind == "title":
            story.append(Paragraph(escape(b.text), h1))
        elif b.kind == "heading":
            story.append(Paragraph(escape(b.text), h2))
        elif b.kind == "para":
            story.append(Paragraph(escape(b.text), body))
        elif b.kind in ("bullets", "numbered"):
            items = [ListItem(Paragraph(escape(t), body)) for t in b.items]
            story.append(ListFlowable(items, bulletType="bullet" if b.kind == "bullets" else "1",
                                      start="\u2022" if b.kind == "bullets" else None, leftIndent=14))
        elif b.kind == "table":
            data = [[Paragraph(escape(c), cell_b if i == 0 else cell) for c in row]
                    for i, row in enumerate(b.items)]
            t = Table(data, hAlign="LEFT", colWidths=[5.5 * cm] + [3.8 * cm] * (len(b.items[0]) - 1))
            t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                                   ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef4")),
                                   ("VALIGN", (0, 0), (-1, -1), "TOP")]))
            story += [t, Spacer(1, 8)]
        elif b.kind == "page":
            story.append(PageBreak())

    pages = []

    def footer(canvas, d):
        pages.append(d.page)
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.setFillColor(colors.grey)
        canvas.drawString(2 * cm, 1.2 * cm, doc.author)
        canvas.drawRightString(A4[0] - 2 * cm, 1.2 * cm, f"Page {d.page}")
        canvas.restoreState()

    pdf = SimpleDocTemplate(str(path), pagesize=A4, leftMargin=2 * cm, rightMargin=2 * cm,
                            topMargin=2 * cm, bottomMargin=2.2 * cm, title=doc.title, author=doc.author,
                            subject=doc.title, creator="bench/make_mixed.py", invariant=1)
    pdf.build(story, onFirstPage=footer, onLaterPages=footer)
    expected = 1 + sum(b.kind == "page" for b in blocks)
    if max(pages) != expected:
        raise SystemExit(f"{path.name}: {max(pages)} pages, expected {expected} (a page overflowed)")
    return max(pages)


# --------------------------------------------------------------------------- DOCX (python-docx)

def _normalise_zip(data: bytes) -> bytes:
    """Same bytes on every run: fixed timestamps in the zip entries."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o644 << 16
            dst.writestr(zi, src.read(info.filename))
    return out.getvalue()


def write_docx(doc: Doc, blocks: list[Block], path: Path) -> None:
    import docx

    d = docx.Document()
    cp = d.core_properties
    cp.title = doc.title
    cp.author = doc.author
    cp.last_modified_by = doc.author
    cp.created = cp.modified = cp.last_printed = FIXED_DATE
    cp.revision = 1
    cp.comments = ""
    for b in blocks:
        if b.kind == "title":
            d.add_heading(b.text, level=1)
        elif b.kind == "heading":
            d.add_heading(b.text, level=2)
        elif b.kind == "para":
            d.add_paragraph(b.text)
        elif b.kind == "bullets":
            for t in b.items:
                d.add_paragraph(t, style="List Bullet")
        elif b.kind == "numbered":
            for t in b.items:
                d.add_paragraph(t, style="List Number")
        elif b.kind == "table":
            rows = b.items
            table = d.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for i, row in enumerate(rows):
                for j, text in enumerate(row):
                    c = table.cell(i, j)
                    c.text = text
                    if i == 0:
                        for run in c.paragraphs[0].runs:
                            run.bold = True
        elif b.kind == "page":
            pass
    buf = io.BytesIO()
    d.save(buf)
    path.write_bytes(_normalise_zip(buf.getvalue()))


# --------------------------------------------------------------------------- HTML

HTML_TEMPLATE = """<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<meta name="description" content="{description}">
<link rel="stylesheet" href="/static/css/site.css">
<style>
  .cookie-banner {{ position: fixed; bottom: 0; left: 0; right: 0; background: #222; color: #fff; padding: 1em; }}
  .layout {{ display: grid; grid-template-columns: 3fr 1fr; gap: 2em; }}
  nav.main-nav ul {{ list-style: none; display: flex; gap: 1em; }}
</style>
<script>
  window.dataLayer = window.dataLayer || [];
  function gtag() {{ dataLayer.push(arguments); }}
  gtag('consent', 'default', {{ 'analytics_storage': 'denied', 'ad_storage': 'denied' }});
  gtag('js', new Date());
  gtag('config', 'G-{tag}');
</script>
<script type="application/ld+json">
{{"@context": "https://schema.org", "@type": "Article", "headline": "{json_title}", "publisher": {{"@type": "Organization", "name": "{site}"}}}}
</script>
</head>
<body class="section-{section}">
<div id="cookie-consent" class="cookie-banner" role="dialog" aria-label="Cookie consent">
  <p>We use cookies to remember your preferences and to understand how visitors use {site}. Some are essential; others help us improve the site. You can change your choice at any time.</p>
  <button id="cookie-accept" type="button">Accept all cookies</button>
  <button id="cookie-reject" type="button">Reject non-essential</button>
  <a href="/cookies/">Cookie settings</a>
</div>
<header class="site-header">
  <a class="logo" href="/">{site}</a>
  <form class="search" action="/search/" method="get"><input type="search" name="q" placeholder="Search {site}"><button type="submit">Search</button></form>
  <nav class="main-nav" aria-label="Main menu">
    <ul>
{nav}
    </ul>
  </nav>
</header>
<div class="breadcrumbs"><a href="/">Home</a> &rsaquo; <a href="/{section}/">{section_title}</a> &rsaquo; <span>{short}</span></div>
<div class="layout">
<main>
<article>
{article}
</article>
<div class="share">Share this page: <a href="#" data-share="email">Email</a> <a href="#" data-share="copy">Copy link</a> <a href="#" data-share="print" onclick="window.print(); return false;">Print</a></div>
</main>
<aside class="sidebar" aria-label="Related articles">
  <h3>Related articles</h3>
  <ul>
{related}
  </ul>
  <div class="newsletter">
    <h3>Get our newsletter</h3>
    <p>New stories and events straight to your inbox once a month. No spam, unsubscribe at any time.</p>
    <form action="/newsletter/" method="post"><input type="email" name="email" placeholder="Your email address"><button type="submit">Sign up</button></form>
  </div>
</aside>
</div>
<footer class="site-footer">
  <ul class="footer-links">
{footer_links}
  </ul>
  <p>&copy; {copyright}</p>
</footer>
<script>
  (function () {{
    var banner = document.getElementById('cookie-consent');
    if (localStorage.getItem('cookie-choice')) {{ banner.style.display = 'none'; }}
    function choose(value) {{
      localStorage.setItem('cookie-choice', value);
      if (value === 'all') {{ gtag('consent', 'update', {{ 'analytics_storage': 'granted' }}); }}
      banner.style.display = 'none';
    }}
    document.getElementById('cookie-accept').addEventListener('click', function () {{ choose('all'); }});
    document.getElementById('cookie-reject').addEventListener('click', function () {{ choose('essential'); }});
  }})();
</script>
<script src="/static/js/site.min.js" defer></script>
</body>
</html>
"""


def _links(links, indent="      ") -> str:
    return "\n".join(f'{indent}<li><a href="{href}">{html.escape(text)}</a></li>' for href, text in links)


def write_html(doc: Doc, blocks: list[Block], path: Path) -> None:
    e = lambda s: html.escape(s, quote=False)  # noqa: E731
    parts = []
    title = next(b.text for b in blocks if b.kind == "title")
    first_para = next(b.text for b in blocks if b.kind == "para")
    for b in blocks:
        if b.kind == "title":
            parts.append(f"<h1>{e(b.text)}</h1>")
        elif b.kind == "heading":
            parts.append(f"<h2>{e(b.text)}</h2>")
        elif b.kind == "para":
            parts.append(f"<p>{e(b.text)}</p>")
        elif b.kind in ("bullets", "numbered"):
            tag = "ul" if b.kind == "bullets" else "ol"
            parts.append(f"<{tag}>\n" + "\n".join(f"  <li>{e(t)}</li>" for t in b.items) + f"\n</{tag}>")
        elif b.kind == "table":
            head, *rows = b.items
            th = "".join(f"<th>{e(c)}</th>" for c in head)
            trs = "\n".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
            parts.append(f"<table>\n<thead><tr>{th}</tr></thead>\n<tbody>\n{trs}\n</tbody>\n</table>")
    s = doc.site
    text = HTML_TEMPLATE.format(
        title=html.escape(doc.title), description=html.escape(first_para[:150]),
        tag="7XK2M4Q9" if s["section"] == "walks" else "3PLD81ZQ",
        json_title=title.replace('"', "'"), site=html.escape(s["name"]), section=s["section"],
        section_title=s["section"].capitalize(), short=html.escape(title.split(":")[0]),
        nav=_links(s["nav"]), related=_links(s["related"], "    "),
        footer_links=_links(s["footer_links"], "    "), copyright=html.escape(s["copyright"]),
        article="\n".join(parts))
    path.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- main

def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    for doc in DOCS:
        raw = (SRC / doc.source).read_text(encoding="utf-8")
        blocks = parse(raw)
        path = out / doc.out
        kind = path.suffix[1:]
        note = ""
        if kind == "pdf":
            note = f", {write_pdf(doc, blocks, path)} pages"
        elif kind == "docx":
            write_docx(doc, blocks, path)
        elif kind == "html":
            write_html(doc, blocks, path)
        elif kind == "md":
            path.write_text(raw, encoding="utf-8")
        words = len(raw.replace(PAGE_BREAK, " ").split())
        print(f"wrote {path} ({kind}, {words} source words, {path.stat().st_size} bytes{note})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
