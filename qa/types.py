"""The small records that flow through the pipeline.

Offsets are character offsets into the original file text, so that for every
chunk and citation ``text == document.text[start:end]`` holds exactly.
"""
from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Heading:
    start: int  # offset of the heading line in ``Document.text``
    level: int  # 1 for a title or h1, 2 for h2 …
    text: str


@dataclass(frozen=True)
class Document:
    """One file's text as indexed. For a converted file (PDF, HTML, DOCX) ``text`` is the extracted
    text the index stores, and every offset points into it."""

    source: str  # path relative to the corpus folder, with forward slashes
    title: str
    text: str
    kind: str = "text"  # text, markdown, pdf, html, docx
    pages: tuple[int, ...] = ()  # PDF: offset where each page starts (page n starts at pages[n - 1])
    headings: tuple[Heading, ...] = ()  # in text order

    def page_at(self, offset: int) -> int | None:
        """1-based PDF page holding ``offset``; None for other formats."""
        if not self.pages:
            return None
        return max(1, bisect.bisect_right(self.pages, offset))

    def section_at(self, offset: int) -> str:
        """The heading path above ``offset``: "Chapter 2 › Costs", "" when there is none."""
        path: list[Heading] = []
        for h in self.headings:
            if h.start > offset:
                break
            while path and path[-1].level >= h.level:
                path.pop()
            path.append(h)
        return " › ".join(h.text for h in path if h.text != self.title or h.level > 1)


@dataclass(frozen=True)
class Chunk:
    source: str
    title: str
    text: str
    start: int
    end: int


@dataclass
class Citation:
    number: int
    source: str
    title: str
    passage: str
    start: int
    end: int
    score: float
    highlight: str
    highlight_start: int = 0  # offset of ``highlight`` inside ``passage``
    page: int | None = None  # PDF: 1-based page of the highlighted sentence
    pages: tuple[int, int] | None = None  # PDF: first and last page the passage covers
    section: str = ""  # heading path of the highlighted sentence (HTML, DOCX, Markdown, PDF headings)
    kind: str = "text"  # format of the source file
    also_in: list[str] = field(default_factory=list)  # other documents holding a near-copy of this passage, best first

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    # Three outcomes. Answered: ``text`` states the first highlight. Tentative (``tentative``): the best
    # candidate is shown with a plain warning, since the documents may not answer exactly this. Not found
    # (``abstained``): nothing retrieved is on the question's topic. ``reason`` says why in one line for
    # the last two; ``confidence`` (0-1) is how likely the first highlight answers the question,
    # calibrated on held-out labeled questions (bench/confidence.py).
    abstained: bool = False
    query: str = ""  # the question as searched, after folding in the chat history
    tentative: bool = False
    confidence: float = 0.0
    reason: str = ""
    signals: dict[str, float] = field(default_factory=dict, repr=False)  # what the judgement read (qa.answer.judge)
    # With a language model (``llm=``): ``text`` was written by ``model`` when ``generated``; the sentences
    # the checker could not back with their cited passages are in ``unsupported``, every verdict in
    # ``checks``; ``notice`` says in one line how the answer was made, or why the written one is not shown.
    generated: bool = False
    unsupported: list[str] = field(default_factory=list)
    checks: list[Any] = field(default_factory=list)  # checker.SentenceCheck, in text order
    model: str = ""
    notice: str = ""

    @property
    def outcome(self) -> str:
        """"answered", "tentative" or "not found": what the chat, the API and the CLI all show."""
        return "not found" if self.abstained else "tentative" if self.tentative else "answered"

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "text": self.text,
            "outcome": self.outcome,
            "abstained": self.abstained,
            "tentative": self.tentative,
            "confidence": self.confidence,
            "reason": self.reason,
            "query": self.query,
            "citations": [c.to_dict() for c in self.citations],
            "generated": self.generated,
            "unsupported": list(self.unsupported),
            "checks": [c.to_dict() for c in self.checks],
            "model": self.model,
            "notice": self.notice,
        }
