"""``Bot``: the one class most users touch. ``Bot.load()`` then ``bot.ask(question)``."""
from __future__ import annotations

import copy
import logging
import os
import shutil
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

from qa.answer import calibration
from qa.answer.compose import AnswerSettings, Composer
from qa.answer.models import LLMSettings, connect
from qa.answer.pipeline import Answerer
from qa.answer.query import clean_text
from qa.answer.rerank import Reranker, reranker_name
from qa.answer.retrieval import FusionSettings, Retriever
from qa.answer.writer import Writer
from qa.embed.embedder import Embedder, model_name
from qa.errors import CorpusError, QAError, QuestionError
from qa.ingest import Limits, MissingLibrary, UnreadableFile, read, warning_lines
from qa.ingest.chunking import ChunkSettings
from qa.store import Index, IndexSettings, file_hashes, file_sha, note_skipped, update
from qa.store.base import OpenRequest, Store
from qa.store.faiss import FaissStore
from qa.store.layers import outgrown
from qa.store.milvus import MilvusSettings, MilvusStore
from qa.types import Answer

log = logging.getLogger(__name__)
MERGE_RETRY_SECONDS = 600  # after a background merge fails, the next is not started before this

MAX_QUESTION_CHARS = 2000  # a question, not a document: longer input is almost always a paste by mistake
MAX_K = 20
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Where an installed wheel keeps the five demo articles and their index (pyproject.toml maps the project's
# corpus/ and index/ there), so that `pip install .` answers outside the repository too.
PACKAGED_DEMO = Path(__file__).resolve().parent / "demo"


def shipped_corpus() -> Path:
    """The demo articles: ``corpus/`` in the project, else the copy inside the installed package."""
    here = PROJECT_ROOT / "corpus"
    return here if here.is_dir() else PACKAGED_DEMO / "corpus"


def default_paths(corpus: str | Path | None, index: str | Path | None) -> tuple[Path, Path]:
    """Where the corpus and its index are.

    Corpus: the argument, else ``QA_CORPUS``, else ``corpus/`` here or in the project. Index: the
    argument, else ``QA_INDEX`` (only when the corpus was not passed explicitly), else ``index/``
    beside the shipped corpus, else a hidden ``.qa-index`` inside the user's own corpus.
    """
    explicit = corpus is not None
    if corpus is None:
        corpus = os.environ.get("QA_CORPUS") or ("corpus" if Path("corpus").is_dir() else shipped_corpus())
    corpus = Path(corpus)
    if index is None and not explicit:
        index = os.environ.get("QA_INDEX")
    if index is None:
        index = corpus.parent / "index" if is_shipped_corpus(corpus) else corpus / ".qa-index"
    return corpus, Path(index)


def is_shipped_corpus(corpus: Path) -> bool:
    """The project's own ``corpus/`` (here, beside the package or inside it), not a user's folder."""
    shipped = {(PROJECT_ROOT / "corpus").resolve(), Path("corpus").resolve(), (PACKAGED_DEMO / "corpus").resolve()}
    return corpus.name == "corpus" and corpus.resolve() in shipped


def _calibrate(index: Index, embedder: Embedder, previous: dict | None, on_status: Callable[[str], None] | None) -> None:
    """Keep or redo the collection's calibration (``qa.answer.calibration``), saying so when it runs."""
    chosen = calibration.keep_or_redo(index, embedder.encode, previous,
                                      lambda: _say("Calibrating the ranking to this collection …", on_status))
    log.info("%s", chosen.summary())


def _load_embedder(name: str, on_status: Callable[[str], None] | None) -> Embedder:
    """The embedding model, under a progress bar on the command line or with a status line in the chat."""
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
    return embedder


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
                 reranker: Reranker | None = None, writer: Writer | None = None, store: Store | None = None) -> None:
        self.embedder = embedder
        self.store = store if store is not None else FaissStore(index_path)  # where the index lives (``qa.store``)
        self.reranker = reranker
        self.writer = writer  # None: answers are quoted from the documents (the default)
        self.corpus = corpus
        self.fusion, self.answer_settings = fusion, answer_settings
        self.files: dict[str, Path] = {}  # sources added from outside the corpus folder → where they are
        self._write = threading.Lock()
        self._merging: threading.Thread | None = None
        self._merge_failed_at = float("-inf")
        self._swap(index)

    @property
    def index_path(self) -> Path | None:
        """The folder the index is saved in; None when changes live in memory only (a visitor's session)
        or the index is in Milvus."""
        return getattr(self.store, "path", None)

    @property
    def index(self) -> Index:
        return self._answerer.index

    @property
    def retriever(self) -> Retriever:
        return self._answerer.retriever

    @property
    def composer(self) -> Composer:
        return self._answerer.composer

    def prepare_words(self, progress: bool = False) -> None:
        """Embed the words questions are matched with ahead (``qa.answer.related``): seconds, for a server's start."""
        self._answerer.related.prepare(progress)

    def _swap(self, index: Index) -> None:
        """Serve ``index`` from now on; questions already being answered finish on the old one.
        Fusion weights: the caller's, else those the collection was calibrated to."""
        fusion = self.fusion or calibration.fusion_for(index)
        self._answerer = Answerer.over(index, self.store.search(index), self.embedder, fusion, self.answer_settings,
                                       previous=getattr(self, "_answerer", None))

    @classmethod
    def load(cls, corpus: str | Path | None = None, index: str | Path | None = None, model: str | None = None, *,
             rebuild: bool = False, on_status: Callable[[str], None] | None = None,
             chunking: ChunkSettings | None = None, title_in_embedding: bool = True,
             fusion: FusionSettings | None = None, answer_settings: AnswerSettings | None = None,
             reranker: str | None = None, llm: str | None = None,
             milvus_uri: str | None = None, milvus_token: str | None = None, passage_vectors: str | None = None,
             replace_stale: bool = True, require_saved: bool = False) -> "Bot":
        """Open the index of ``corpus`` (default ``corpus/``), rebuilding it when stale, damaged or missing.

        ``model`` is a sentence-transformers name or path (default: bundled all-MiniLM-L6-v2,
        or ``QA_MODEL``). ``reranker`` optionally names a cross-encoder that re-orders the top
        candidates (default: none, or ``QA_RERANKER``). ``llm`` makes answers written by a language
        model and checked sentence by sentence: a local ``.gguf`` path or the base URL of an
        OpenAI-compatible server (default: none, or ``QA_LLM``; see ``qa.answer.models``). ``milvus_uri`` keeps
        the index in Milvus instead of ``index`` (a ``.db`` path for Milvus Lite, or a server's URL
        with ``milvus_token``; default: none, or ``QA_MILVUS_URI``; see ``qa.store.milvus``); with
        ``replace_stale=False`` (a server sharing it) an index already there is served as it is, never
        dropped (but a Milvus Lite file whose data a killed process cut short is built again). An index
        built or updated here that cannot be saved (a full disk) is answered from in memory, with one line saying so, unless ``require_saved`` (``qa index``) makes that an error.
        ``passage_vectors`` ("encoded" or "summed"; default ``QA_PASSAGE_VECTORS``, else what
        the existing index used, else "encoded") is how passages are embedded. ``on_status``
        receives one-line progress messages (default: stderr, with progress bars).
        """
        milvus = MilvusSettings.from_env(milvus_uri, milvus_token)
        corpus_path, index_path = default_paths(corpus, index)
        name = model_name(model)
        chosen = passage_vectors or os.environ.get("QA_PASSAGE_VECTORS") or None  # None: keep the index's own
        index_settings = IndexSettings(model=name, chunking=chunking or ChunkSettings(), title_in_embedding=title_in_embedding,
                                       **({"passage_vectors": chosen} if chosen else {}))
        others: list[Path] = []
        hashes = file_hashes(corpus_path, others)  # also checks the corpus exists and has files
        store: Store = MilvusStore(milvus, rebuild) if milvus is not None else FaissStore(index_path)  # a server: fails fast
        say = lambda message: _say(message, on_status)  # noqa: E731
        loaded_models: dict[str, object] = {}

        def load_models() -> Embedder:
            """The re-ranker (a wrong name fails before the longer model load), then the embedding model."""
            rerank_with = reranker_name(reranker)
            if rerank_with is not None:
                say(f"Loading re-ranker {rerank_with} …")
            loaded_models["reranker"] = Reranker(rerank_with) if rerank_with is not None else None
            loaded_models["embedder"] = embedder = _load_embedder(name, on_status)
            return embedder

        loaded = store.open(OpenRequest(
            corpus_path, index_settings, hashes, others, load_models, say,
            calibrate=lambda ix, previous: _calibrate(ix, loaded_models["embedder"], previous, on_status),
            needs_calibration=calibration.stale, chosen_vectors=chosen, rebuild=rebuild, replace_stale=replace_stale,
            require_saved=require_saved))
        if on_status is not None and store.rebuilt:  # the CLI already saw them in the log
            for line in loaded.manifest.get("skipped", []):
                on_status(line)
        writer = None
        llm_settings = LLMSettings.from_env(llm)
        if llm_settings is not None:
            say(f"Loading language model {llm_settings.target} …")
            writer = Writer(connect(llm_settings), llm_settings.max_tokens)
        return cls(loaded, loaded_models["embedder"], corpus_path, None, fusion, answer_settings, loaded_models["reranker"],
                   writer, store)

    # ------------------------------------------------------------ the collection, while running

    def add(self, paths: Sequence[str | Path] | str | Path, limits: Limits | None = None,
            on_status: Callable[[str], None] | None = None) -> list[str]:
        """Index more files now; returns one warning per file that could not be taken.

        With an index on disk, files outside the corpus folder are copied into it, and the index
        is saved as a rebuild would save it. Without one (a visitor's session), they stay where
        they are and are indexed under ``uploads/``.
        """
        if isinstance(paths, (str, Path)):
            paths = [paths]
        self.store.check_changes(self.index)
        say = on_status or (lambda m: _say(m, None))
        skipped: list[UnreadableFile] = []
        with self._write:
            staged: list[tuple[Path, Path, str, bool]] = []  # (file, its root, source, made a copy)
            for p in map(Path, paths):
                try:
                    staged.append(self._stage(p))
                except UnreadableFile as err:
                    skipped.append(err)
            docs, hashes, outside, copies = [], {}, {}, []
            for n, (path, root, source, copied) in enumerate(staged, 1):
                say(f"Reading {source} ({n}/{len(staged)}) …")
                if copied:
                    copies.append(path)
                try:
                    doc = read(path, root, limits)
                    if root != self.corpus:
                        doc = replace(doc, source=source)
                        outside[source] = path
                    docs.append(doc)
                    hashes[source] = file_sha(path)
                except MissingLibrary as err:
                    err.source = source
                    skipped.append(err)
                except UnreadableFile as err:
                    skipped.append(UnreadableFile(source, err.problem, err.fix))
                    if copied:
                        path.unlink(missing_ok=True)  # our copy of a file we cannot read: do not keep it
            if docs:
                say(f"Embedding {len(docs)} document{'s' if len(docs) > 1 else ''} …")
                try:
                    known = dict(self.index.hashes, **hashes)
                    updated = update(self.index, docs, set(), self.embedder.encode, known,
                                              skipped=self.index.manifest.get("skipped", []))
                    self._persist(updated)
                except BaseException:
                    for path in copies:  # nothing was added: do not leave our copies in the corpus
                        path.unlink(missing_ok=True)
                    raise
                self.files.update(outside)  # only once the index holds them
                say(f"Added {', '.join(d.source for d in docs)}.")
        return warning_lines(skipped)

    def remove(self, source: str) -> None:
        """Drop one document. A file of the corpus folder is moved to ``.qa-removed/`` inside it
        (nothing is deleted; moving it back and reloading restores it)."""
        self.store.check_changes(self.index)
        with self._write:
            if self.index.document(source) is None:
                raise CorpusError(f"No document {source!r} in the index; the sources are listed by `qa sources`.")
            if self.index.document_count == 1:
                raise CorpusError(f"{source} is the only document left; add another before removing it.")
            updated = update(self.index, [], {source}, self.embedder.encode, self.index.hashes,
                                      skipped=self.index.manifest.get("skipped", []))
            where = self.files.pop(source, None)
            if where is None and self.corpus is not None and self.index_path is not None:
                path = self.corpus / source
                if path.exists():
                    parked = self.corpus / ".qa-removed" / source
                    n = 2
                    while parked.exists():  # an earlier removal of the same name stays too
                        parked = parked.with_name(f"{Path(source).stem} ({n}){Path(source).suffix}")
                        n += 1
                    parked.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(path, parked)
            elif where is not None and self.index_path is None:
                where.unlink(missing_ok=True)
            self._persist(updated)

    def _stage(self, path: Path) -> tuple[Path, Path, str, bool]:
        """Where a file to add will live, and its source name."""
        if not path.is_file():
            raise UnreadableFile(path.name, "is not a file that exists", "check the path")
        if self.index_path is None or self.corpus is None:
            source = "uploads/" + path.name
            return path, path.parent, source, False
        corpus = self.corpus.resolve()
        real = path.resolve()
        if real.is_relative_to(corpus):
            return real, corpus, real.relative_to(corpus).as_posix(), False
        target = corpus / path.name
        digest = file_sha(real)
        n = 2
        while target.exists() and file_sha(target) != digest:
            target = corpus / f"{path.stem} ({n}){path.suffix}"
            n += 1
        copied = not target.exists()
        if copied:
            shutil.copyfile(real, target)
        return target, corpus, target.relative_to(corpus).as_posix(), copied

    def _persist(self, updated: Index) -> None:
        note_skipped(updated, {**updated.hashes, **updated.manifest.get("skipped_files", {})})
        _calibrate(updated, self.embedder, self.index.manifest.get("calibration"), None if self.index_path else lambda m: None)
        self._swap(self.store.keep(updated) or updated)
        self.merge_in_background()

    def merge_in_background(self) -> bool:
        """Merge a large index's changes into it once they have grown large (``Store.merge``), on a thread of its
        own: a merge re-assembles the whole index (minutes at a million passages), and questions go on being
        answered from the index as it is until the merged one is saved and swapped in. Additions and removals
        wait for it (they take the same lock); questions never do. Returns whether a merge was started."""
        if self.index_path is None or not outgrown(self.index) or self.merging:
            return False
        if time.monotonic() - self._merge_failed_at < MERGE_RETRY_SECONDS:
            return False  # the last one failed (a full disk, most likely): not again on every change

        def run() -> None:
            with self._write:
                index = self.index  # the latest changes, whatever came in before the lock was free
                try:
                    merged = self.store.merge(index)
                except Exception as err:  # noqa: BLE001 - a failed merge must not take the server down
                    self._merge_failed_at = time.monotonic()
                    log.warning("Could not merge the index's changes: %s It keeps them beside it and answers as before; "
                                "the merge is tried again in %d minutes.", str(err) or type(err).__name__,
                                MERGE_RETRY_SECONDS // 60, exc_info=not isinstance(err, QAError))
                    return
                if merged is not index:
                    self._swap(merged)

        self._merging = threading.Thread(target=run, name="qa-merge", daemon=True)
        self._merging.start()
        return True

    @property
    def merging(self) -> bool:
        """Whether a background merge (``merge_in_background``) is under way."""
        return self._merging is not None and self._merging.is_alive()

    def wait_merged(self, timeout: float | None = None) -> bool:
        """Wait for a background merge to end; returns False when it is still running after ``timeout`` seconds."""
        if self._merging is not None:
            self._merging.join(timeout)
        return not self.merging

    def text(self, source: str) -> str:
        """The text a source was indexed as (for a PDF, HTML or DOCX: the extracted text citations point into)."""
        doc = self.index.document(source)
        if doc is None:
            raise CorpusError(f"No document {source!r} in the index.")
        return doc.text

    def file_path(self, source: str) -> Path | None:
        """The original file of an indexed source, or None: only files of this collection, never another path."""
        if self.index.document(source) is None:
            return None
        if source in self.files:
            return self.files[source]
        if self.corpus is None:
            return None
        root = self.corpus.resolve()
        path = (root / source).resolve()
        return path if path.is_relative_to(root) and path.is_file() else None

    def session(self) -> "Bot":
        """A bot over the same collection whose additions stay in memory and with it alone."""
        twin = copy.copy(self)  # the same search structures (no second copy of the vectors) until the first upload
        twin.store, twin.files, twin._write, twin._merging = self.store.private(), {}, threading.Lock(), None
        return twin

    def ask(self, question: str, history: list[dict] | None = None, k: int = 5) -> Answer:
        """Answer from the corpus. ``history`` is the chat so far, as ``{"role", "content"}`` messages."""
        *_, answer = self.ask_stream(question, history, k)
        return answer

    def ask_stream(self, question: str, history: list[dict] | None = None, k: int = 5) -> Iterator[str | Answer]:
        """``ask``, with a language model's text as it is written: strings, then the ``Answer`` (always last).

        Without a language model (or when retrieval finds no answer) only the ``Answer`` comes.
        """
        question = check_question(question)
        if history is not None and not isinstance(history, (list, tuple)):
            raise QuestionError(f"The history must be a list of chat messages ({{'role', 'content'}}), got {type(history).__name__}.")
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
            raise QuestionError(f"k must be a whole number from 1 to {MAX_K}, got {k!r}.")
        yield from self._answerer.stream(question, history, k, self.reranker, self.writer)

    def answer(self, question: str, history: list[dict] | None = None, k: int = 5, collapse: bool = True) -> Answer:
        """``ask`` without the input checks or a language model, and any ``k``: for evaluation over
        thousands of questions. ``collapse=False`` keeps near-duplicate passages (a benchmark judges each document)."""
        return self._answerer.answer(question, history, k, collapse, reranker=self.reranker)


def check_question(question: object) -> str:
    if not isinstance(question, str):
        raise QuestionError(f"The question must be text, got {type(question).__name__}.")
    q = clean_text(question).strip()
    if not q:
        raise QuestionError("The question is empty: type a question about the documents.")
    if len(q) > MAX_QUESTION_CHARS:
        raise QuestionError(f"The question is {len(q):,} characters long; the limit is {MAX_QUESTION_CHARS:,}. Shorten it to the question itself.")
    return q
