"""Plain text and Markdown, verbatim: offsets are into exactly the file's UTF-8 text (BOM, CRLF and all)."""
from __future__ import annotations

import re

from qa.ingest.base import Limits, UnreadableFile
from qa.ingest.titles import title_of_text
from qa.types import Document, Heading

_ATX = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$", re.M)
_FENCE = re.compile(r"^ {0,3}(```|~~~)", re.M)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def decode(data: bytes, source: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UnreadableFile(source, f"is not UTF-8 text ({err.reason} at byte {err.start})", "re-save it as UTF-8") from err
    if len(_CONTROL.findall(text[:8192])) > 0.01 * min(len(text), 8192) + 2:
        raise UnreadableFile(source, "looks like a binary file, not text", "add the document itself (PDF, HTML, DOCX, Markdown or text)")
    return text


def read_text(data: bytes, source: str, limits: Limits | None = None) -> Document:
    text = decode(data, source)
    return Document(source=source, title=title_of_text(text, source.rsplit("/", 1)[-1]), text=text, kind="text")


def markdown_headings(text: str) -> tuple[Heading, ...]:
    """ATX headings ("## Costs") outside fenced code blocks."""
    fenced, inside = [], None
    for m in _FENCE.finditer(text):
        if inside is None:
            inside = m.start()
        else:
            fenced.append((inside, m.end()))
            inside = None
    if inside is not None:
        fenced.append((inside, len(text)))
    out = []
    for m in _ATX.finditer(text):
        if not any(a <= m.start() < b for a, b in fenced):
            out.append(Heading(m.start(), len(m.group(1)), m.group(2).strip()))
    return tuple(out)


def read_markdown(data: bytes, source: str, limits: Limits | None = None) -> Document:
    text = decode(data, source)
    headings = markdown_headings(text)
    top = [h for h in headings if h.level == min(x.level for x in headings)] if headings else []
    title = top[0].text if top and top[0].start < 2000 else title_of_text(text, source.rsplit("/", 1)[-1])
    return Document(source=source, title=title[:200], text=text, kind="markdown", headings=headings)
