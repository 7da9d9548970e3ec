"""Read a folder of text files into Documents, verbatim."""
from __future__ import annotations

import logging
import re
from pathlib import Path

from .errors import CorpusError
from .types import Document

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md")
_HEADING_MARKS = re.compile(r"^\s{0,3}#{1,6}\s+|\s+#+\s*$")


def corpus_files(folder: str | Path) -> list[Path]:
    """The indexable files under ``folder``, recursively, in a stable order."""
    root = Path(folder)
    if not root.exists():
        raise CorpusError(f"Corpus folder {root} does not exist: create it and put .txt or .md files in it.")
    if not root.is_dir():
        raise CorpusError(f"Corpus path {root} is not a folder: pass the folder that holds your .txt/.md files.")
    files = sorted(
        p for p in root.rglob("*")
        if p.is_file() and p.suffix.lower() in SUFFIXES and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not files:
        raise CorpusError(f"Corpus folder {root} has no .txt or .md files: add some documents, then try again.")
    return files


def title_of(text: str, fallback: str) -> str:
    """First non-empty line, with Markdown heading marks stripped."""
    for line in text.lstrip("\ufeff").splitlines():
        line = _HEADING_MARKS.sub("", line).strip()
        if line:
            return line[:200]
    return fallback


def read_document(path: Path, root: Path) -> Document:
    """Decode as UTF-8, nothing else: offsets are into exactly this text (a BOM, CRLF line ends
    and all); raises UnicodeDecodeError or OSError."""
    text = path.read_bytes().decode("utf-8")
    source = path.relative_to(root).as_posix()
    return Document(source=source, title=title_of(text, path.stem), text=text)


def load_documents(folder: str | Path) -> tuple[list[Document], list[str]]:
    """All readable documents plus one warning line per file that was skipped.

    A file that cannot be decoded or read is skipped rather than failing the
    whole corpus: one bad upload should not take the bot down.
    """
    root = Path(folder)
    docs: list[Document] = []
    warnings: list[str] = []
    for path in corpus_files(root):
        try:
            doc = read_document(path, root)
        except UnicodeDecodeError as err:
            warnings.append(f"Skipped {path}: not UTF-8 text ({err.reason} at byte {err.start}); re-save it as UTF-8 to index it.")
            continue
        except OSError as err:
            warnings.append(f"Skipped {path}: cannot be read ({err.strerror}); check its permissions.")
            continue
        if not doc.text.strip():
            warnings.append(f"Skipped {path}: the file is empty.")
            continue
        docs.append(doc)
    for line in warnings:
        log.warning(line)
    if not docs:
        raise CorpusError(f"No readable documents in {root}: every file was skipped (see the warnings above).")
    return docs, warnings
