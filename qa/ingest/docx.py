"""Word documents with python-docx (MIT): paragraphs, headings, lists and tables in body order."""
from __future__ import annotations

import io
import re
import zipfile

from qa.ingest.base import Limits, UnreadableFile, assemble
from qa.ingest.titles import clean_title
from qa.types import Document

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.I)


def check_zip(data: bytes, source: str, limits: Limits) -> None:
    """Refuse a zip bomb before anything inflates it: the sizes the archive declares bound what
    Python will ever decompress (it stops at the declared size and fails the CRC)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
            names = {i.filename for i in infos}
    except zipfile.BadZipFile as err:
        raise UnreadableFile(source, "is a damaged zip, not a readable Word document", "save it again as .docx") from err
    if "word/document.xml" not in names:
        raise UnreadableFile(source, "is a zip archive but not a Word document", "unzip it, or save the document as .docx")
    total = sum(i.file_size for i in infos)
    packed = max(1, sum(i.compress_size for i in infos))
    if total > limits.max_unzipped_bytes or (total > 10_000_000 and total / packed > limits.max_zip_ratio):
        raise UnreadableFile(source, f"would unpack to {total / 1e6:,.0f} MB from {len(data) / 1e6:,.1f} MB (a zip bomb?)",
                             "add the document as PDF or text instead")


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _body_elements(body):
    """Paragraphs and tables in reading order, including those inside content controls (w:sdt),
    which python-docx's own iteration skips."""
    for el in body.iterchildren():
        if el.tag == f"{_W}sdt":
            content = el.find(f"{_W}sdtContent")
            if content is not None:
                yield from _body_elements(content)
        elif el.tag in (f"{_W}p", f"{_W}tbl"):
            yield el


def _paragraph_text(p) -> str:
    """All text runs of a paragraph: tracked insertions, hyperlinks and content controls included
    (``Paragraph.text`` drops insertions); deleted text is ``w:delText`` and stays out."""
    out = []
    for el in p.iter(f"{_W}t", f"{_W}tab", f"{_W}br"):
        out.append(el.text or "" if el.tag == f"{_W}t" else (" " if el.tag == f"{_W}tab" else "\n"))
    return "".join(out)


def read_docx(data: bytes, source: str, limits: Limits | None = None) -> Document:
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    check_zip(data, source, limits or Limits())
    document = docx.Document(io.BytesIO(data))
    blocks: list[tuple[str, int]] = []
    for el in _body_elements(document.element.body):
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "p":
            para = Paragraph(el, document)
            text = _paragraph_text(el).strip()
            if not text:
                continue
            style = (para.style.name if para.style is not None else "") or ""
            m = _HEADING_STYLE.match(style)
            if style.lower() == "title":
                blocks.append((text, 1))
            elif m:
                blocks.append((text, int(m.group(1))))
            elif "list" in style.lower() or el.find(f"{_W}pPr/{_W}numPr") is not None:
                if blocks and blocks[-1][1] == 0 and blocks[-1][0].startswith("• "):
                    blocks[-1] = (blocks[-1][0] + "\n• " + text, 0)  # one list, one block
                else:
                    blocks.append(("• " + text, 0))
            else:
                blocks.append((text, 0))
        elif tag == "tbl":
            rows = []
            for row in Table(el, document).rows:
                cells: list[str] = []
                for cell in row.cells:
                    t = " ".join(" ".join(_paragraph_text(p) for p in cell._tc.iter(f"{_W}p")).split())
                    if t and (not cells or cells[-1] != t):  # merged cells repeat their text
                        cells.append(t)
                if cells:
                    rows.append(" | ".join(cells))
            blocks.append(("\n".join(rows), 0))
    title = clean_title(document.core_properties.title)
    if not title:
        title = next((t for t, level in blocks if level), "") or next((t for t, _ in blocks), source.rsplit("/", 1)[-1])
    if not any(level for _, level in blocks[:2]):
        blocks.insert(0, (title, 1))  # the title opens the text, as it opens the document
    return assemble(source, "docx", blocks, title[:200])
