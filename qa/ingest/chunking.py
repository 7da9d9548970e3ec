"""Cut documents into overlapping, sentence-aligned chunks and into sentences.

The same sentence-boundary rule serves the chunker (so chunks never cut a
sentence that fits) and the highlighter (so highlights are whole sentences).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from qa.types import Chunk, Document

# A sentence ends at . ! ? (optionally closed by a quote or bracket) followed by
# whitespace and a capital, digit or opening quote. Not after initialisms such
# as "U.S." or common abbreviations, which would otherwise cut mid-sentence.
SENTENCE_BOUNDARY = (
    r"(?:(?<=[.!?])|(?<=[.!?][\"”’)]))"
    r"(?<!\b[A-Z]\.[A-Z]\.)(?<!\bvs\.)(?<!\bMr\.)(?<!\bDr\.)(?<!\bMs\.)(?<!\bSt\.)(?<!\bNo\.)(?<!\bMrs\.)"
    r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<!\bInc\.)(?<!\bCo\.)"
    r"[ \t]+(?=[\"“‘(\[]?[A-Z0-9$])"
)
_SENTENCE_SPLIT = re.compile(SENTENCE_BOUNDARY + r"|\n+")
_WORD = re.compile(r"\w")


@dataclass(frozen=True)
class ChunkSettings:
    """Sizes are in characters. Chosen by measuring on tests/data/questions.jsonl (see bench/README.md)."""

    size: int = 600
    overlap: int = 150


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text[start:end]``, trimmed of whitespace.

    Lines are sentences too: headings and list items carry no full stop.
    Spans with no word character (bullets, rules) are dropped.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    pos = start
    for m in _SENTENCE_SPLIT.finditer(text, start, end):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, end))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if e > s and _WORD.search(text, s, e):
            out.append((s, e))
    return out


def make_splitter(settings: ChunkSettings) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        chunk_size=settings.size,
        chunk_overlap=settings.overlap,
        separators=[r"\n\s*\n", r"\n", SENTENCE_BOUNDARY, r" ", r""],
        is_separator_regex=True,
        keep_separator="end",
        strip_whitespace=True,
    )


def chunk_document(doc: Document, settings: ChunkSettings, splitter: RecursiveCharacterTextSplitter | None = None) -> list[Chunk]:
    """Chunks whose ``text`` is exactly ``doc.text[start:end]``."""
    splitter = splitter or make_splitter(settings)
    chunks: list[Chunk] = []
    cursor = 0
    for piece in splitter.split_text(doc.text):
        start = doc.text.find(piece, cursor)
        if start < 0:  # cannot happen with keep_separator="end"; guard against library changes
            start = doc.text.find(piece)
        if start < 0:
            raise RuntimeError(f"chunker returned text not found in {doc.source}")
        end = start + len(piece)
        chunks.append(Chunk(source=doc.source, title=doc.title, text=piece, start=start, end=end))
        cursor = start + 1
    return chunks


def chunk_documents(docs: list[Document], settings: ChunkSettings) -> list[Chunk]:
    splitter = make_splitter(settings)
    return [c for d in docs for c in chunk_document(d, settings, splitter)]
