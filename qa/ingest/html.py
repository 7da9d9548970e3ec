"""Web pages: the main text only (trafilatura drops menus, cookie banners, scripts and footers)."""
from __future__ import annotations

import logging
import re

from qa.ingest.base import Limits, UnreadableFile, assemble
from qa.ingest.titles import clean_title
from qa.types import Document


def _decode(data: bytes) -> str:
    """By the page's BOM, declared charset or a guess (trafilatura's own decoder), not UTF-8 only."""
    from trafilatura.utils import decode_file

    return decode_file(data)


def _page_title(page: str) -> str:
    """<h1> if the page has one, else <title> without its " | Site" tail."""
    import lxml.html

    try:
        # lxml refuses a str that carries an XML encoding declaration (XHTML): drop it, the text is decoded.
        tree = lxml.html.fromstring(re.sub(r"^\s*<\?xml[^>]*\?>", "", page))
    except Exception:  # noqa: BLE001 - a page lxml cannot parse still has a text
        return ""
    for h1 in tree.iter("h1"):
        text = " ".join(h1.text_content().split())
        if text:
            return text
    found = tree.find(".//title")
    return clean_title(found.text_content()) if found is not None else ""


def _blocks(xml: str) -> list[tuple[str, int]]:
    """trafilatura's XML → (text, heading level) blocks in reading order."""
    from lxml import etree

    root = etree.fromstring(xml.encode("utf-8"))
    main = root.find("main")
    main = main if main is not None else root
    blocks: list[tuple[str, int]] = []

    def text_of(el) -> str:
        return " ".join("".join(el.itertext()).split())

    def loose(text: str | None) -> None:
        # Text not wrapped in <p> lands in the main element's text or a block's tail.
        if text and text.strip():
            blocks.append((" ".join(text.split()), 0))

    loose(main.text)
    for el in main:
        tag = el.tag
        if tag == "head":
            rend = el.get("rend", "h2")
            level = int(rend[1]) if len(rend) == 2 and rend[1].isdigit() else 2
            blocks.append((text_of(el), level))
        elif tag == "list":
            items = ["• " + text_of(i) for i in el.iter("item")]
            blocks.append(("\n".join(i for i in items if i.strip("• ")), 0))
        elif tag == "table":
            rows = [" | ".join(text_of(c) for c in row.iter("cell")) for row in el.iter("row")]
            blocks.append(("\n".join(r for r in rows if r.strip(" |")), 0))
        else:
            blocks.append((text_of(el), 0))
        loose(el.tail)
    return blocks


def read_html(data: bytes, source: str, limits: Limits | None = None) -> Document:
    import trafilatura

    # Its "discarding data: None", "empty HTML tree" or "lxml parsing failed" for a page with no main text
    # is said better, once, by UnreadableFile below.
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)

    page = _decode(data)
    options = dict(output_format="xml", include_tables=True, include_comments=False, include_formatting=False,
                   include_links=False, include_images=False, deduplicate=False)
    xml = trafilatura.extract(page, **options) or trafilatura.extract(page, favor_recall=True, **options)
    if not xml:
        raise UnreadableFile(source, "has no main text that qa could find (only menus, scripts or an empty page)",
                             "save the page again once it has loaded, or copy its text into a .txt file")
    blocks = _blocks(xml)
    title = _page_title(page) or next((t for t, level in blocks if level), "") or source.rsplit("/", 1)[-1]
    if not any(level and text == title for text, level in blocks[:1]):
        blocks.insert(0, (title, 1))  # the headline opens the text, so it is searchable and shown
    return assemble(source, "html", blocks, title[:200])
