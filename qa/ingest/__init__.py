"""Ingest: files become documents, and documents become passages.

Readers (one module per format: ``text``, ``pdf``, ``html``, ``docx``) turn one file into
``Document(text, title, pages, headings)``; ``documents`` walks a folder; ``chunking`` cuts a document
into passages and sentences with exact offsets; ``titles`` finds a title where a file gives none. A new
format is one reader module here and one line in ``SUFFIXES`` and ``read``.

A format is detected from the file's first bytes as well as its name, so a PDF saved as
``report.txt`` is read as a PDF, and a binary file renamed ``.txt`` is refused with a reason.
Each reader lives in its own module and imports its library only when a file of its kind
arrives. Extraction libraries were chosen by measurement: see ``bench/extraction.py``.
"""
from __future__ import annotations

from pathlib import Path

from qa.ingest.base import Limits, MissingLibrary, UnreadableFile, assemble, size_text, warning_lines
from qa.types import Document

__all__ = ["Limits", "MissingLibrary", "UnreadableFile", "SUFFIXES", "detect", "read", "file_bytes", "parse", "assemble", "warning_lines"]

# Names we look for in a folder; anything else is reported as skipped, never silently dropped.
SUFFIXES = {".txt": "text", ".text": "text", ".md": "markdown", ".markdown": "markdown",
            ".pdf": "pdf", ".html": "html", ".htm": "html", ".xhtml": "html", ".docx": "docx"}
KIND_NAMES = {"text": "text", "markdown": "Markdown", "pdf": "PDF", "html": "HTML", "docx": "Word (DOCX)"}
# What each kind of file is called in a sentence about it, and the pip package of each module its reader imports.
KIND_PLURALS = {"text": "Text files", "markdown": "Markdown files", "pdf": "PDF files", "html": "Web pages",
                "docx": "Word documents"}
PACKAGES = {"docx": "python-docx", "pypdfium2": "pypdfium2", "trafilatura": "trafilatura", "lxml": "lxml",
            "lxml_html_clean": "lxml_html_clean", "ftfy": "ftfy", "justext": "jusText", "charset_normalizer": "charset-normalizer"}
# Bumped when a reader changes what it extracts: indexes built by other readers are re-read.
READERS_VERSION = 1


def detect(name: str, head: bytes) -> str:
    """The kind of a file from its first bytes, then its name. Raises ``UnreadableFile`` when
    the content contradicts the name or is of no supported kind."""
    suffix = Path(name).suffix.lower()
    by_name = SUFFIXES.get(suffix)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    # A PDF starts with its header (some writers put a little junk first: allowed where the name says PDF).
    if stripped.startswith(b"%pdf-") or (by_name in ("pdf", None) and b"%PDF-" in head[:1024]):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        if by_name in (None, "docx"):
            return "docx"  # the reader checks it really is a Word document
        raise UnreadableFile(name, f"is a zip archive, not {KIND_NAMES[by_name]}", "unzip it and add the documents inside")
    if head.startswith((b"\xd0\xcf\x11\xe0", b"{\\rtf")):
        raise UnreadableFile(name, "is an old Word (.doc) or RTF file", "save it as .docx or PDF and add that")
    if by_name == "pdf":
        raise UnreadableFile(name, "is named .pdf but is not a PDF", "check that the download finished, or export it to PDF again")
    if by_name == "docx":
        raise UnreadableFile(name, "is named .docx but is not a Word document", "save it again as .docx from Word or LibreOffice")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableFile(name, "is UTF-16 text", "re-save it as UTF-8 (most editors offer it under Save As → Encoding)")
    if b"\x00" in head:
        raise UnreadableFile(name, "is a binary file, not text", "add the document itself (PDF, HTML, DOCX, Markdown or text)")
    if by_name == "html" or (by_name != "markdown" and stripped.startswith((b"<!doctype html", b"<html", b"<?xml"))
                             and b"<html" in stripped[:2048]):
        return "html"
    if by_name is not None:
        return by_name
    if not suffix:
        return "text"  # README, NOTES: the text reader refuses it if it is not text after all
    raise UnreadableFile(name, f"has a type qa does not read ({suffix or 'no extension'})",
                         "add PDF, HTML, DOCX, Markdown or text files")


def read(path: Path, root: Path, limits: Limits | None = None) -> Document:
    """Read one file. ``source`` is its path relative to ``root``. Raises ``UnreadableFile``."""
    source, data = file_bytes(path, root, limits)
    return parse(data, source, limits)


def file_bytes(path: Path, root: Path, limits: Limits | None = None) -> tuple[str, bytes]:
    """A file's source name and bytes, refused when empty, over the size limit or unreadable."""
    limits = limits or Limits()
    source = path.relative_to(root).as_posix()
    try:
        size = path.stat().st_size
        if size == 0:
            raise UnreadableFile(source, "is empty (0 bytes)", "check that it was saved or downloaded completely")
        if size > limits.max_file_bytes:
            raise UnreadableFile(source, f"is {size_text(size)}, over the {size_text(limits.max_file_bytes)} limit per file",
                                 "split it, or raise the limit with QA_MAX_FILE_MB and run `qa index --rebuild`")
        data = path.read_bytes()
    except OSError as err:
        raise UnreadableFile(source, f"cannot be read ({err.strerror})", "check that it exists and its permissions") from err
    return source, data


def parse(data: bytes, source: str, limits: Limits | None = None) -> Document:
    """A file's bytes as a Document (``read`` without the disk: a Ray worker gets the bytes, not the path)."""
    limits = limits or Limits()
    kind = detect(source, data[:4096])
    if kind == "pdf":
        from qa.ingest.pdf import read_pdf as reader
    elif kind == "html":
        from qa.ingest.html import read_html as reader
    elif kind == "docx":
        from qa.ingest.docx import read_docx as reader
    elif kind == "markdown":
        from qa.ingest.text import read_markdown as reader
    else:
        from qa.ingest.text import read_text as reader
    try:
        doc = reader(data, source, limits)
    except UnreadableFile:
        raise
    except ImportError as err:  # the environment, not the file: missing, or installed but broken
        raise MissingLibrary(source, KIND_PLURALS[kind], _package(err), (str(err).splitlines() or [type(err).__name__])[0][:120]) from err
    except Exception as err:  # noqa: BLE001 - a library's own error for a damaged file
        first = (str(err).splitlines() or [type(err).__name__])[0][:200]
        raise UnreadableFile(source, f"cannot be read as {KIND_NAMES[kind]} ({first})",
                             "open it in its usual program and save a fresh copy") from err
    if not doc.text.strip():
        raise UnreadableFile(source, "has no text", "add a file with text in it")
    return doc


def _package(err: ImportError) -> str:
    """The pip package to install for an ImportError a reader raised."""
    text = str(err)
    if "lxml_html_clean" in text or "lxml.html.clean" in text:  # lxml ≥ 5.2 moved its cleaner out
        return "lxml_html_clean"
    top = (err.name or "").split(".")[0]
    return PACKAGES.get(top, top or "the reader's libraries (pip install -e .)")
