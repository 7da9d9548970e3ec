"""One question, top to bottom: fold in the chat, embed, retrieve, re-rank, compose, and (with a language
model) write and check. ``Bot.ask`` hands every question to ``Answerer.stream`` and nothing else."""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterator

import numpy as np

from qa.answer.checker import Checker
from qa.answer.compose import AnswerSettings, Composer, locate
from qa.answer.query import Query, fold_history
from qa.answer.related import Related, RelatedWords
from qa.answer.rerank import Reranker
from qa.answer.retrieval import FusionSettings, Hit, Retriever
from qa.store import Index, embed_text
from qa.store.base import Search
from qa.types import Answer, Citation

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from qa.answer.writer import Writer
    from qa.embed.embedder import Embedder


@dataclass(frozen=True)
class Answerer:
    """What one answer reads, swapped whole when documents are added or removed: a question already
    being answered finishes on the index it started with."""

    index: Index
    retriever: Retriever
    composer: Composer
    embedder: "Embedder"
    related: RelatedWords

    @classmethod
    def over(cls, index: Index, search: Search, embedder: "Embedder", fusion: FusionSettings,
             settings: AnswerSettings | None = None, previous: "Answerer | None" = None) -> "Answerer":
        """``previous``: the answerer this one replaces, whose embedded words it keeps."""
        related = RelatedWords(index, embedder, previous=previous.related if previous is not None else None)
        return cls(index, Retriever(index, fusion, search), Composer(index, settings), embedder, related)

    def answer(self, question: str, history: list[dict] | None = None, k: int = 5, collapse: bool = True,
               reranker: Reranker | None = None) -> Answer:
        """The quoted answer with its ``k`` citations (``collapse=False`` keeps near-duplicate passages)."""
        query = fold_history(question, history)  # 1. the question, with the earlier turn folded in
        vector = self._vector(query)  # 2. embedded
        related = self._related(query)  # the collection's words for the unmatched ones …
        query = replace(query, absent=tuple(related.absent))  # … and the words it has nothing for
        tokens = query.tokens + related.terms
        hits = self.retriever.search(vector, tokens, max(k, self.composer.settings.rerank_depth), collapse=collapse)  # 3.
        order = self._reranked(query, hits, reranker)  # 4. re-ordered by a cross-encoder, when one is set
        return self.composer.compose(query, vector, hits, k, order=order)  # 5. sentences, abstention, wording

    def stream(self, question: str, history: list[dict] | None, k: int, reranker: Reranker | None,
               writer: "Writer | None") -> Iterator[str | Answer]:
        """``answer``, then with a language model its text as it is written and the checked ``Answer`` (last)."""
        answer = self.answer(question, history, k, reranker=reranker)
        if writer is None:
            yield answer
            return
        checker = Checker(self.embedder.encode, self.index.lexical.idf, stored=self.stored_sentences)  # 6. written, checked
        yield from writer.write(answer, history, checker, lambda c: locate(c, self.index.document(c.source)))

    def _related(self, query: Query) -> Related:
        """Optional help: if looking up related words fails, the question is searched with its own words."""
        try:
            return self.related.expand(query.question)
        except Exception as err:  # noqa: BLE001 - the answer does not depend on it
            log.warning("Searching with the question's own words only: related words failed (%s)", err)
            return Related()

    def _vector(self, query: Query) -> np.ndarray:
        if not query.is_followup:
            return self.embedder.encode_queries([query.encoded])[0]
        # Half the earlier turn folded in, half what is asked now: the context says what about, the new
        # question says which part of it.
        folded, current = self.embedder.encode_queries([query.encoded, query.question])
        vector = folded + current
        return vector / np.linalg.norm(vector)

    def _reranked(self, query: Query, hits: list[Hit], reranker: Reranker | None) -> list[int] | None:
        if reranker is None:
            return None
        chunks = [self.index.chunks[h.chunk] for h in hits]
        with_title = self.index.settings.title_in_embedding
        return reranker.scores(query.asked, [embed_text(c.title, c.text, with_title) for c in chunks])

    def stored_sentences(self, citation: Citation) -> tuple[list[tuple[int, int]], np.ndarray] | None:
        """A cited passage's sentences with the vectors the index already holds: checking a written
        answer then encodes only what was written."""
        chunk = self.index.chunk_at(citation.source, citation.start, citation.end)
        return None if chunk is None else self.index.passage_sentences(chunk)
