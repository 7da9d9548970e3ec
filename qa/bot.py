"""``Bot``: the one class most users touch. ``Bot.load()`` then ``bot.ask(question)``."""
from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from . import index as index_io
from .answer import AnswerSettings, Composer, fold_history
from .chunking import ChunkSettings
from .embedding import Embedder, model_name
from .errors import BadIndexError, QuestionError
from .index import Index, IndexSettings, embed_text
from .rerank import Reranker, reranker_name
from .retrieval import FusionSettings, Retriever
from .types import Answer

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 2000  # a question, not a document: longer input is almost always a paste by mistake
MAX_K = 20
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_paths(corpus: str | Path | None, index: str | Path | None) -> tuple[Path, Path]:
    """Where the corpus and its index are.

    Corpus: the argument, else ``QA_CORPUS``, else ``corpus/`` here or in the project. Index: the
    argument, else ``QA_INDEX`` (only when the corpus was not passed explicitly), else ``index/``
    beside the shipped corpus, else a hidden ``.qa-index`` inside the user's own corpus.
    """
    explicit = corpus is not None
    if corpus is None:
        corpus = os.environ.get("QA_CORPUS") or ("corpus" if Path("corpus").is_dir() else PROJECT_ROOT / "corpus")
    corpus = Path(corpus)
    if index is None and not explicit:
        index = os.environ.get("QA_INDEX")
    if index is None:
        index = corpus.parent / "index" if is_shipped_corpus(corpus) else corpus / ".qa-index"
    return corpus, Path(index)


def is_shipped_corpus(corpus: Path) -> bool:
    """The project's own ``corpus/`` (here or beside the package), not a user's folder."""
    return corpus.name == "corpus" and corpus.resolve() in {(PROJECT_ROOT / "corpus").resolve(), Path("corpus").resolve()}


def _say(message: str, on_status: Callable[[str], None] | None) -> None:
    log.info(message)
    if on_status is not None:
        on_status(message)
    else:
        print(message, file=sys.stderr, flush=True)


class Bot:
    """Answers questions from one corpus. Safe to share between threads."""

    def __init__(self, index: Index, embedder: Embedder, corpus: Path | None = None, index_path: Path | None = None,
                 fusion: FusionSettings | None = None, answer_settings: AnswerSettings | None = None,
                 reranker: Reranker | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.reranker = reranker
        self.corpus = corpus
        self.index_path = index_path
        self.retriever = Retriever(index, fusion)
        self.composer = Composer(index, answer_settings)

    @classmethod
    def load(cls, corpus: str | Path | None = None, index: str | Path | None = None, model: str | None = None, *,
             rebuild: bool = False, on_status: Callable[[str], None] | None = None,
             chunking: ChunkSettings | None = None, title_in_embedding: bool = True,
             fusion: FusionSettings | None = None, answer_settings: AnswerSettings | None = None,
             reranker: str | None = None) -> "Bot":
        """Open the index of ``corpus`` (default ``corpus/``), rebuilding it when stale, damaged or missing.

        ``model`` is a sentence-transformers name or path (default: bundled all-MiniLM-L6-v2,
        or ``QA_MODEL``). ``reranker`` optionally names a cross-encoder that re-orders the top
        candidates (default: none, or ``QA_RERANKER``). ``on_status`` receives one-line progress
        messages (default: stderr, with progress bars).
        """
        corpus_path, index_path = default_paths(corpus, index)
        name = model_name(model)
        index_settings = IndexSettings(model=name, chunking=chunking or ChunkSettings(), title_in_embedding=title_in_embedding)

        hashes = index_io.file_hashes(corpus_path)  # also checks the corpus exists and has files
        index_io.recover(index_path)
        reason = "you asked for a rebuild" if rebuild else None
        loaded: Index | None = None
        if reason is None:
            try:
                reason = index_io.staleness(index_io.read_manifest(index_path), index_settings, hashes)
                if reason is None:
                    loaded = index_io.load(index_path)
            except BadIndexError as err:
                reason = str(err).rstrip(".") if (index_path / index_io.MANIFEST).exists() else f"there is no index at {index_path} yet"
        # First, so that a wrong name fails before the longer model load and any rebuild.
        rerank_with = reranker_name(reranker)
        if rerank_with is not None:
            _say(f"Loading re-ranker {rerank_with} …", on_status)
            cross = Reranker(rerank_with)
        else:
            cross = None
        t0 = time.perf_counter()
        if on_status is None:
            from tqdm.auto import tqdm

            with tqdm(total=1, desc=f"Loading model {name}", bar_format="{desc}: {bar} {elapsed}") as bar:
                embedder = Embedder(name)
                bar.update(1)
        else:
            on_status(f"Loading embedding model {name} …")
            embedder = Embedder(name)
        log.info("Model loaded in %.1fs", time.perf_counter() - t0)
        if loaded is None:
            _say(f"Building the index of {corpus_path} at {index_path}: {reason}.", on_status)
            loaded = index_io.build_from_folder(corpus_path, index_settings, embedder.encode, hashes)
            index_io.save(loaded, index_path)
            if on_status is not None:  # the CLI already saw them in the log
                for line in loaded.manifest.get("skipped", []):
                    on_status(line)
        return cls(loaded, embedder, corpus_path, index_path, fusion, answer_settings, cross)

    def ask(self, question: str, history: list[dict] | None = None, k: int = 5) -> Answer:
        """Answer from the corpus. ``history`` is the chat so far, as ``{"role", "content"}`` messages."""
        question = check_question(question)
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
            raise QuestionError(f"k must be a whole number from 1 to {MAX_K}, got {k!r}.")
        return self.answer(question, history, k)

    def answer(self, question: str, history: list[dict] | None = None, k: int = 5, collapse: bool = True) -> Answer:
        """``ask`` without the input checks, and any ``k``: for evaluation over thousands of questions.

        ``collapse=False`` keeps near-duplicate passages (a benchmark judges each document).
        """
        query = fold_history(question, history)
        if query.is_followup:
            # Half the earlier turn folded in, half what is asked now: the context says what
            # about, the new question says which part of it.
            folded, current = self.embedder.encode([query.text, query.question])
            vector = folded + current
            vector /= np.linalg.norm(vector)
        else:
            vector = self.embedder.encode([query.text])[0]
        hits = self.retriever.search(vector, query.tokens, max(k, self.composer.settings.rerank_depth), collapse=collapse)
        order = None
        if self.reranker is not None:
            chunks = [self.index.chunks[h.chunk] for h in hits]
            order = self.reranker.scores(query.asked, [embed_text(c.title, c.text, self.index.settings.title_in_embedding) for c in chunks])
        return self.composer.compose(query, vector, hits, k, order=order)


def check_question(question: object) -> str:
    if not isinstance(question, str):
        raise QuestionError(f"The question must be text, got {type(question).__name__}.")
    q = question.strip()
    if not q:
        raise QuestionError("The question is empty: type a question about the documents.")
    if len(q) > MAX_QUESTION_CHARS:
        raise QuestionError(f"The question is {len(q):,} characters long; the limit is {MAX_QUESTION_CHARS:,}. Shorten it to the question itself.")
    return q
