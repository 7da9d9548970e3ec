"""Which text-extraction library to use per format (PDF, HTML, DOCX), chosen by measurement.

    python3 -m venv /tmp/xbench
    /tmp/xbench/bin/pip install reportlab python-docx pypdfium2 pypdf pdfminer.six trafilatura \\
        readability-lxml beautifulsoup4 html2text mammoth docx2txt 'markitdown[pdf,docx]'
    /tmp/xbench/bin/python bench/extraction.py --pages 20 [--out DIR]

The script writes its own test files from known source text (seeded, so every run writes the
same files), runs every installed candidate on them, and scores each output against the source:

- recall / precision / F1: word tokens (NFKC, lower-cased, ``\\w+``) matched *in order*
  (difflib on the token lists, autojunk off) over the source's / the output's token count.
  Precision is where boilerplate shows: menus, cookie banners, scripts, footers, link URLs.
- order: in-order matches over bag-of-words matches (1.0 = nothing out of order).
- ¶ blank / ¶ newline: share of the source's block boundaries (paragraph, heading, list item,
  table) that the output marks with a blank line / at least a line break. For PDF every printed
  line ends in a line break, so "newline" is trivially high there; "blank" is the useful one.
- headings / cells: share of heading texts / table-cell texts (of 2+ words) found whole, as
  contiguous tokens; "cells" is low when an extractor glues adjacent cells into one word.
- hyphen-joined (PDF): share of words the layout hyphenated at a line end ("infra-/structure")
  that come out whole.
- 2-col (PDF): in-order recall on the two-column page whose content stream follows the reading
  order / on the one whose stream draws the right column first.
- non-ASCII: share of the source's é ü ñ – — ’ “ ” … characters that survive (NFC).
- ms: milliseconds per page (PDF) or per file (HTML, DOCX), median of --repeats timed runs.

Nothing here is a test and nothing in ``qa`` imports it; the rows "qa.ingest" are this project's
own readers (library + post-processing), shown for reference and never picked as the winner.
Licences: the project is MIT, so GPL candidates (html2text) are measured but cannot win, and
PyMuPDF (AGPL) is deliberately absent.
"""
from __future__ import annotations

import argparse
import io
import random
import re
import statistics
import sys
import tempfile
import time
import traceback
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path
from typing import Callable
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------------------------
# Known source text: a seeded generator of varied English prose.
# --------------------------------------------------------------------------------------------

NOUNS = """council harbour committee budget bridge library railway survey report market river district
museum festival school hospital engineer architect historian resident farmer ferry tunnel warehouse
orchard vineyard archive lighthouse observatory laboratory ministry cooperative newspaper charity
university garden pipeline reservoir timetable inspection proposal agreement dispute exhibition
collection manuscript workshop quarry estuary monastery infrastructure administration neighbourhood
transportation documentation representative correspondence reconstruction accountability
shipbuilder cartographer apprenticeship greenhouse courthouse waterfront marketplace""".split()
ADJECTIVES = """extraordinary controversial unprecedented comprehensive intermittent considerable experimental
independent inexpensive municipal provincial temporary ambitious modest remarkable reluctant quiet
crowded narrow ancient fragile generous stubborn careful elaborate unfinished forgotten coastal
northern southern seasonal overdue peculiar sturdy weathered""".split()
HYPHENATED = """well-known long-term state-of-the-art first-class cost-effective so-called mid-sized
decision-making part-time high-speed low-income up-to-date self-driving third-party open-source
twenty-first-century old-fashioned hand-drawn""".split()
VERBS_PAST = """approved rejected postponed financed inspected renovated abandoned documented questioned
reorganised celebrated underestimated commissioned dismantled photographed negotiated expanded
audited catalogued rebuilt""".split()
VERBS_3SG = "supervises maintains publishes supports challenges records protects examines funds manages".split()
ADVERBIALS = ["over the winter", "with little fanfare", "after a long delay", "despite fierce opposition",
              "for the first time since 1978", "without consulting anyone", "in record time",
              "at the request of the mayor", "under a temporary licence", "before the autumn floods",
              "with the help of volunteers", "against the advice of its lawyers"]
INTROS = ["Meanwhile", "In practice", "By contrast", "Unsurprisingly", "For decades", "Even so",
          "Since then", "Curiously", "As a result", "On paper"]
PEOPLE = ["Zoë Marchetti", "José Álvarez", "Søren Dahl", "Renée O’Connor", "Inés Ferreira",
          "Margaret Okafor", "Tomás Novák", "Hélène Brunet", "Arjun Mehta", "Björn Lindqvist",
          "Chiara Rossi", "Kwame Asante"]
PLACES = ["Zürich", "São Paulo", "Montréal", "Malmö", "Kraków", "Ålesund", "Lisbon", "Rotterdam",
          "the old quarter", "the eastern docks", "Riverside", "the upper valley"]
FOREIGN = ["café", "façade", "résumé", "naïve", "fiancée", "entrée", "crème brûlée", "piñata", "déjà vu"]
UNITS = ["tonnes", "visitors", "households", "kilometres", "passengers", "volumes", "signatures"]


def plural(noun: str) -> str:
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + ("es" if noun.endswith(("s", "sh", "ch", "x")) else "s")


class Prose:
    """Deterministic sentences, paragraphs and headings from a seeded RNG."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def pick(self, seq):
        return self.r.choice(seq)

    def np(self) -> str:
        r = self.r.random()
        if r < 0.15:
            return f"the {self.pick(HYPHENATED)} {self.pick(NOUNS)}"
        if r < 0.55:
            return f"the {self.pick(ADJECTIVES)} {self.pick(NOUNS)}"
        return f"the {self.pick(NOUNS)}"

    def number(self) -> str:
        n = self.r.choice([self.r.randint(2, 99), self.r.randint(100, 999), self.r.randint(1000, 98000)])
        return f"{n:,}"

    def sentence(self) -> str:
        r, p = self.r, self.pick
        y1 = r.randint(1890, 2015)
        t = r.randrange(14)
        if t == 0:
            s = f"{self.np()} {p(VERBS_PAST)} {self.np()} {p(ADVERBIALS)}."
        elif t == 1:
            s = f"In {y1}, {self.np()} {p(VERBS_PAST)} {self.number()} {p(UNITS)}."
        elif t == 2:
            s = (f"According to {p(PEOPLE)}, {self.np()} was “{p(ADJECTIVES)} but {p(ADJECTIVES)}”, "
                 f"a view that {p(VERBS_PAST)} {self.np()}.")
        elif t == 3:
            s = f'{p(PEOPLE)} said: "{self.np().capitalize()} {p(VERBS_3SG)} {self.np()} {p(ADVERBIALS)}."'
        elif t == 4:
            s = (f"{self.np()} {p(VERBS_PAST)} {self.np()}, which {p(VERBS_PAST)} "
                 f"{r.randint(3, 97)}% of {self.np()}.")
        elif t == 5:
            y2 = y1 + r.randint(2, 9)
            s = (f"Between {y1}–{y2}, {self.np()} grew by {r.randint(2, 60)}.{r.randint(0, 9)} percent, "
                 f"from {self.number()} to {self.number()} {p(UNITS)}.")
        elif t == 6:
            s = (f"{self.np()}’s {p(NOUNS)} {p(VERBS_PAST)} {p(PLACES)}, where {self.np()} "
                 f"{p(VERBS_3SG)} {self.np()}.")
        elif t == 7:
            s = f"Nobody expected {self.np()} to be {p(ADJECTIVES)} — least of all {self.np()} in {p(PLACES)}."
        elif t == 8:
            s = (f"{self.np()} cost ${r.randint(1, 40)}.{r.randint(1, 9)} million, roughly {self.number()} "
                 f"euros per {p(NOUNS)}.")
        elif t == 9:
            s = f"Some called it {self.np()}; others, a “{p(FOREIGN)}” idea that {p(VERBS_3SG)} {self.np()}."
        elif t == 10:
            s = f"{p(INTROS)}, {self.np()} {p(VERBS_3SG)} {self.np()} and {p(VERBS_3SG)} {self.np()}."
        elif t == 11:
            s = f"The {p(NOUNS)} in {p(PLACES)}, a {p(FOREIGN)} of sorts, {p(VERBS_PAST)} {self.np()} in {y1}…"
        elif t == 12:
            s = f"Was {self.np()} {p(ADJECTIVES)}, or merely {p(ADJECTIVES)}? {p(PEOPLE)} was never sure."
        else:
            s = (f"{self.np()} {p(VERBS_PAST)} the {p(NOUNS)}'s {p(HYPHENATED)} {p(NOUNS)}, "
                 f"the {self.number()}th since {y1}.")
        return s[0].upper() + s[1:]

    def paragraph(self, lo: int = 3, hi: int = 6) -> str:
        return " ".join(self.sentence() for _ in range(self.r.randint(lo, hi)))

    def heading(self) -> str:
        r, p = self.r, self.pick
        t = r.randrange(4)
        if t == 0:
            h = f"{p(ADJECTIVES)} {plural(p(NOUNS))} and the {p(NOUNS)}"
        elif t == 1:
            h = f"the {p(NOUNS)} of {p(PLACES)}"
        elif t == 2:
            h = f"why the {p(NOUNS)} {p(VERBS_PAST)} the {p(NOUNS)}"
        else:
            h = f"{p(HYPHENATED)} {plural(p(NOUNS))}, {r.randint(1890, 2015)}–{r.randint(2016, 2025)}"
        small = {"and", "the", "of", "in", "to", "a"}
        words = h.split()
        return " ".join(w if (i and w in small) else w[:1].upper() + w[1:] for i, w in enumerate(words))

    def item(self) -> str:
        return self.sentence()

    def table(self, rows: int = 5) -> list[list[str]]:
        head = ["Site", "Year", "Outcome"]
        body = [[f"{self.pick(PLACES).replace('the ', '').title()} {self.pick(NOUNS)}",
                 str(self.r.randint(1950, 2025)),
                 f"{self.pick(VERBS_PAST)}, {self.number()} {self.pick(UNITS)}"] for _ in range(rows)]
        return [head] + body


@dataclass
class Block:
    kind: str  # "h" heading, "p" paragraph, "li" list item, "table"
    text: str = ""
    level: int = 0
    rows: list[list[str]] = field(default_factory=list)

    def words(self) -> str:
        return " ".join(" ".join(r) for r in self.rows) if self.kind == "table" else self.text


# --------------------------------------------------------------------------------------------
# Test files.
# --------------------------------------------------------------------------------------------

RUNNING_HEAD = "Riverside Harbour Commission · Annual Review"


def _hyphenator(word: str):
    """Break points for words of 9+ letters, longest head first (reportlab tries them in order)."""
    for i in range(len(word) - 3, 3, -1):
        yield word[:i], word[i:]


def write_pdf(path: Path, pages: int, prose: Prose) -> tuple[list[list[Block]], list[tuple[int, str, str]], dict]:
    """``pages`` prose pages plus a flowing two-column page, a two-column page drawn right column
    first, and a table page. Returns the blocks of each page, the layout hyphenations
    (page, head, tail) and the indexes of the special pages."""
    import reportlab
    from reportlab.lib.enums import TA_JUSTIFY, TA_LEFT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import (BaseDocTemplate, Flowable, Frame, ListFlowable, ListItem, NextPageTemplate,
                                    PageBreak, PageTemplate, Paragraph, Spacer, Table, TableStyle)

    fonts = Path(reportlab.__file__).parent / "fonts"
    pdfmetrics.registerFont(TTFont("Vera", str(fonts / "Vera.ttf")))  # embedded subset, as most real PDFs
    hyphens: list[tuple[int, str, str]] = []
    logging = [True]

    class P(Paragraph):
        """Records the words it hyphenated at line ends, as drawn."""

        def draw(self):
            if logging[0] and getattr(self.style, "hyphenationLang", None):
                lines = self.blPara.lines
                for a, b in zip(lines, lines[1:]):
                    wa = a[1] if isinstance(a, tuple) else [getattr(w, "text", w) for w in a.words]
                    wb = b[1] if isinstance(b, tuple) else [getattr(w, "text", w) for w in b.words]
                    if wa and wb and str(wa[-1]).endswith("-"):
                        hyphens.append((self.canv.getPageNumber() - 1, str(wa[-1]), str(wb[0])))
            super().draw()

    body_rag = ParagraphStyle("body", fontName="Vera", fontSize=10.5, leading=14.5, spaceAfter=7, alignment=TA_LEFT)
    body_hy = ParagraphStyle("bodyhy", parent=body_rag, alignment=TA_JUSTIFY, hyphenationLang=_hyphenator,
                             embeddedHyphenation=1, hyphenationMinWordLength=9)
    body_col = ParagraphStyle("col", parent=body_rag, fontSize=9.5, leading=12.5, spaceAfter=5)
    h1 = ParagraphStyle("h1", fontName="Helvetica-Bold", fontSize=20, leading=24, spaceAfter=12)
    h2 = ParagraphStyle("h2", fontName="Helvetica-Bold", fontSize=14, leading=18, spaceBefore=4, spaceAfter=8)
    h3 = ParagraphStyle("h3", fontName="Helvetica-Bold", fontSize=11.5, leading=15, spaceBefore=6, spaceAfter=5)
    heading_style = {1: h1, 2: h2, 3: h3}
    th = ParagraphStyle("th", fontName="Helvetica-Bold", fontSize=10, leading=12.5)
    td = ParagraphStyle("td", fontName="Vera", fontSize=9.5, leading=12)

    def para(text: str, style) -> Paragraph:
        return P(escape(text), style)

    W, H = A4
    margin = 2.2 * cm
    fw, fh = W - 2 * margin, H - 2 * margin - 1.0 * cm
    gap = 0.8 * cm
    colw = (fw - gap) / 2

    def decorate(canv, doc):
        canv.saveState()
        canv.setFont("Helvetica", 8.5)
        canv.drawString(margin, H - margin + 0.2 * cm, RUNNING_HEAD)
        canv.drawCentredString(W / 2, margin - 1.0 * cm, f"Page {doc.page} of {total_pages}")
        canv.restoreState()

    class ReversedColumns(Flowable):
        """Two columns whose content stream draws the right column before the left one."""

        def __init__(self, make: Callable[[], list]):
            super().__init__()
            self.make = make

        def wrap(self, aw, ah):
            self._h = ah - 1
            return aw, self._h

        def draw(self):
            c = self.canv

            def fill(x, flowables, canv):
                """Fill a column, splitting the paragraph that does not fit (as platypus would)."""
                frame = Frame(x, 0, colw, self._h, leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
                while flowables:
                    if frame.add(flowables[0], canv, trySplit=0):
                        flowables.pop(0)
                        continue
                    parts = frame.split(flowables[0], canv)
                    if len(parts) >= 2 and frame.add(parts[0], canv, trySplit=0):
                        flowables[0:1] = parts[1:]
                    break
                return flowables

            logging[0] = False
            rest = fill(0, self.make(), Canvas(io.BytesIO()))  # dry run: what fits on the left
            if not rest:
                raise RuntimeError("reversed two-column page: everything fit in the left column")
            if fill(colw + gap, rest, c):  # the right column goes first into the content stream
                raise RuntimeError("reversed two-column page overflows")
            fill(0, self.make(), c)  # then the left one, split exactly as in the dry run
            logging[0] = True

    one = PageTemplate("one", [Frame(margin, margin, fw, fh, id="f")], onPage=decorate)
    two = PageTemplate("two", [Frame(margin, margin, colw, fh, id="l"),
                               Frame(margin + colw + gap, margin, colw, fh, id="r")], onPage=decorate)
    total_pages = pages + 3
    doc = BaseDocTemplate(str(path), pagesize=A4, pageTemplates=[one, two], title="Annual Review of the Harbour",
                          author="bench/extraction.py", leftMargin=margin, rightMargin=margin,
                          topMargin=margin, bottomMargin=margin)

    def prose_page(i: int, budget: int) -> list[Block]:
        blocks = [Block("h", prose.heading(), 1 if i == 0 else 2)]
        words = len(blocks[0].text.split())
        while words < budget:
            if words > budget * 0.45 and prose.r.random() < 0.25 and not any(b.level == 3 for b in blocks):
                blocks.append(Block("h", prose.heading(), 3))
            blocks.append(Block("p", prose.paragraph(2, 5)))
            words += len(blocks[-1].text.split()) + 4
        return blocks

    flow_col, rev_col, table_page, list_page = pages // 3, pages // 3 + 1, (2 * pages) // 3 + 2, pages // 2 + 1
    special = {"two-column (flow)": flow_col, "two-column (reversed stream)": rev_col, "table": table_page}
    page_blocks: list[list[Block]] = []
    story: list = []
    for i in range(total_pages):
        if i == flow_col:
            blocks = prose_page(i, 500)
            story += [NextPageTemplate("two"), PageBreak()] if story else [NextPageTemplate("two")]
            story += [para(b.text, heading_style[b.level] if b.kind == "h" else body_col) for b in blocks]
            story += [NextPageTemplate("one")]
        elif i == rev_col:
            blocks = prose_page(i, 500)
            frozen = list(blocks)
            story += [PageBreak()]

            def make(frozen=frozen):
                return [para(b.text, heading_style[b.level] if b.kind == "h" else body_col) for b in frozen]

            story += [ReversedColumns(make)]
        elif i == table_page:
            rows = prose.table(6)
            blocks = [Block("h", prose.heading(), 2), Block("p", prose.paragraph(2, 3)), Block("table", rows=rows),
                      Block("p", prose.paragraph(3, 4))]
            cell_style = [th, td]
            tbl = Table([[para(c, cell_style[ri > 0]) for c in r] for ri, r in enumerate(rows)],
                        colWidths=[fw * 0.4, fw * 0.15, fw * 0.45])
            tbl.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, "grey"),
                                     ("VALIGN", (0, 0), (-1, -1), "TOP")]))
            story += [PageBreak(), para(blocks[0].text, h2), para(blocks[1].text, body_rag), Spacer(1, 6), tbl,
                      Spacer(1, 10), para(blocks[3].text, body_rag)]
        elif i == list_page:
            blocks = [Block("h", prose.heading(), 2), Block("p", prose.paragraph(2, 4))]
            items = [Block("li", prose.item()) for _ in range(5)]
            blocks += items + [Block("p", prose.paragraph(2, 4))]
            story += [PageBreak(), para(blocks[0].text, h2), para(blocks[1].text, body_rag),
                      ListFlowable([ListItem(para(b.text, body_rag)) for b in items], bulletType="bullet", start="•"),
                      para(blocks[-1].text, body_rag)]
        else:
            blocks = prose_page(i, 360)
            style = body_hy if i % 2 == 0 else body_rag  # even pages: justified + hyphenated, like LaTeX
            if story:
                story.append(PageBreak())
            story += [para(b.text, heading_style[b.level] if b.kind == "h" else style) for b in blocks]
        page_blocks.append(blocks)
    doc.build(story)
    if doc.page != total_pages:
        raise RuntimeError(f"PDF has {doc.page} pages, expected {total_pages}: a page overflowed")
    return page_blocks, hyphens, special


COOKIE = ("We use cookies and similar technologies to personalise content and advertising, to provide social "
          "media features and to analyse our traffic. We also share information about your use of our site with "
          "our advertising and analytics partners. Accept all Reject all Manage preferences")
NAV = ["Home", "News", "Opinion", "Sport", "Culture", "Lifestyle", "Podcasts", "Subscribe", "Sign in"]
FOOTER = ("© 2025 The Riverside Chronicle Ltd. All rights reserved. Registered office: 14 Quay Street. "
          "Privacy policy · Terms of use · Contact us · Careers · Advertise with us")
SCRIPT = """window.dataLayer = window.dataLayer || [];
function gtag(){dataLayer.push(arguments);} gtag('js', new Date()); gtag('config', 'G-RX42CHRON');
document.addEventListener('DOMContentLoaded', function () { var banner = document.getElementById('consent');
if (localStorage.getItem('consentGiven')) { banner.style.display = 'none'; } });"""
STYLE = """body { font-family: Georgia, serif; margin: 0 auto; max-width: 72rem; color: #222; }
nav ul, .menu ul { list-style: none; display: flex; gap: 1.5rem; } .cookie { position: fixed; bottom: 0; }
.sidebar { float: right; width: 18rem; font-size: 0.9rem; } footer, .site-footer { border-top: 1px solid #ccc; }"""
HTML_VARIANTS = ["article", "div", "article+comments", "div+list+table", "main", "entities", "br", "short+comments"]
AD = ('<div class="ad-slot"><span>Advertisement</span><p>Continue reading below. Save 40% on your first year '
      'of unlimited digital access.</p></div>')


def html_page(variant: str, prose: Prose) -> tuple[str, list[Block]]:
    """One news-style page: (html, the blocks of its main text)."""
    r = prose.r
    title = prose.heading()
    blocks = [Block("h", title, 1)]
    for k in range(r.randint(2, 3) if variant == "short+comments" else r.randint(6, 9)):
        if k in (3, 6):
            blocks.append(Block("h", prose.heading(), 2))
        blocks.append(Block("p", prose.paragraph(2, 5)))
        if variant == "div+list+table" and k == 2:
            blocks += [Block("li", prose.item()) for _ in range(r.randint(4, 6))]
        if variant == "div+list+table" and k == 4:
            blocks.append(Block("table", rows=prose.table(4)))
    semantic = not variant.startswith(("div", "br"))
    ents = variant == "entities"

    def t(text: str) -> str:
        s = escape(text)
        if ents:
            s = (s.replace("é", "&eacute;").replace("’", "&rsquo;").replace("–", "&ndash;")
                 .replace("—", "&mdash;").replace("“", "&ldquo;").replace("”", "&rdquo;").replace(", ", ",&nbsp;", 1))
        return s

    related = [prose.heading() for _ in range(5)]
    most_read = [prose.heading() for _ in range(4)]
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '  <meta charset="utf-8">',
           f"  <title>{t(title)} | The Riverside Chronicle</title>",
           '  <meta name="viewport" content="width=device-width, initial-scale=1">',
           f"  <style>\n{STYLE}\n  </style>",
           f'  <script type="application/ld+json">{{"@type": "NewsArticle", "headline": "{escape(title)}", '
           f'"publisher": "The Riverside Chronicle"}}</script>',
           f"  <script>\n{SCRIPT}\n  </script>", "</head>", "<body>"]
    menu = "\n".join(f'      <li><a href="/{n.lower().replace(" ", "-")}">{n}</a></li>' for n in NAV)
    if semantic:
        out += ['  <header class="site-header">', '    <a class="logo" href="/">The Riverside Chronicle</a>',
                '    <nav aria-label="Main">', "      <ul>", menu, "      </ul>", "    </nav>", "  </header>"]
    else:
        out += ['  <div class="site-header">', '    <a class="logo" href="/">The Riverside Chronicle</a>',
                '    <div class="menu">', "      <ul>", menu, "      </ul>", "    </div>", "  </div>"]
    out += [f'  <div class="cookie" id="consent"><p>{COOKIE}</p>'
            '<button>Accept all</button><button>Reject all</button></div>']
    main_open, main_close = {"article": ("<main>\n  <article>", "  </article>\n</main>"),
                             "article+comments": ("<main>\n  <article>", "  </article>"),
                             "main": ("<main>", "</main>"),
                             "entities": ('<main>\n  <article class="story">', "  </article>\n</main>"),
                             "short+comments": ("<main>\n  <article>", "  </article>"),
                             "br": ('<div id="content">\n  <div class="text">', "  </div>"),
                             }.get(variant, ('<div id="content">\n  <div class="post-body">', "  </div>"))
    out.append(main_open)
    author = prose.pick(PEOPLE)
    for i, b in enumerate(blocks):
        if b.kind == "h":
            out.append(f"    <h{b.level}>{t(b.text)}</h{b.level}>")
            if b.level == 1:
                out.append(f'    <p class="byline">By {escape(author)} · 12 March 2025 · 6 min read</p>'
                           '\n    <div class="share"><a href="#">Share on Facebook</a> <a href="#">Share on X</a> '
                           '<a href="#">Email</a></div>')
        elif b.kind == "p" and variant == "br":  # old CMS: one div, paragraphs separated by <br><br>
            out.append(f"    {t(b.text)}<br><br>")
        elif b.kind == "p":
            text = t(b.text)
            words = text.split(" ")
            if len(words) > 12 and i % 2:  # an inline link, as in real articles
                j = len(words) // 2
                text = " ".join(words[:j]) + f' <a href="/archive/{i}">{" ".join(words[j:j + 3])}</a> ' + \
                    " ".join(words[j + 3:])
            out.append(f"    <p>{text}</p>")
        elif b.kind == "li":
            if blocks[i - 1].kind != "li":
                out.append("    <ul>")
            out.append(f"      <li>{t(b.text)}</li>")
            if i + 1 == len(blocks) or blocks[i + 1].kind != "li":
                out.append("    </ul>")
        elif b.kind == "table":
            out.append("    <table>")
            out.append("      <tr>" + "".join(f"<th>{t(c)}</th>" for c in b.rows[0]) + "</tr>")
            out += ["      <tr>" + "".join(f"<td>{t(c)}</td>" for c in row) + "</tr>" for row in b.rows[1:]]
            out.append("    </table>")
        if variant in ("main", "short+comments") and i == 2:
            out.append("    " + AD)
        if variant == "article+comments" and i == 4:
            out.append(f'    <p class="read-more"><strong>Read more:</strong> <a href="/r/1">{related[0]}</a></p>')
            out.append('    <div class="newsletter"><h3>Sign up to the Morning Briefing</h3><p>Our editors’ pick '
                       'of the day’s stories, in your inbox every weekday at 7am.</p>'
                       '<form><input type="email" placeholder="Your email"><button>Sign up</button></form></div>')
    out.append('    <p class="tags">Topics: <a href="/t/harbour">Harbour</a> <a href="/t/council">Council</a> '
               '<a href="/t/history">Local history</a></p>')
    out.append(main_close)
    if variant in ("article+comments", "short+comments"):
        out.append('  <section class="comments"><h2>12 comments</h2>')
        for _ in range(4 if variant == "article+comments" else 7):
            out.append(f'    <div class="comment"><p class="who">{escape(prose.pick(PEOPLE))} · 2 hours ago</p>'
                       f"<p>{escape(prose.paragraph(1, 2))}</p><a href='#'>Reply</a> <a href='#'>Report</a></div>")
        out.append("  </section>\n</main>")
    side_open, side_close = ('<aside class="sidebar">', "</aside>") if semantic else ('<div class="sidebar">', "</div>")
    out += [f"  {side_open}", "    <h2>Related stories</h2>", "    <ul>"]
    out += [f'      <li><a href="/story/{k}">{escape(h)}</a></li>' for k, h in enumerate(related)]
    out += ["    </ul>", "    <h2>Most read</h2>", "    <ol>"]
    out += [f'      <li><a href="/popular/{k}">{escape(h)}</a></li>' for k, h in enumerate(most_read)]
    out += ["    </ol>", f"  {side_close}"]
    if not semantic:
        out.append("</div>")
    f_open, f_close = ("<footer>", "</footer>") if semantic else ('<div class="site-footer">', "</div>")
    out += [f"  {f_open}", f"    <p>{FOOTER}</p>", '    <ul class="social"><li><a href="#">Facebook</a></li>'
            '<li><a href="#">Instagram</a></li><li><a href="#">Newsletter</a></li></ul>', f"  {f_close}",
            "  <script>window.addEventListener('load', function(){ console.log('ads ready'); });</script>",
            "</body>", "</html>"]
    return "\n".join(out) + "\n", blocks


DOCX_HEADER = "Riverside Harbour Commission — internal draft, do not circulate"
DOCX_FOOTER = "Planning Office · Quay Street 14 · Version 3"


def _w_r(text: str, OxmlElement, qn, deleted: bool = False):
    run = OxmlElement("w:r")
    t = OxmlElement("w:delText" if deleted else "w:t")
    t.set(qn("xml:space"), "preserve")
    t.text = text
    run.append(t)
    return run


def _w_p(text: str, OxmlElement, qn):
    p = OxmlElement("w:p")
    p.append(_w_r(text, OxmlElement, qn))
    return p


def write_docx(path: Path, prose: Prose, variant: int) -> list[Block]:
    import docx
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    d = docx.Document()
    r = prose.r
    title = prose.heading()
    d.core_properties.title = title
    d.sections[0].header.paragraphs[0].text = DOCX_HEADER
    d.sections[0].footer.paragraphs[0].text = DOCX_FOOTER
    blocks = [Block("h", title, 1)]
    d.add_heading(title, level=0)
    if variant % 3 == 0:  # an abstract inside a body-level content control (w:sdt), as cover pages have
        abstract = prose.paragraph(2, 3)
        sdt = OxmlElement("w:sdt")
        pr = OxmlElement("w:sdtPr")
        alias = OxmlElement("w:alias")
        alias.set(qn("w:val"), "Abstract")
        pr.append(alias)
        content = OxmlElement("w:sdtContent")
        content.append(_w_p(abstract, OxmlElement, qn))
        sdt.append(pr)
        sdt.append(content)
        d.element.body.insert(len(d.element.body) - 1, sdt)  # before the final w:sectPr
        blocks.append(Block("p", abstract))

    def tracked(text: str):
        """A paragraph under review: three words inserted (w:ins, part of the text) and an obsolete
        phrase deleted (w:del, not part of it)."""
        words = text.split(" ")
        j = len(words) // 2
        p = d.add_paragraph()
        p.add_run(" ".join(words[:j]) + " ")
        ins = OxmlElement("w:ins")
        dele = OxmlElement("w:del")
        for el, n in ((ins, 1), (dele, 2)):
            el.set(qn("w:id"), str(n))
            el.set(qn("w:author"), "Reviewer")
            el.set(qn("w:date"), "2025-03-12T09:00:00Z")
        ins.append(_w_r(" ".join(words[j:j + 3]) + " ", OxmlElement, qn))
        dele.append(_w_r("superseded wording withdrawn by counsel ", OxmlElement, qn, deleted=True))
        p._p.append(ins)
        p._p.append(dele)
        p.add_run(" ".join(words[j + 3:]))

    def add_p(text: str, link: bool = False):
        p = d.add_paragraph()
        if link:  # a hyperlink in the middle of the paragraph (python-docx < 1.0 dropped its text)
            words = text.split(" ")
            j = len(words) // 2
            p.add_run(" ".join(words[:j]) + " ")
            rid = p.part.relate_to(f"https://example.org/doc/{j}", RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
            hl = OxmlElement("w:hyperlink")
            hl.set(qn("r:id"), rid)
            run = OxmlElement("w:r")
            t = OxmlElement("w:t")
            t.set(qn("xml:space"), "preserve")
            t.text = " ".join(words[j:j + 3])
            run.append(t)
            hl.append(run)
            p._p.append(hl)
            p.add_run(" " + " ".join(words[j + 3:]))
        else:
            p.add_run(text)

    n = r.randint(7, 10)
    for k in range(n):
        if k in (2, 6):
            h = prose.heading()
            lvl = 1 if k == 2 else 2
            d.add_heading(h, level=lvl)
            blocks.append(Block("h", h, lvl + 1))
        text = prose.paragraph(2, 5)
        if k == 4 and variant % 2 == 1:
            tracked(text)
        else:
            add_p(text, link=(k == 1))
        blocks.append(Block("p", text))
        if k == 3:
            style = "List Bullet" if variant % 2 == 0 else "List Number"
            for _ in range(r.randint(3, 5)):
                it = prose.item()
                d.add_paragraph(it, style=style)
                blocks.append(Block("li", it))
        if k == 5:
            rows = prose.table(4)
            tbl = d.add_table(rows=len(rows), cols=3)
            tbl.style = "Table Grid"
            for ri, row in enumerate(rows):
                for ci, cell in enumerate(row):
                    tbl.cell(ri, ci).text = cell
            merged = tbl.cell(2, 0).merge(tbl.cell(2, 1))  # a merged cell: repeated by naive readers
            merged.text = f"{rows[2][0]} {rows[2][1]}"
            for p in merged.paragraphs[1:]:
                p._p.getparent().remove(p._p)
            rows[2] = [merged.text, rows[2][2]]
            blocks.append(Block("table", rows=rows))
    d.save(str(path))
    return blocks


# --------------------------------------------------------------------------------------------
# Candidates. Each returns a list of page texts (PDF, when the library works per page) or one text.
# --------------------------------------------------------------------------------------------

PERMISSIVE = {"MIT", "BSD-2", "BSD-3", "Apache-2.0", "Apache-2.0/BSD-3"}


@dataclass
class Candidate:
    name: str
    licence: str
    make: Callable[[], Callable[[Path], "str | list[str]"]]  # imports lazily; raises ImportError if absent
    note: str = ""
    reference: bool = False  # this project's own reader: shown, never the winner
    variant: bool = False  # the same library as another row, called differently: shown, never the winner

    @property
    def eligible(self) -> bool:
        return self.licence in PERMISSIVE and not self.reference and not self.variant


def _markitdown():
    from markitdown import MarkItDown

    t0 = time.perf_counter()
    md = MarkItDown()
    _markitdown.init_s = time.perf_counter() - t0

    def run(p: Path) -> str:
        return md.convert(str(p)).text_content
    return run


_markitdown.init_s = 0.0


def _pdfium(strip_marker: bool):
    def make():
        import pypdfium2 as pdfium

        def run(p: Path) -> list[str]:
            pdf = pdfium.PdfDocument(str(p))
            out = []
            for page in pdf:
                tp = page.get_textpage()
                text = tp.get_text_range()
                tp.close()
                page.close()
                out.append(text.replace("\ufffe", "") if strip_marker else text)
            pdf.close()
            return out
        return run
    return make


def _pypdf():
    from pypdf import PdfReader

    return lambda p: [pg.extract_text() or "" for pg in PdfReader(str(p)).pages]


def _pdfminer():
    from pdfminer.high_level import extract_text

    def run(p: Path) -> list[str]:
        pages = extract_text(str(p)).split("\f")  # one pass; pdfminer ends every page with a form feed
        return pages[:-1] if pages and not pages[-1].strip() else pages
    return run


def _qa_reader(kind: str):
    def make():
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        import importlib

        reader = getattr(importlib.import_module(f"qa.ingest.{kind}"), f"read_{kind}")

        def run(p: Path):
            doc = reader(p.read_bytes(), p.name)
            if kind == "pdf" and doc.pages:
                starts = list(doc.pages) + [len(doc.text)]
                return [doc.text[a:b] for a, b in zip(starts, starts[1:])]
            return doc.text
        return run
    return make


def _trafilatura(**kw):
    def make():
        import trafilatura

        return lambda p: trafilatura.extract(p.read_text("utf-8"), include_comments=False, **kw) or ""
    return make


_BLOCK_TAGS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "tr", "table", "blockquote",
               "section", "article", "main", "pre", "dd", "dt", "dl", "figcaption", "header", "footer", "body"}


def html_fragment_to_text(fragment: str) -> str:
    """Block-aware text of an HTML fragment: a blank line around every block element."""
    import lxml.html

    root = lxml.html.fromstring(fragment)
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag in ("script", "style"):
            el.text = ""
        elif el.tag in _BLOCK_TAGS:
            el.text = "\n\n" + (el.text or "")
            el.tail = "\n\n" + (el.tail or "")
        elif el.tag == "br":
            el.tail = "\n" + (el.tail or "")
        elif el.tag in ("td", "th"):
            el.tail = " " + (el.tail or "")
    text = re.sub(r"[ \t\xa0]+", " ", root.text_content())
    return re.sub(r"\s*\n\s*\n\s*", "\n\n", text).strip()


def _readability():
    from readability import Document

    return lambda p: html_fragment_to_text(Document(p.read_text("utf-8")).summary(html_partial=True))


def _bs4(strip: bool):
    def make():
        from bs4 import BeautifulSoup

        def run(p: Path) -> str:
            soup = BeautifulSoup(p.read_text("utf-8"), "lxml")
            if strip:
                for tag in soup(["nav", "header", "footer", "aside", "script", "style", "form", "noscript"]):
                    tag.decompose()
            return soup.get_text()
        return run
    return make


def _html2text():
    import html2text

    def run(p: Path) -> str:
        h = html2text.HTML2Text()
        h.ignore_links, h.ignore_images, h.body_width = True, True, 0
        return h.handle(p.read_text("utf-8"))
    return run


def _python_docx():
    import docx
    from docx.table import Table

    def run(p: Path) -> str:
        d = docx.Document(str(p))
        parts = []
        for item in d.iter_inner_content():  # paragraphs and tables in body order (python-docx >= 1.0)
            if isinstance(item, Table):
                rows = []
                for row in item.rows:
                    cells: list[str] = []
                    for c in row.cells:
                        if not cells or cells[-1] != c.text:  # a merged cell is listed once per grid column
                            cells.append(c.text)
                    rows.append("\t".join(cells))
                parts.append("\n".join(rows))
            elif item.text.strip():
                parts.append(item.text)
        return "\n\n".join(parts)
    return run


def _mammoth():
    import mammoth

    def run(p: Path) -> str:
        with open(p, "rb") as f:
            return mammoth.extract_raw_text(f).value
    return run


def _docx2txt():
    import docx2txt

    return lambda p: docx2txt.process(str(p))


CANDIDATES: dict[str, list[Candidate]] = {
    "pdf": [
        Candidate("pypdfium2", "Apache-2.0/BSD-3", _pdfium(True), "get_text_range(); U+FFFE hyphen marks removed"),
        Candidate("pypdfium2 (raw)", "Apache-2.0/BSD-3", _pdfium(False), "get_text_range() as is",
                  variant=True),
        Candidate("pypdf", "BSD-3", lambda: _pypdf(), "page.extract_text()"),
        Candidate("pdfminer.six", "MIT", lambda: _pdfminer(), "extract_text(), split on \\f"),
        Candidate("markitdown", "MIT", _markitdown, "pdfplumber + pdfminer underneath"),
        Candidate("qa.ingest (pypdfium2 + line joining)", "MIT", _qa_reader("pdf"), "this project's reader",
                  reference=True),
    ],
    "html": [
        Candidate("trafilatura (defaults)", "Apache-2.0", _trafilatura(), "extract(include_comments=False)"),
        Candidate("trafilatura (favor_precision)", "Apache-2.0", _trafilatura(favor_precision=True), variant=True),
        Candidate("trafilatura (favor_recall)", "Apache-2.0", _trafilatura(favor_recall=True), variant=True),
        Candidate("readability-lxml", "Apache-2.0", lambda: _readability(), "summary() → block-aware text"),
        Candidate("BeautifulSoup get_text", "MIT", _bs4(False), "whole page"),
        Candidate("BeautifulSoup, semantic tags dropped", "MIT", _bs4(True),
                  "nav/header/footer/aside/script/style/form removed first"),
        Candidate("html2text", "GPL-3", lambda: _html2text(), "links and images ignored; GPL: cannot be chosen"),
        Candidate("markitdown", "MIT", _markitdown, "markdownify underneath"),
        Candidate("qa.ingest (trafilatura XML)", "MIT", _qa_reader("html"), "this project's reader", reference=True),
    ],
    "docx": [
        Candidate("python-docx", "MIT", lambda: _python_docx(), "iter_inner_content(): paragraphs + tables"),
        Candidate("mammoth", "BSD-2", lambda: _mammoth(), "extract_raw_text()"),
        Candidate("docx2txt", "MIT", lambda: _docx2txt(), "process()"),
        Candidate("markitdown", "MIT", _markitdown, "mammoth → HTML → markdown underneath"),
        Candidate("qa.ingest (python-docx)", "MIT", _qa_reader("docx"), "this project's reader", reference=True),
    ],
}


# --------------------------------------------------------------------------------------------
# Scoring.
# --------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\w+")
SPECIAL_CHARS = "éèêëïçüöãñåÅóøáíú–—’“”…"


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace("\r\n", "\n").replace("\r", "\n")


def tokenise(text: str) -> list[tuple[str, int, int]]:
    return [(m.group().lower(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


@dataclass
class Unit:
    """One scored piece of source: a PDF page, or a whole HTML/DOCX file."""
    blocks: list[Block]
    hyphens: list[tuple[str, str]] = field(default_factory=list)  # layout-hyphenated (head, tail)
    tag: str = ""

    def tokens(self) -> list[str]:
        return [w for b in self.blocks for w, _, _ in tokenise(normalise(b.words()))]

    def boundaries(self) -> list[tuple[int, int]]:
        """(last token of a block, first token of the next) for consecutive blocks."""
        out, pos, prev_end = [], 0, None
        for b in self.blocks:
            n = len(tokenise(normalise(b.words())))
            if n:
                if prev_end is not None:
                    out.append((prev_end, pos))
                prev_end = pos + n - 1
            pos += n
        return out


@dataclass
class Score:
    src: int = 0
    out: int = 0
    matched: int = 0
    bag: int = 0
    bounds: int = 0
    bounds_nl: int = 0
    bounds_blank: int = 0
    heads: int = 0
    heads_found: int = 0
    cells: int = 0
    cells_found: int = 0
    hy: int = 0
    hy_joined: int = 0
    chars: int = 0
    chars_kept: int = 0

    def add(self, other: "Score") -> None:
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(other, k))

    @staticmethod
    def ratio(a: int, b: int) -> float | None:
        return a / b if b else None

    @property
    def recall(self):
        return self.ratio(self.matched, self.src)

    @property
    def precision(self):
        return self.ratio(self.matched, self.out)

    @property
    def f1(self):
        r, p = self.recall or 0.0, self.precision or 0.0
        return 2 * r * p / (r + p) if r + p else 0.0


def score(units: list[Unit], output: str) -> Score:
    """Score one output text against the units it should contain (one unit, or a whole document)."""
    out = normalise(output)
    ot = tokenise(out)
    ow = [w for w, _, _ in ot]
    src: list[str] = []
    bounds: list[tuple[int, int]] = []
    for u in units:
        off = len(src)
        bounds += [(a + off, b + off) for a, b in u.boundaries()]
        src += u.tokens()
    s = Score(src=len(src), out=len(ow))
    sm = SequenceMatcher(None, src, ow, autojunk=False)
    mapping: dict[int, int] = {}
    for a, b, n in sm.get_matching_blocks():
        for k in range(n):
            mapping[a + k] = b + k
    s.matched = len(mapping)
    s.bag = sum((Counter(src) & Counter(ow)).values())
    for a, b in bounds:
        if a in mapping and b in mapping:
            gap = out[ot[mapping[a]][2]:ot[mapping[b]][1]]
            s.bounds += 1
            s.bounds_nl += "\n" in gap or "\f" in gap
            s.bounds_blank += bool(re.search(r"\n[^\S\n]*\n", gap)) or "\f" in gap
    joined = " " + " ".join(ow) + " "
    for u in units:
        for b in u.blocks:
            pieces = [b.text] if b.kind == "h" else [c for row in b.rows for c in row] if b.kind == "table" else []
            for piece in pieces:
                words = [w for w, _, _ in tokenise(normalise(piece))]
                if b.kind == "table" and len(words) < 2:
                    continue  # a lone year or "Site" would be found anywhere
                key = " " + " ".join(words) + " "
                if b.kind == "h":
                    s.heads += 1
                    s.heads_found += key in joined
                else:
                    s.cells += 1
                    s.cells_found += key in joined
        want = Counter()
        for head, tail in u.hyphens:
            h, t = _TOKEN.findall(normalise(head).lower()), _TOKEN.findall(normalise(tail).lower())
            if h and t:
                want[(h[-1], t[0])] += 1
        for (h, t), n in want.items():
            split = sum(1 for x, y in zip(ow, ow[1:]) if x == h and y == t)
            s.hy += n
            s.hy_joined += n - min(n, split)
    src_chars = Counter(c for u in units for b in u.blocks for c in unicodedata.normalize("NFC", b.words())
                        if c in SPECIAL_CHARS)
    out_chars = Counter(c for c in unicodedata.normalize("NFC", output) if c in SPECIAL_CHARS)
    s.chars = sum(src_chars.values())
    s.chars_kept = sum((src_chars & out_chars).values())
    return s


# --------------------------------------------------------------------------------------------
# Running and reporting.
# --------------------------------------------------------------------------------------------

@dataclass
class Result:
    cand: Candidate
    score: Score | None = None
    ms: float | None = None
    special: dict[str, float] = field(default_factory=dict)
    error: str = ""
    note: str = ""


def run_candidate(cand: Candidate, files: list[tuple[Path, list[Unit]]], units_per_time: int, repeats: int,
                  out_dir: Path) -> Result:
    res = Result(cand)
    try:
        fn = cand.make()
    except ImportError as err:
        res.error = f"not installed ({err.name or err})"
        return res
    except Exception as err:  # noqa: BLE001 - a broken install is a row, not a crash
        res.error = f"not importable: {type(err).__name__}: {err}"
        return res
    try:
        outputs = [fn(p) for p, _ in files]  # warm-up run; these outputs are the ones scored
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for p, _ in files:
                fn(p)
            times.append(time.perf_counter() - t0)
    except Exception as err:  # noqa: BLE001
        res.error = f"failed: {type(err).__name__}: {err}"
        traceback.print_exc(file=sys.stderr)
        return res
    res.ms = 1000 * statistics.median(times) / units_per_time
    total = Score()
    slug = re.sub(r"[^a-z0-9]+", "-", cand.name.lower()).strip("-")
    (out_dir / slug).mkdir(parents=True, exist_ok=True)
    for (path, units), output in zip(files, outputs):
        if isinstance(output, list) and len(output) == len(units):
            per = [(u, o) for u, o in zip(units, output)]
            (out_dir / slug / f"{path.stem}.txt").write_text("\n\n<<<PAGE BREAK (bench)>>>\n\n".join(output), "utf-8")
            for u, o in per:
                s = score([u], o)
                total.add(s)
                if u.tag:
                    res.special[u.tag] = s.recall or 0.0
        else:
            text = "\f".join(output) if isinstance(output, list) else output
            (out_dir / slug / f"{path.stem}.txt").write_text(text, "utf-8")
            if len(units) > 1 and text.count("\f") >= len(units) - 1:  # pages marked: score page by page
                pages = text.split("\f")[: len(units)]
                for u, o in zip(units, pages):
                    s = score([u], o)
                    total.add(s)
                    if u.tag:
                        res.special[u.tag] = s.recall or 0.0
            else:
                if len(units) > 1:
                    res.note = "one text for the whole document (no page marks): scored as one"
                total.add(score(units, text))
                for u in units:  # special pages: their own in-order recall inside the whole text
                    if u.tag:
                        res.special[u.tag] = _recall_within(u, text)
    res.score = total
    return res


def _recall_within(unit: Unit, text: str) -> float:
    """In-order recall of one page inside a whole-document output (the page's tokens against the
    window of the output where its first and last matched tokens fall)."""
    src = unit.tokens()
    ow = [w for w, _, _ in tokenise(normalise(text))]
    sm = SequenceMatcher(None, src, ow, autojunk=False)
    return sum(n for _, _, n in sm.get_matching_blocks()) / max(1, len(src))


def fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def table(fmt_name: str, results: list[Result], unit_label: str) -> tuple[str, Result | None]:
    pdf = fmt_name == "pdf"
    cols = ["library", "licence", "F1", "recall", "precision", "order", "¶ blank", "¶ newline", "headings"]
    cols += ["cells"]
    if pdf:
        cols += ["hyphen-joined", "2-col flow / reversed"]
    cols += ["non-ASCII", f"ms/{unit_label}", "how it was called"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    ok = sorted((r for r in results if r.score), key=lambda r: -r.score.f1)
    for r in ok:
        s = r.score
        name = r.cand.name + ("" if r.cand.eligible else " †" if r.cand.reference else " ‡" if r.cand.variant
                              else " ✗")
        row = [name, r.cand.licence, fmt(s.f1), fmt(s.recall), fmt(s.precision),
               fmt(Score.ratio(s.matched, s.bag)), fmt(Score.ratio(s.bounds_blank, s.bounds), 2),
               fmt(Score.ratio(s.bounds_nl, s.bounds), 2), fmt(Score.ratio(s.heads_found, s.heads), 2),
               fmt(Score.ratio(s.cells_found, s.cells), 2)]
        if pdf:
            row += [fmt(Score.ratio(s.hy_joined, s.hy), 2),
                    f"{fmt(r.special.get('two-column (flow)'), 2)} / "
                    f"{fmt(r.special.get('two-column (reversed stream)'), 2)}"]
        note = "; ".join(x for x in (r.cand.note, r.note) if x)
        if r.cand.name == "markitdown" and _markitdown.init_s:
            note += f"; MarkItDown() itself took {_markitdown.init_s:.2f} s"
        row += [fmt(Score.ratio(s.chars_kept, s.chars), 2), f"{r.ms:.1f}", note]
        lines.append("| " + " | ".join(row) + " |")
    for r in results:
        if not r.score:
            lines.append("| " + " | ".join([r.cand.name, r.cand.licence, r.error] + [""] * (len(cols) - 3)) + " |")
    winner = pick_winner(ok)
    return "\n".join(lines), winner


def pick_winner(ok: list[Result]) -> Result | None:
    """Best F1 among permissive libraries; within 0.01 F1 of the best, the fastest."""
    pool = [r for r in ok if r.cand.eligible]
    if not pool:
        return None
    best = max(r.score.f1 for r in pool)
    return min((r for r in pool if r.score.f1 >= best - 0.01), key=lambda r: r.ms)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=None,
                    help="where to write the test files, sources and outputs (default: a temp dir)")
    ap.add_argument("--pages", type=int, default=20, help="prose pages in the PDF (plus 3 special pages)")
    ap.add_argument("--html-files", type=int, default=16)
    ap.add_argument("--docx-files", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=3, help="timed runs; the median is reported")
    ap.add_argument("--seed", type=int, default=20251126)
    ap.add_argument("--only", choices=["pdf", "html", "docx"], action="append", help="run only these formats")
    args = ap.parse_args()
    if args.pages < 4:
        ap.error("--pages must be at least 4")
    out = args.out or Path(tempfile.mkdtemp(prefix="extraction-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    formats = args.only or ["pdf", "html", "docx"]
    print(f"test files and outputs in {out}", file=sys.stderr)

    data: dict[str, tuple[list[tuple[Path, list[Unit]]], int, str]] = {}
    try:
        if "pdf" in formats:
            (out / "pdf").mkdir(exist_ok=True)
            pdf_path = out / "pdf" / "annual-review.pdf"
            pages, hyphens, special = write_pdf(pdf_path, args.pages, Prose(args.seed))
            tags = {v: k for k, v in special.items()}
            units = [Unit(b, [(h, t) for p, h, t in hyphens if p == i], tags.get(i, "")) for i, b in enumerate(pages)]
            data["pdf"] = ([(pdf_path, units)], len(units), "page")
            print(f"PDF: {len(units)} pages ({args.pages} prose pages, half of them justified and hyphenated, "
                  f"+ flowing two-column, reversed-stream two-column, table); {len(hyphens)} layout hyphenations",
                  file=sys.stderr)
        if "html" in formats:
            (out / "html").mkdir(exist_ok=True)
            prose = Prose(args.seed + 1)
            files = []
            for i in range(args.html_files):
                variant = HTML_VARIANTS[i % len(HTML_VARIANTS)]
                html, blocks = html_page(variant, prose)
                p = out / "html" / f"page{i + 1:02d}-{variant.replace('+', '-')}.html"
                p.write_text(html, "utf-8")
                files.append((p, [Unit(blocks)]))
            data["html"] = (files, len(files), "file")
        if "docx" in formats:
            (out / "docx").mkdir(exist_ok=True)
            prose = Prose(args.seed + 2)
            files = []
            for i in range(args.docx_files):
                p = out / "docx" / f"doc{i + 1:02d}.docx"
                files.append((p, [Unit(write_docx(p, prose, i))]))
            data["docx"] = (files, len(files), "file")
    except ImportError as err:
        sys.exit(f"cannot write the test files: {err} (install reportlab and python-docx)")
    src_dir = out / "source"
    src_dir.mkdir(exist_ok=True)
    for files, _, _ in data.values():
        for p, units in files:
            text = "\n\n\f".join("\n\n".join(b.words() for b in u.blocks) for u in units)
            (src_dir / f"{p.stem}.txt").write_text(text, "utf-8")

    print(f"## Text extraction benchmark — {time.strftime('%Y-%m-%d')}, Python {sys.version.split()[0]}, "
          f"seed {args.seed}, {args.repeats} timed runs\n")
    winners = []
    for kind in formats:
        files, n_units, unit_label = data[kind]
        results = []
        for cand in CANDIDATES[kind]:
            print(f"  {kind}: {cand.name} …", file=sys.stderr, flush=True)
            results.append(run_candidate(cand, files, n_units, args.repeats, out / "extracted" / kind))
        n_src = sum(len(u.tokens()) for _, units in files for u in units)
        what = {"pdf": f"1 PDF of {n_units} pages", "html": f"{n_units} web pages",
                "docx": f"{n_units} Word files"}[kind]
        print(f"### {kind.upper()} — {what}, {n_src:,} source words\n")
        md, winner = table(kind, results, unit_label)
        print(md)
        print()
        winners.append((kind, winner))
    print("✗ cannot be chosen (licence); † this project's own reader, for reference; "
          "‡ the same library as another row, called differently\n")
    for kind, w in winners:
        if w:
            print(f"{kind.upper()} winner: {w.cand.name} (F1 {w.score.f1:.3f}, {w.ms:.1f} ms/"
                  f"{data[kind][2]}; rule: best F1 among permissive licences, the fastest within 0.01 of it)")
        else:
            print(f"{kind.upper()} winner: none (no permissive candidate installed)")


if __name__ == "__main__":
    main()
