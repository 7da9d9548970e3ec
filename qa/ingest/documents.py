"""Find the documents of a corpus folder and read each with the reader for its format.

Every file is accounted for: a file that cannot be read, or is of a type qa does not read,
becomes one warning line naming it and what to do; it never fails the rest of the folder.
"""
from __future__ import annotations

import logging
import os
from collections import Counter
from pathlib import Path

from qa.errors import CorpusError
from qa.ingest import SUFFIXES, Limits, UnreadableFile, read, warning_lines
from qa.ingest.titles import title_of_text as title_of  # noqa: F401 - the text reader's rule, for callers
from qa.types import Document

log = logging.getLogger(__name__)

FORMATS = "PDF, HTML, DOCX, Markdown or text"


def corpus_files(folder: str | Path, others: list[Path] | None = None) -> list[Path]:
    """The indexable files under ``folder``, recursively, in a stable order (by relative path).

    Hidden files and folders (``.qa-index``, ``.git``, ``.DS_Store``) are never documents. Files
    with no extension are kept (their content decides); ``others`` collects the rest.
    """
    root = Path(folder)
    if not root.exists():
        raise CorpusError(f"Corpus folder {root} does not exist: create it and put your documents ({FORMATS}) in it.")
    if not root.is_dir():
        raise CorpusError(f"Corpus path {root} is not a folder: pass the folder that holds your documents.")
    found: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel = os.path.relpath(dirpath, root)
        for name in filenames:
            if not name.startswith("."):
                found.append((name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"), os.path.join(dirpath, name)))
    files = []
    for rel, full in sorted(found):
        suffix = os.path.splitext(rel)[1].lower()
        if not os.path.isfile(full):
            continue
        if suffix in SUFFIXES or not suffix:
            files.append(Path(full))
        elif others is not None:
            others.append(Path(full))
    if not files:
        raise CorpusError(f"Corpus folder {root} has no documents qa can read ({FORMATS}): add some, then try again.")
    return files


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
    skipped: list[UnreadableFile] = []
    others: list[Path] = []
    if only is not None:  # the caller has just listed the folder: read these, no second walk
        paths = [root / source for source in sorted(only) if (root / source).is_file()]
    else:
        paths = corpus_files(root, others)
    for path in paths:
        try:
            docs.append(read(path, root, limits))
        except UnreadableFile as err:
            skipped.append(err)
    warnings = reported(skipped, others)
    if not docs and only is None:
        raise nothing_readable(root)
    return docs, warnings


def reported(skipped: list[UnreadableFile], others: list[Path]) -> list[str]:
    """The warning lines for the files skipped and those of types qa does not read, logged once."""
    warnings = warning_lines(skipped)
    line = unsupported_warning(others)
    if line:
        warnings.append(line)
    for w in warnings:
        log.warning(w)
    return warnings


def nothing_readable(root: Path) -> CorpusError:
    return CorpusError(f"No readable documents in {root}: every file was skipped (see the warnings above).")
