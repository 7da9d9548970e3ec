"""The small records that flow through the pipeline.

Offsets are character offsets into the original file text, so that for every
chunk and citation ``text == document.text[start:end]`` holds exactly.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Document:
    source: str  # path relative to the corpus folder, with forward slashes
    title: str
    text: str


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    query: str = ""  # the question as searched, after folding in the chat history

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "text": self.text,
            "abstained": self.abstained,
            "query": self.query,
            "citations": [c.to_dict() for c in self.citations],
        }
