"""PDF text layer with pypdfium2 (Apache-2.0/BSD-3; PyMuPDF is AGPL and not an option).

PDFium gives one line of text per printed line. Lines are joined back into paragraphs, so
that a sentence is a sentence for the highlighter, and the offset where each page starts is kept
for ``Citation.page``.
"""
from __future__ import annotations

import re
import statistics

from qa.ingest.base import Limits, UnreadableFile, assemble
from qa.ingest.titles import clean_title, looks_like_title
from qa.types import Document

_BULLET = re.compile(r"^\s*(?:[•▪◦●■\-–*]|\d{1,2}[.)]|[a-z][.)])\s")
_DIGITS = re.compile(r"\d+")
# Titles that writing software puts in the metadata, not the author: "Microsoft Word - report.docx", "Untitled".
_GENERATED_TITLE = re.compile(r"^(microsoft \w+ - |untitled\b|document\d*$)|\.(docx?|pdf|odt|rtf|txt|indd)$", re.I)
_SOFT_HYPHEN = "\u00ad\ufffe\x02"  # how PDFium reports a hyphen the layout inserted


def _paragraphs(page_text: str) -> list[str]:
    """A page's lines joined into paragraphs: a line shorter than the page's usual width, or a
    bullet on the next line, ends one."""
    lines = [ln.strip() for ln in page_text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    full = [len(ln) for ln in lines if ln]
    if not full:
        return []
    width = statistics.quantiles(full, n=10)[7] if len(full) >= 4 else max(full)  # the 80th percentile
    paras: list[str] = []
    current = ""
    for i, line in enumerate(lines):
        if not line:
            if current:
                paras.append(current)
                current = ""
            continue
        if current:
            if current[-1] in _SOFT_HYPHEN:
                current = current[:-1] + line
            elif current.endswith("-") and line[:1].islower():
                current += line  # "well-\nknown": keep the hyphen, drop the break
            else:
                current += " " + line
        else:
            current = line
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if len(line) < 0.7 * width or not nxt or _BULLET.match(nxt):
            paras.append(current)
            current = ""
    if current:
        paras.append(current)
    return [p.replace("\ufffe", "").replace("\x02", "").replace("\u00ad", "") for p in paras]


def _running_lines(pages: list[str]) -> set[str]:
    """Headers and footers: lines near a page's top or bottom that recur (numbers aside) on
    most pages. They are layout, not text, and would otherwise interrupt sentences."""
    if len(pages) < 2:
        return set()
    counts: dict[str, int] = {}
    for text in pages:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        for key in {_DIGITS.sub("#", ln) for ln in lines[:2] + lines[-2:]}:
            counts[key] = counts.get(key, 0) + 1
    return {k for k, n in counts.items() if n >= max(2, 0.6 * len(pages))}


def read_pdf(data: bytes, source: str, limits: Limits | None = None) -> Document:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as err:
        if "password" in str(err).lower():
            raise UnreadableFile(source, "is password-protected", "save a copy without a password and add that") from err
        # pypdfium2 says "Failed to load document (PDFium: Data format error)."; the reason is the part in brackets.
        why = re.search(r"\(PDFium: ([^)]*)\)", str(err))
        detail = f"PDFium: {why.group(1).lower()}" if why else str(err).rstrip(".")
        raise UnreadableFile(source, f"is a damaged PDF ({detail})", "open it in a PDF viewer and save or print it to a new PDF") from err
    try:
        texts = []
        for page in pdf:
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        meta = pdf.get_metadata_dict()
    finally:
        pdf.close()
    running = _running_lines(texts)
    blocks: list[tuple[str, int]] = []
    page_first_block: list[int] = []
    for text in texts:
        lines = text.replace("\r\n", "\n").split("\n")
        filled = [i for i, ln in enumerate(lines) if ln.strip()]
        edges = set(filled[:2] + filled[-2:])  # running lines are only ever at a page's top or bottom
        kept = "\n".join(ln for i, ln in enumerate(lines) if i not in edges or _DIGITS.sub("#", ln.strip()) not in running)
        page_first_block.append(len(blocks))
        blocks.extend((p, 0) for p in _paragraphs(kept))
    if sum(len(t.strip()) for t in texts) < 5 * max(1, len(texts)):  # a few stray characters a page at most
        raise UnreadableFile(source, f"has no text layer ({len(texts)} page(s) of images: a scan?)",
                             "run OCR on it first (e.g. `ocrmypdf in.pdf out.pdf`) and add the result")
    title = clean_title(meta.get("Title"))
    if not looks_like_title(title) or _GENERATED_TITLE.search(title):
        title = next((t for t, _ in blocks[:8] if looks_like_title(t)), "") or source.rsplit("/", 1)[-1]
    for i, (text, _) in enumerate(blocks[:8]):  # the title line as printed is the document's top heading
        if " ".join(text.split()) == title:
            blocks[i] = (text, 1)
            break
    return assemble(source, "pdf", blocks, title[:200], pages=page_first_block)
