"""A title a reader recognises: the headline, not the navigation crumb a scraped page starts with."""
from __future__ import annotations

import re

_NAV_START = re.compile(r"^\s*(?:[←↩«‹<⟵]|back to\b|home\s*[›»>/|]|skip to\b|menu\b)", re.I)
_CRUMB = re.compile(r"\s[›»>/|]\s")
_GLUED = re.compile(r"[a-z][A-Z]")  # "HomeReviewsReviews": menu items run together
_BYLINE = re.compile(r"^\s*(?:by\s|posted\b|updated\b|published\b|\d{4}-\d{2}-\d{2}|\d{1,2}\s\w+\s\d{4})", re.I)
_HEADING_MARKS = re.compile(r"^\s{0,3}#{1,6}\s+|\s+#+\s*$")


def is_navigation(line: str) -> bool:
    """A crumb, a menu, a byline or a truncated teaser: what a scraped page puts above its headline."""
    if _NAV_START.search(line) or _BYLINE.search(line) or _CRUMB.search(line):
        return True
    return line.rstrip().endswith(("...", "…")) or len(_GLUED.findall(line)) >= 2


def looks_like_title(line: str) -> bool:
    words = line.split()
    if not 1 <= len(words) <= 25 or len(line) > 200 or is_navigation(line):
        return False
    letters = sum(ch.isalpha() for ch in line)
    return letters >= 0.6 * len(line.replace(" ", ""))


def title_of_text(text: str, fallback: str, look: int = 6) -> str:
    """Among the first ``look`` non-empty lines, the first that reads as a title; else the first line."""
    lines = [_HEADING_MARKS.sub("", ln).strip() for ln in text.lstrip("\ufeff").splitlines()]
    lines = [ln for ln in lines if ln][:look]
    for line in lines:
        if looks_like_title(line):
            return line[:200]
    return lines[0][:200] if lines else fallback


def clean_title(title: str | None) -> str:
    """Metadata titles: collapse whitespace; "Trail Guide | Site Name" keeps the part before the bar."""
    title = " ".join((title or "").split())
    for sep in (" | ", " – ", " — ", " :: "):
        if sep in title:
            head = title.split(sep)[0].strip()
            if len(head.split()) >= 2:
                return head
    return title
