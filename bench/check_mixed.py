"""Check the mixed-format corpus written by bench/make_mixed.py against tests/data/mixed.jsonl.

    python bench/check_mixed.py OUT_DIR [--questions tests/data/mixed.jsonl]

The written files are read back with tools independent of the writers:

* PDF: `pdfinfo` (page count, title) and `pdftotext -layout -f N -l N` per page (poppler-utils).
  Every PDF has at least 3 pages and exactly one page per `---page---` section of its source;
  every source paragraph is found on the page its section says (so nothing overflowed), and every
  PDF question's answer is on the stated page and no other.
* DOCX: word/document.xml is read straight out of the zip; answers must be inside one <w:p>.
  Core-properties title, Heading 1/Heading 2 styles and a table or list are checked too.
* HTML: answers must be inside one element of <article>; <title> differs from <h1>; the page
  has a <nav>, <script>, sidebar, cookie banner and <footer> around the article.
* Markdown: answers must be inside one blank-line-separated block.

Answers are compared after whitespace normalisation. Each answer must also occur exactly once
(case-insensitively) in the whole corpus, counting all extracted text including page footers and
HTML boilerplate, must be an exact substring of one block of its source file, must be 2 to 8 words,
and must not be copied into the question. Exits 1 if anything fails.

read_corpus(out_dir, docs, src_dir) and check_answer(row, corpus) take any document table in
make_mixed's Doc form, so other labeled sets reuse them (bench/check_everyday.py does).
"""
from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree as ET

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from make_mixed import DOCS, SRC, parse  # noqa: E402  (source markup only)

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
FAILURES: list[str] = []


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def fail(msg: str) -> None:
    FAILURES.append(msg)
    print("FAIL", msg)


# --------------------------------------------------------------------------- extraction

def pdf_pages(path: Path) -> tuple[list[str], str]:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    n = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    title = re.search(r"^Title:\s*(.*)$", info, re.M).group(1).strip()
    pages = [subprocess.run(["pdftotext", "-layout", "-f", str(i), "-l", str(i), str(path), "-"],
                            capture_output=True, text=True, check=True).stdout for i in range(1, n + 1)]
    return pages, title


def docx_parts(path: Path) -> dict:
    with zipfile.ZipFile(path) as z:
        doc = ET.fromstring(z.read("word/document.xml"))
        core = ET.fromstring(z.read("docProps/core.xml"))
    paras = []  # (text, style, in_table)
    body = doc.find(f"{W}body")

    def walk(el, in_table):
        for child in el:
            if child.tag == f"{W}p":
                style = child.find(f"{W}pPr/{W}pStyle")
                paras.append(("".join(t.text or "" for t in child.iter(f"{W}t")),
                              style.get(f"{W}val") if style is not None else "", in_table))
            elif child.tag == f"{W}tbl":
                walk(child, True)
            else:
                walk(child, in_table)

    walk(body, False)
    title = core.find("{http://purl.org/dc/elements/1.1/}title")
    return {"paras": paras, "title": title.text if title is not None else "",
            "tables": len(doc.findall(f".//{W}tbl"))}


class HTMLBlocks(HTMLParser):
    """Text of each block element, noting whether it is inside <article>; skips script/style."""
    BLOCK = {"p", "li", "h1", "h2", "h3", "td", "th", "title", "div", "a", "button", "span"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.blocks: list[tuple[str, str, bool]] = []  # (tag, text, in_article)
        self.tags = collections.Counter()
        self.ids: set[str] = set()
        self.classes: set[str] = set()
        self._buf: list[str] = []
        self._article_depth = 0

    def _flush(self):
        text = norm("".join(self._buf))
        if text:
            tag = next((t for t in reversed(self.stack) if t in self.BLOCK), self.stack[-1] if self.stack else "")
            self.blocks.append((tag, text, self._article_depth > 0))
        self._buf = []

    def handle_starttag(self, tag, attrs):
        self._flush()
        a = dict(attrs)
        self.tags[tag] += 1
        if a.get("id"):
            self.ids.add(a["id"])
        self.classes.update((a.get("class") or "").split())
        if tag in ("meta", "link", "input", "br", "img"):
            return
        self.stack.append(tag)
        if tag == "article":
            self._article_depth += 1

    def handle_endtag(self, tag):
        self._flush()
        if tag in self.stack:
            while self.stack:
                t = self.stack.pop()
                if t == "article":
                    self._article_depth -= 1
                if t == tag:
                    break

    def handle_data(self, data):
        if self.stack and self.stack[-1] in ("script", "style"):
            return
        self._buf.append(data)


def html_parts(path: Path) -> HTMLBlocks:
    p = HTMLBlocks()
    p.feed(path.read_text(encoding="utf-8"))
    p.close()
    return p


def md_blocks(path: Path) -> list[str]:
    return [norm(b) for b in path.read_text(encoding="utf-8").split("\n\n") if b.strip()]


# --------------------------------------------------------------------------- checks

def source_units(blocks) -> list[list[str]]:
    """Per page: the smallest text units of the source (paragraphs, list items, table cells, headings)."""
    pages: list[list[str]] = [[]]
    for b in blocks:
        if b.kind == "page":
            pages.append([])
        elif b.kind in ("para", "title", "heading"):
            pages[-1].append(b.text)
        elif b.kind in ("bullets", "numbered"):
            pages[-1].extend(b.items)
        elif b.kind == "table":
            pages[-1].extend(c for row in b.items for c in row)
    return pages


def read_corpus(out: Path, docs: list, src: Path) -> dict:
    """Read every written document back; `docs` are make_mixed.Doc-like (source, out, title).

    Returns {"docs", "units", "places", "everything", "docx"}: places[name] lists the units where
    an answer may sit, (normalised text, location), the location being the 1-based page for a PDF,
    (style, in_table) for a DOCX paragraph, the tag for HTML, None for Markdown; everything[name] is
    all of the extracted text, boilerplate included (for the uniqueness check).
    """
    docs = {d.out: d for d in docs}
    sources = {d.out: parse((src / d.source).read_text(encoding="utf-8")) for d in docs.values()}
    units = {name: source_units(bl) for name, bl in sources.items()}

    # ---- read every output back; build per-document "places" where an answer may sit
    places: dict[str, list[tuple[str, object]]] = {}  # name -> [(normalised text, location)]
    everything: dict[str, str] = {}                      # name -> all extracted text (for uniqueness)
    docx_info: dict[str, dict] = {}
    for name, d in docs.items():
        path = out / name
        if not path.exists():
            fail(f"{name}: missing from {out}")
            continue
        ext = path.suffix
        if ext == ".pdf":
            pages, title = pdf_pages(path)
            want = len(units[name])
            print(f"{name}: {len(pages)} pages (source has {want} sections), title {title!r}")
            if len(pages) < 3:
                fail(f"{name}: only {len(pages)} pages")
            if len(pages) != want:
                fail(f"{name}: {len(pages)} pages but the source has {want} page sections (overflow?)")
            if title != d.title:
                fail(f"{name}: PDF title {title!r} != {d.title!r}")
            normed = [norm(p) for p in pages]
            for pno, us in enumerate(units[name], 1):
                for u in us:
                    # a short unit (a heading) may also sit inside a longer unit of another page
                    on = [i for i, t in enumerate(normed, 1) if norm(u) in t
                          and (i == pno or not any(norm(u) in norm(v) for v in units[name][i - 1]))]
                    if on != [pno]:
                        fail(f"{name}: source text on page {pno} found on pages {on}: {u[:60]!r}")
            places[name] = [(t, i) for i, t in enumerate(normed, 1)]
            everything[name] = " \n ".join(normed)
        elif ext == ".docx":
            info = docx_parts(path)
            docx_info[name] = info
            styles = collections.Counter(s for _, s, _ in info["paras"])
            lists = styles["ListBullet"] + styles["ListNumber"]
            print(f"{name}: {len(info['paras'])} paragraphs, {info['tables']} tables, {lists} list items, "
                  f"Heading1 {styles['Heading1']}, Heading2 {styles['Heading2']}, title {info['title']!r}")
            if info["title"] != d.title:
                fail(f"{name}: core title {info['title']!r} != {d.title!r}")
            if not styles["Heading1"] or not styles["Heading2"]:
                fail(f"{name}: no Heading 1 / Heading 2 paragraphs")
            if not (info["tables"] or lists):
                fail(f"{name}: no table or list")
            places[name] = [(norm(t), (s, tbl)) for t, s, tbl in info["paras"]]
            everything[name] = " \n ".join(norm(t) for t, _, _ in info["paras"])
        elif ext == ".html":
            h = html_parts(path)
            title = next((t for tag, t, _ in h.blocks if tag == "title"), "")
            h1 = next((t for tag, t, art in h.blocks if tag == "h1" and art), "")
            outside = sum(1 for _, _, art in h.blocks if not art)
            inside = sum(1 for _, _, art in h.blocks if art)
            print(f"{name}: <title> {title!r}, <h1> {h1!r}, {inside} blocks in <article>, {outside} outside, "
                  f"tags nav={h.tags['nav']} script={h.tags['script']} aside={h.tags['aside']} "
                  f"footer={h.tags['footer']} h2={h.tags['h2']}")
            if not title or not h1 or title == h1:
                fail(f"{name}: <title> must exist and differ from <h1>")
            for tag in ("nav", "script", "aside", "footer", "article", "h2", "p"):
                if not h.tags[tag]:
                    fail(f"{name}: no <{tag}>")
            if not any("cookie" in x for x in h.ids | h.classes):
                fail(f"{name}: no cookie banner")
            places[name] = [(t, tag) for tag, t, art in h.blocks if art]
            everything[name] = " \n ".join(t for _, t, _ in h.blocks)
        elif ext == ".md":
            blocks = md_blocks(path)
            raw = (src / d.source).read_text(encoding="utf-8")
            if path.read_text(encoding="utf-8") != raw:
                fail(f"{name}: not a verbatim copy of its source")
            print(f"{name}: {len(blocks)} blocks, verbatim copy of {d.source}")
            places[name] = [(b, None) for b in blocks]
            everything[name] = " \n ".join(blocks)

    return {"docs": docs, "units": units, "places": places, "everything": everything, "docx": docx_info,
            "lower": {n: t.lower() for n, t in everything.items()}}


def check_answer(r: dict, corpus: dict) -> list | None:
    """The answer-level checks shared by every labeled set; returns where the answer was found in
    its source's output (None if the source is unknown). PDF: hits must be exactly [page]."""
    docs, units, places = corpus["docs"], corpus["units"], corpus["places"]
    rid, ans, src = r["id"], norm(r.get("answer", "")), r.get("source")
    if src not in docs:
        fail(f"{rid}: unknown source {src!r}")
        return None
    if not 2 <= len(ans.split()) <= 8:
        fail(f"{rid}: answer has {len(ans.split())} words")
    if ans.lower() in norm(r["question"]).lower():
        fail(f"{rid}: the question contains its answer verbatim")
    # exact substring of exactly one source unit
    src_hits = [u for us in units[src] for u in us if r["answer"] in u]
    if len(src_hits) != 1:
        fail(f"{rid}: answer is in {len(src_hits)} source units of {docs[src].source}")
    # once in the whole corpus
    corpus_lower = corpus["lower"]
    total = sum(t.count(ans.lower()) for t in corpus_lower.values())
    if total != 1:
        where = [n for n, t in corpus_lower.items() if ans.lower() in t]
        fail(f"{rid}: answer {ans!r} occurs {total} times in the corpus ({', '.join(where)})")
    # where the output says it is
    hits = [loc for text, loc in places.get(src, []) if ans in text]
    if src.endswith(".pdf"):
        if hits != [r.get("page")]:
            fail(f"{rid}: {src} answer {ans!r} on pages {hits}, stated page {r.get('page')}")
    elif not hits:
        fail(f"{rid}: answer {ans!r} not found in {'<article> of ' if src.endswith('.html') else ''}{src}")
    return hits


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--questions", type=Path, default=ROOT / "tests" / "data" / "mixed.jsonl")
    args = ap.parse_args()
    corpus = read_corpus(args.out_dir, DOCS, SRC)
    docs = corpus["docs"]

    # ---- questions
    rows = [json.loads(ln) for ln in args.questions.read_text(encoding="utf-8").splitlines() if ln.strip()]
    ids = [r.get("id") for r in rows]
    for dup in [i for i, c in collections.Counter(ids).items() if c > 1]:
        fail(f"duplicate id {dup}")
    answerable = [r for r in rows if r.get("answerable", True)]
    unanswerable = [r for r in rows if r.get("answerable", True) is False]
    per_source = collections.Counter()
    pdf_pages_used = collections.defaultdict(set)
    docx_structured = 0

    for r in unanswerable:
        if set(r) != {"id", "question", "answerable"}:
            fail(f"{r['id']}: unanswerable rows have exactly id, question, answerable")
    for r in answerable:
        rid, src = r["id"], r.get("source")
        keys = {"id", "question", "answer", "source"} | ({"page"} if src and src.endswith(".pdf") else set())
        if set(r) != keys:
            fail(f"{rid}: keys {sorted(r)} != {sorted(keys)}")
        hits = check_answer(r, corpus)
        if hits is None:
            continue
        per_source[src] += 1
        if src.endswith(".pdf"):
            pdf_pages_used[src].add(r["page"])
        elif src.endswith(".docx") and any(tbl or s.startswith("List") for s, tbl in hits):
            docx_structured += 1

    # ---- coverage
    n_pdf = sum(c for s, c in per_source.items() if s.endswith(".pdf"))
    on_later = sum(1 for r in answerable if r.get("page", 1) >= 2)
    if len(answerable) < 48:
        fail(f"only {len(answerable)} answerable questions")
    if len(unanswerable) < 10:
        fail(f"only {len(unanswerable)} unanswerable questions")
    if set(per_source) != set(docs):
        fail(f"no questions on {sorted(set(docs) - set(per_source))}")
    if n_pdf < 14:
        fail(f"only {n_pdf} PDF questions")
    for s, used in pdf_pages_used.items():
        if len(used) < 3:
            fail(f"{s}: answers on pages {sorted(used)} only")
    if docx_structured < 4:
        fail(f"only {docx_structured} DOCX answers in a table or list")

    print()
    by_format = collections.Counter()
    for s, c in sorted(per_source.items()):
        by_format[Path(s).suffix[1:]] += c
        pages = f"  pages {dict(sorted(collections.Counter(r['page'] for r in answerable if r['source'] == s).items()))}" \
            if s.endswith(".pdf") else ""
        print(f"  {s:26s} {c:3d} answerable{pages}")
    print(f"  by format: {dict(sorted(by_format.items()))}")
    print(f"  answerable {len(answerable)}, unanswerable {len(unanswerable)}, PDF answers on page 2+ {on_later}, "
          f"DOCX answers in a table or list {docx_structured}")
    if FAILURES:
        print(f"\n{len(FAILURES)} check(s) FAILED")
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
