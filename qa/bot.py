"""``Bot``: the one class most users touch. ``Bot.load()`` then ``bot.ask(question)``."""
from __future__ import annotations

import copy
import logging
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from . import calibration
from . import index as index_io
from .answer import AnswerSettings, Composer, clean_text, fold_history, locate
from .checker import Checker
from .chunking import ChunkSettings
from .embedding import Embedder, model_name
from .errors import BadIndexError, CorpusError, QuestionError, SaveError
from .ingest import Limits, UnreadableFile, read
from .index import Index, IndexSettings, embed_text
from .llm import LLMSettings, connect
from .milvus import MilvusSettings, MilvusStore, fingerprint_of
from .rerank import Reranker, reranker_name
from .retrieval import FusionSettings, Retriever
from .types import Answer, Citation
from .vectors import ann_from
from .writer import Writer

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


def _calibrate(index: Index, embedder: Embedder, previous: dict | None, on_status: Callable[[str], None] | None) -> None:
    """Keep or redo the collection's calibration (``qa.calibration``), saying so when it runs."""
    chosen = calibration.keep_or_redo(index, embedder.encode, previous,
                                      lambda: _say("Calibrating the ranking to this collection …", on_status))
    log.info("%s", chosen.summary())


def _keep_passage_vectors(settings: IndexSettings, manifest: dict | None, chosen: str | None) -> IndexSettings:
    """Unless the caller chose, an index keeps the passage vectors it was built with (``qa index
    --passage-vectors summed`` is not undone by the next ``qa ask``)."""
    built = (manifest or {}).get("settings", {}).get("passage_vectors", "encoded")
    return settings if chosen or built == settings.passage_vectors else replace(settings, passage_vectors=built)


def _open_milvus(store: MilvusStore, corpus: Path, settings: IndexSettings, chosen: str | None, hashes: dict[str, str],
                 embedder: Embedder, rebuild: bool, replace_stale: bool, on_status: Callable[[str], None] | None) -> Index:
    """The corpus's index in Milvus: opened when it matches the corpus and settings, else built
    (continuing an interrupted build of the same corpus), calibrated and completed."""
    manifest = store.manifest()
    settings = _keep_passage_vectors(settings, manifest, chosen)
    if manifest is not None and not rebuild:
        if manifest.get("fingerprint") == fingerprint_of(settings, hashes):
            _say(f"Opening the index in Milvus at {store.settings.uri} …", on_status)
            return store.load()
        if not replace_stale:
            _say(f"The index in Milvus at {store.settings.uri} was built from other files or settings; serving it as it is "
                 "(`qa index --milvus-uri …` brings it up to date).", on_status)
            return store.load()
    if rebuild:
        store.drop()
    why = ("you asked for a rebuild" if rebuild else f"it was damaged ({store.damaged})" if store.damaged
           else "an earlier build stopped part way" if store.interrupted()
           else "the corpus or settings changed" if manifest else "there is no index there yet")
    _say(f"Building the index of {corpus} in Milvus at {store.settings.uri}: {why}.", on_status)
    docs, skipped = index_io.load_documents(corpus)
    full = store.build(docs, settings, embedder.encode, hashes, skipped, say=lambda m: _say(m, on_status))
    _calibrate(full, embedder, None, on_status)
    store.finish(full)
    return store.load()


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
                 reranker: Reranker | None = None, writer: Writer | None = None, store: "MilvusStore | None" = None) -> None:
        self.embedder = embedder
        self.store = store  # None: the index is in memory (FAISS), saved to ``index_path``
        self.reranker = reranker
        self.writer = writer  # None: answers are quoted from the documents (the default)
        self.corpus = corpus
        self.index_path = index_path  # None: changes live in memory only (a visitor's session)
        self.fusion, self.answer_settings = fusion, answer_settings
        self.files: dict[str, Path] = {}  # sources added from outside the corpus folder → where they are
        self._write = threading.Lock()
        self._swap(index)

    @property
    def index(self) -> Index:
        return self._engine.index

    @property
    def retriever(self) -> Retriever:
        return self._engine.retriever

    @property
    def composer(self) -> Composer:
        return self._engine.composer

    def _swap(self, index: Index) -> None:
        """Serve ``index`` from now on; questions already being answered finish on the old one.
        Fusion weights: the caller's, else those the collection was calibrated to."""
        fusion = self.fusion or calibration.fusion_for(index)
        retriever = self.store.retriever(index, fusion) if self.store is not None else Retriever(index, fusion)
        self._engine = _Engine(index, retriever, Composer(index, self.answer_settings))

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
        OpenAI-compatible server (default: none, or ``QA_LLM``; see ``qa.llm``). ``milvus_uri`` keeps
        the index in Milvus instead of ``index`` (a ``.db`` path for Milvus Lite, or a server's URL
        with ``milvus_token``; default: none, or ``QA_MILVUS_URI``; see ``qa.milvus``); with
        ``replace_stale=False`` (a server sharing it) an index already there is served as it is, never
        dropped (but a Milvus Lite file whose data a killed process cut short is built again). An index built or updated here that cannot be saved (a full disk) is answered from in
        memory, with one line saying so, unless ``require_saved`` (``qa index``) makes that an error.
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
        hashes = index_io.file_hashes(corpus_path, others)  # also checks the corpus exists and has files
        reason = "you asked for a rebuild" if rebuild else None
        loaded: Index | None = None
        changed: str | None = None
        store = MilvusStore(milvus, rebuild) if milvus is not None else None  # first: an unreachable server fails fast
        if store is None:
            index_io.recover(index_path)
        if reason is None and store is None:
            try:
                manifest = index_io.read_manifest(index_path)
                index_settings = _keep_passage_vectors(index_settings, manifest, chosen)
                if index_io.only_tokenizer_changed(manifest, index_settings):
                    _say("Re-reading the index's words with this version's tokenizer (vectors kept) …", on_status)
                    index_io.save(index_io.retokenized(index_io.load(index_path), index_settings), index_path)
                    manifest = index_io.read_manifest(index_path)
                reason = index_io.settings_changed(manifest, index_settings)
                if reason is None:
                    loaded = index_io.load(index_path)
                    changed = index_io.staleness(manifest, index_settings, hashes)
            except BadIndexError as err:
                loaded = None
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
        previous = loaded.manifest.get("calibration") if loaded is not None else None
        if store is not None:
            loaded = _open_milvus(store, corpus_path, index_settings, chosen, hashes, embedder, rebuild, replace_stale, on_status)
        elif loaded is None:
            _say(f"Building the index of {corpus_path} at {index_path}: {reason}.", on_status)
            loaded = index_io.build_from_folder(corpus_path, index_settings, embedder.encode, hashes)
        elif changed:
            _say(f"Updating the index of {corpus_path}: {changed.removeprefix('the corpus has ')}.", on_status)
            loaded = index_io.refresh(loaded, corpus_path, embedder.encode, hashes, others)
        relayout = store is None and index_io.layout_outdated(loaded)
        if relayout and not (reason or changed):
            _say(f"Saving the index in the {'large' if loaded.ivf is None else 'flat'} layout for its "
                 f"{len(loaded.chunks):,} passages (once) …", on_status)
        if store is None and (reason or changed or relayout or calibration.stale(previous, len(loaded.chunks))):
            _calibrate(loaded, embedder, previous, on_status)
            try:
                index_io.save(loaded, index_path)
            except SaveError as err:
                if require_saved:
                    raise
                _say(f"{err} Meanwhile, questions are answered from the index in memory.", on_status)
        if on_status is not None and (loaded is not None and (reason or changed)):  # the CLI already saw them in the log
            for line in loaded.manifest.get("skipped", []):
                on_status(line)
        writer = None
        llm_settings = LLMSettings.from_env(llm)
        if llm_settings is not None:
            _say(f"Loading language model {llm_settings.target} …", on_status)
            writer = Writer(connect(llm_settings), llm_settings.max_tokens)
        return cls(loaded, embedder, corpus_path, None if store else index_path, fusion, answer_settings, cross, writer, store)

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
        self._no_milvus_changes()
        self._no_session_copy_of_a_large_index()
        say = on_status or (lambda m: _say(m, None))
        warnings: list[str] = []
        with self._write:
            staged: list[tuple[Path, Path, str, bool]] = []  # (file, its root, source, made a copy)
            for p in map(Path, paths):
                try:
                    staged.append(self._stage(p))
                except UnreadableFile as err:
                    warnings.append(str(err))
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
                    hashes[source] = index_io.file_sha(path)
                except UnreadableFile as err:
                    warnings.append(str(err).replace(f"Skipped {path.relative_to(root).as_posix()}:", f"Skipped {source}:", 1))
                    if copied:
                        path.unlink(missing_ok=True)  # our copy of a file we cannot read: do not keep it
            if docs:
                say(f"Embedding {len(docs)} document{'s' if len(docs) > 1 else ''} …")
                try:
                    known = dict(self.index.hashes, **hashes)
                    updated = index_io.update(self.index, docs, set(), self.embedder.encode, known,
                                              skipped=self.index.manifest.get("skipped", []))
                    self._persist(updated)
                except BaseException:
                    for path in copies:  # nothing was added: do not leave our copies in the corpus
                        path.unlink(missing_ok=True)
                    raise
                self.files.update(outside)  # only once the index holds them
                say(f"Added {', '.join(d.source for d in docs)}.")
        return warnings

    def remove(self, source: str) -> None:
        """Drop one document. A file of the corpus folder is moved to ``.qa-removed/`` inside it
        (nothing is deleted; moving it back and reloading restores it)."""
        self._no_milvus_changes()
        self._no_session_copy_of_a_large_index()
        with self._write:
            if self.index.document(source) is None:
                raise CorpusError(f"No document {source!r} in the index; the sources are listed by `qa sources`.")
            if len(self.index.docs) == 1:
                raise CorpusError(f"{source} is the only document left; add another before removing it.")
            updated = index_io.update(self.index, [], {source}, self.embedder.encode, self.index.hashes,
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

    def _no_milvus_changes(self) -> None:
        if self.store is not None:
            raise CorpusError("Documents cannot yet be added to or removed from an index kept in Milvus one by one: change "
                              "the corpus folder and run `qa index --milvus-uri …` again (it rebuilds the collections).")

    def _no_session_copy_of_a_large_index(self) -> None:
        """A visitor's library holds its own copy of the shared index: of a large one, that is gigabytes."""
        if self.index_path is None and (self.index.ivf is not None or len(self.index.chunks) >= ann_from()):
            raise CorpusError(f"Uploads are not available on this server: its collection is large ({len(self.index.chunks):,} "
                              "passages) and each visitor would need a copy of it. Ask about the collection as it is.")

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
        digest = index_io.file_sha(real)
        n = 2
        while target.exists() and index_io.file_sha(target) != digest:
            target = corpus / f"{path.stem} ({n}){path.suffix}"
            n += 1
        copied = not target.exists()
        if copied:
            shutil.copyfile(real, target)
        return target, corpus, target.relative_to(corpus).as_posix(), copied

    def _persist(self, updated: Index) -> None:
        index_io.note_skipped(updated, {**updated.hashes, **updated.manifest.get("skipped_files", {})})
        _calibrate(updated, self.embedder, self.index.manifest.get("calibration"), None if self.index_path else lambda m: None)
        if self.index_path is not None:
            index_io.save(updated, self.index_path)
        self._swap(updated)

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
        twin.index_path, twin.files, twin._write = None, {}, threading.Lock()
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
        engine = self._engine
        answer = self.answer(question, history, k)
        if self.writer is None:
            yield answer
            return
        checker = Checker(self.embedder.encode, engine.index.lexical.idf, stored=engine.stored_sentences)
        yield from self.writer.write(answer, history, checker, lambda c: locate(c, engine.index.document(c.source)))

    def answer(self, question: str, history: list[dict] | None = None, k: int = 5, collapse: bool = True) -> Answer:
        """``ask`` without the input checks, and any ``k``: for evaluation over thousands of questions.

        ``collapse=False`` keeps near-duplicate passages (a benchmark judges each document).
        """
        engine = self._engine  # one consistent index for the whole answer, even if files are added meanwhile
        query = fold_history(question, history)
        if query.is_followup:
            # Half the earlier turn folded in, half what is asked now: the context says what
            # about, the new question says which part of it.
            folded, current = self.embedder.encode_queries([query.encoded, query.question])
            vector = folded + current
            vector /= np.linalg.norm(vector)
        else:
            vector = self.embedder.encode_queries([query.encoded])[0]
        hits = engine.retriever.search(vector, query.tokens, max(k, engine.composer.settings.rerank_depth), collapse=collapse)
        order = None
        if self.reranker is not None:
            chunks = [engine.index.chunks[h.chunk] for h in hits]
            order = self.reranker.scores(query.asked, [embed_text(c.title, c.text, engine.index.settings.title_in_embedding) for c in chunks])
        return engine.composer.compose(query, vector, hits, k, order=order)


@dataclass(frozen=True)
class _Engine:
    """What one answer reads: swapped whole when documents are added or removed."""

    index: Index
    retriever: Retriever
    composer: Composer

    def stored_sentences(self, citation: Citation) -> tuple[list[tuple[int, int]], np.ndarray] | None:
        """A cited passage's sentences with the vectors the index already holds: checking a written
        answer then encodes only what was written."""
        chunk = self.index.chunk_at(citation.source, citation.start, citation.end)
        return None if chunk is None else self.index.passage_sentences(chunk)


def check_question(question: object) -> str:
    if not isinstance(question, str):
        raise QuestionError(f"The question must be text, got {type(question).__name__}.")
    q = clean_text(question).strip()
    if not q:
        raise QuestionError("The question is empty: type a question about the documents.")
    if len(q) > MAX_QUESTION_CHARS:
        raise QuestionError(f"The question is {len(q):,} characters long; the limit is {MAX_QUESTION_CHARS:,}. Shorten it to the question itself.")
    return q
