"""What every reader shares: the error it raises, the limits it honours, and how it lays out text."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from qa.errors import QAError
from qa.types import Document, Heading


class UnreadableFile(QAError):
    """One file that cannot be indexed: says which, what is wrong and what to do."""

    def __init__(self, source: str, problem: str, fix: str) -> None:
        self.source, self.problem, self.fix = source, problem, fix
        super().__init__(f"Skipped {source}: it {problem}; {fix}.")


class MissingLibrary(UnreadableFile):
    """A file skipped because a library its reader needs is missing or broken in this Python: the file
    is fine. Said once per library however many files it cost (``warning_lines``), with the install
    command, and never remembered as the file's own fault: once installed, the next index reads it."""

    def __init__(self, source: str, kind: str, package: str, detail: str) -> None:
        self.kind, self.package, self.detail = kind, package, detail
        QAError.__init__(self, missing_library_line(kind, package, detail, [source]))
        self.source, self.problem, self.fix = source, f"needs {package}", f"pip install {package}"


def missing_library_line(kind: str, package: str, detail: str, sources: list[str]) -> str:
    shown = ", ".join(sources[:3]) + (f" and {len(sources) - 3} more" if len(sources) > 3 else "")
    return (f"{kind} need {package}, which is missing or broken in this Python ({detail}): run `pip install {package}`, "
            f"then index again. Nothing is wrong with the file{'s' if len(sources) > 1 else ''} skipped: {shown}.")


def warning_lines(errors: list[UnreadableFile]) -> list[str]:
    """One line per skipped file, except that the files a missing library cost share one line."""
    lines: list[str] = []
    shared: dict[tuple[str, str], tuple[int, list[str], str]] = {}  # (kind, package) → its line, files, detail
    for err in errors:
        if not isinstance(err, MissingLibrary):
            lines.append(str(err))
        elif (err.kind, err.package) in shared:
            shared[err.kind, err.package][1].append(err.source)
        else:
            shared[err.kind, err.package] = (len(lines), [err.source], err.detail)
            lines.append("")
    for (kind, package), (at, sources, detail) in shared.items():
        lines[at] = missing_library_line(kind, package, detail, sources)
    return lines


def size_text(n: float) -> str:
    """Bytes for people: "48 KB", "3.2 MB"."""
    return f"{n / 1e6:,.1f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3)):,} KB"


def _mb_env(name: str, default: float) -> int:
    try:
        return int(float(os.environ.get(name, default)) * 1_000_000)
    except ValueError:
        return int(default * 1_000_000)


@dataclass(frozen=True)
class Limits:
    """Per-file limits (bytes). Defaults from ``QA_MAX_FILE_MB`` (50)."""

    max_file_bytes: int = field(default_factory=lambda: _mb_env("QA_MAX_FILE_MB", 50))
    # A DOCX is a zip: refuse one that would inflate past this, or inflates suspiciously well (a zip bomb).
    max_unzipped_bytes: int = 200_000_000
    max_zip_ratio: int = 100


def assemble(source: str, kind: str, blocks: list[tuple[str, int]], title: str, pages: list[int] | None = None) -> Document:
    """Lay out extracted blocks as the document's text: one block per paragraph, blank lines between.

    ``blocks`` are (text, heading level) with level 0 for body text. ``pages`` (PDF) gives, for
    each page, the index of its first block; it becomes the text offset where the page starts.
    """
    parts: list[str] = []
    headings: list[Heading] = []
    starts: list[int] = []
    pos = 0
    for text, level in blocks:
        text = text.strip()
        if not text:
            starts.append(pos)
            continue
        if parts:
            parts.append("\n\n")
            pos += 2
        starts.append(pos)
        if level:
            headings.append(Heading(pos, level, " ".join(text.split())))
        parts.append(text)
        pos += len(text)
    page_starts: tuple[int, ...] = ()
    if pages is not None:
        page_starts = tuple(starts[b] if b < len(starts) else pos for b in pages)
    return Document(source=source, title=title, text="".join(parts), kind=kind, pages=page_starts, headings=tuple(headings))
