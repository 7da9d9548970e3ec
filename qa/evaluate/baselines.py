"""Reference systems measured beside the bot, in the same run and on the same data.

``PlainRecipe`` is the LangChain/LlamaIndex tutorial RAG: RecursiveCharacterTextSplitter
(1000/200, default separators) + the same embedding model + flat FAISS, top k.
``DenseOnly`` and ``BM25Only`` are its two halves, for ablations.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from qa.store.lexical import Lexical, tokenize
from qa.types import Chunk, Document


@dataclass
class Ranked:
    chunk: Chunk
    score: float


def recipe_chunks(docs: list[Document], size: int = 1000, overlap: int = 200) -> list[Chunk]:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=size, chunk_overlap=overlap, add_start_index=True)
    out = []
    for d in docs:
        for piece in splitter.create_documents([d.text]):
            start = piece.metadata["start_index"]
            out.append(Chunk(d.source, d.title, piece.page_content, start, start + len(piece.page_content)))
    return out


class PlainRecipe:
    """Dense retrieval over fixed-size chunks, no fusion, no highlighting, no abstention."""

    name = "plain recipe (1000/200 + MiniLM + flat FAISS)"

    def __init__(self, chunks: list[Chunk], vectors: np.ndarray, encode: Callable[..., np.ndarray]) -> None:
        import faiss

        self.chunks, self.encode = chunks, encode
        self.faiss = faiss.IndexFlatIP(vectors.shape[1])
        self.faiss.add(vectors)

    @classmethod
    def build(cls, docs: list[Document], encode: Callable[..., np.ndarray], size: int = 1000, overlap: int = 200) -> "PlainRecipe":
        chunks = recipe_chunks(docs, size, overlap)
        return cls(chunks, encode([c.text for c in chunks]), encode)

    def save(self, folder: Path) -> None:
        import faiss

        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.faiss, str(folder / "recipe.faiss"))
        (folder / "chunks.json").write_text(json.dumps([c.__dict__ for c in self.chunks]))

    @classmethod
    def load(cls, folder: Path, encode: Callable[..., np.ndarray]) -> "PlainRecipe":
        import faiss

        flat = faiss.read_index(str(folder / "recipe.faiss"))
        chunks = [Chunk(**c) for c in json.loads((folder / "chunks.json").read_text())]
        return cls(chunks, flat.reconstruct_n(0, flat.ntotal), encode)

    def search_vector(self, vector: np.ndarray, k: int = 5) -> list[Ranked]:
        scores, ids = self.faiss.search(vector.reshape(1, -1).astype(np.float32), k)
        return [Ranked(self.chunks[i], float(s)) for s, i in zip(scores[0], ids[0]) if i >= 0]

    def search(self, question: str, k: int = 5) -> list[Ranked]:
        return self.search_vector(self.encode([question])[0], k)

    def rank(self, question: str, k: int) -> list[str]:
        return unique_sources(r.chunk.source for r in self.search(question, k * 3))[:k]


class BM25Only:
    """bm25s over whole documents (title + text), with the bot's tokenizer."""

    name = "BM25 alone (bm25s)"

    def __init__(self, docs: list[Document]) -> None:
        self.docs = docs
        self.lexical = Lexical.build([f"{d.title}\n{d.text}" for d in docs])

    def rank(self, question: str, k: int) -> list[str]:
        scores = self.lexical.scores(tokenize(question))
        top = np.argsort(-scores, kind="stable")[:k]
        return [self.docs[i].source for i in top if scores[i] > 0]


class DenseOnly:
    """Each whole document embedded once (the model truncates long ones), flat FAISS."""

    name = "dense alone (MiniLM, flat FAISS)"

    def __init__(self, docs: list[Document], encode: Callable[..., np.ndarray]) -> None:
        import faiss

        self.docs, self.encode = docs, encode
        vectors = encode([f"{d.title}\n{d.text}" if d.title else d.text for d in docs])
        self.faiss = faiss.IndexFlatIP(vectors.shape[1])
        self.faiss.add(vectors)

    def rank(self, question: str, k: int) -> list[str]:
        _, ids = self.faiss.search(self.encode([question]), k)
        return [self.docs[i].source for i in ids[0] if i >= 0]


def unique_sources(sources: Iterable[str]) -> list[str]:
    """Document ids in first-seen order: a document ranks where its best chunk ranks."""
    return list(dict.fromkeys(sources))
