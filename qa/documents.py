"""Find the documents of a corpus folder and read each with the reader for its format.

Every file is accounted for: a file that cannot be read, or is of a type qa does not read,
becomes one warning line naming it and what to do; it never fails the rest of the folder.
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from .errors import CorpusError
from .ingest import SUFFIXES, Limits, UnreadableFile, read
from .ingest.titles import title_of_text
from .types import Document

log = logging.getLogger(__name__)

FORMATS = "PDF, HTML, DOCX, Markdown or text"


def _visible(path: Path, root: Path) -> bool:
    """Hidden files and folders (``.qa-index``, ``.git``, ``.DS_Store``) are never documents."""
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def corpus_files(folder: str | Path, others: list[Path] | None = None) -> list[Path]:
    """The indexable files under ``folder``, recursively, in a stable order.

    Files with no extension are kept (their content decides); ``others`` collects the rest.
    """
    root = Path(folder)
    if not root.exists():
        raise CorpusError(f"Corpus folder {root} does not exist: create it and put your documents ({FORMATS}) in it.")
    if not root.is_dir():
        raise CorpusError(f"Corpus path {root} is not a folder: pass the folder that holds your documents.")
    files = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or not _visible(p, root):
            continue
        if p.suffix.lower() in SUFFIXES or not p.suffix:
            files.append(p)
        elif others is not None:
            others.append(p)
    if not files:
        raise CorpusError(f"Corpus folder {root} has no documents qa can read ({FORMATS}): add some, then try again.")
    return files


def title_of(text: str, fallback: str) -> str:
    """The title of a text file: the first line that reads as a title rather than a navigation crumb."""
    return title_of_text(text, fallback)


def unsupported_warning(others: list[Path]) -> str | None:
    if not others:
        return None
    kinds = Counter(p.suffix.lower() for p in others)
    listed = ", ".join(f"{n} {s}" for s, n in kinds.most_common(6))
    return (f"Skipped {len(others)} file{'s' if len(others) > 1 else ''} of types qa does not read ({listed}); "
            f"convert them to {FORMATS} to index them.")


def load_documents(folder: str | Path, limits: Limits | None = None, only: set[str] | None = None
                   ) -> tuple[list[Document], list[str]]:
    """All readable documents plus one warning line per file that was skipped.

    ``only``: read just these sources (the rest are known from the index already).
    """
    root = Path(folder)
    docs: list[Document] = []
    warnings: list[str] = []
    others: list[Path] = []
    for path in corpus_files(root, others):
        if only is not None and path.relative_to(root).as_posix() not in only:
            continue
        try:
            docs.append(read(path, root, limits))
        except UnreadableFile as err:
            warnings.append(str(err))
    line = unsupported_warning(others)
    if line:
        warnings.append(line)
    for w in warnings:
        log.warning(w)
    if not docs and only is None:
        raise CorpusError(f"No readable documents in {root}: every file was skipped (see the warnings above).")
    return docs, warnings
