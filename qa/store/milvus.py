"""Keep the index in Milvus: past one machine, or a collection too large to hold in memory.

``Bot.load(milvus_uri=…)``, ``--milvus-uri`` or ``QA_MILVUS_URI``. A path ending in ``.db`` is
Milvus Lite (an engine in a local file, started by pymilvus); ``http://host:19530`` is a Milvus
server or cluster, and a Zilliz Cloud endpoint works the same with a token (``QA_MILVUS_TOKEN``).

Three collections per corpus (``<name>_passages``, ``<name>_sentences``, ``<name>_blobs``):

- passages: the chunk records, their vectors, and their words for Milvus's own BM25 full-text
  search (a ``BM25`` function over the bot's own tokens, so both stores see the same words);
- sentences: each sentence's offsets, the chunks holding it, and its vector;
- blobs: the documents, the manifest, the near-duplicate groups and the term statistics that
  highlighting and abstention read, as JSON split into pieces.

Searching asks Milvus for the top passages by vector, by sentence vector and by BM25; the fused
candidates are then scored exactly as the FAISS store scores them (their vectors fetched from
Milvus, their BM25 recomputed from the same term statistics), so ``ask`` gives the same citations.

Building is resumable: documents are embedded and written in batches, each batch's rows keyed by
fixed ids (so a re-run overwrites rather than duplicates), and a batch is marked done only once its
rows are flushed. An interrupted build picks up at the first batch not marked.
"""
from __future__ import annotations

import hashlib
import json
import logging
import socket
import time
from typing import Callable, Iterator
from urllib.parse import urlparse

import numpy as np

from qa.errors import BadIndexError, CorpusError
from qa.ingest.documents import load_documents
from qa.store.base import OpenRequest, Store
from qa.store.freshness import keep_passage_vectors, text_hash
from qa.store.lexical import TermStats, tokenize
from qa.store.milvus_client import (
    DATA_FILE_DAMAGED,
    MilvusSettings,
    MilvusUnavailable,
    RemoteVectors,
    answering,
    connect,
    first_line,
    quiet,
)
from qa.store.milvus_rows import MilvusCollections
from qa.store.persist import document_from_record, document_record
from qa.store.record import Index, IndexSettings
from qa.store.segments import (
    Segment,
    assemble,
    chunk_sentences,
    lexical_text,
    make_segments,
    segments_of,
)
from qa.types import Chunk, Document

log = logging.getLogger(__name__)

STORE_VERSION = 1
PUT_DOCUMENTS = 64  # documents' rows written together when storing an index built elsewhere


class MilvusStore(MilvusCollections, Store):
    """One corpus's index in Milvus: build it (resumably), open it, search it."""

    def __init__(self, settings: MilvusSettings, rebuild: bool = False) -> None:
        """Connect and load the collections. A Milvus Lite collection whose data files cannot be read
        (Milvus Lite leaves one cut short when its process is killed mid-write) is dropped with the
        others, for ``load`` to build them again from the corpus: ``damaged`` says what was wrong. Any
        other collection that will not load is one clear error, unless ``rebuild`` drops it anyway."""
        self.settings = settings
        self.where = settings.uri
        self._rebuilt = False
        self.client = connect(settings)
        self.lite = settings.uri.endswith(".db")
        self.passages, self.sentences, self.blobs = (f"{settings.name}_{kind}" for kind in ("passages", "sentences", "blobs"))
        self.damaged: str | None = None
        with quiet():  # what cannot be read is said below in one line, not as the engine's tracebacks
            for name in (self.passages, self.sentences, self.blobs):
                try:
                    if self.client.has_collection(name):
                        self.client.load_collection(name)  # a collection written by another process starts released
                except Exception as err:  # noqa: BLE001 - pymilvus raises MilvusException, Milvus Lite its own
                    self.damaged = f"the collection {name} cannot be read: {first_line(err)}"
                    cut_short = self.lite and DATA_FILE_DAMAGED.search(str(err)) is not None
                    break
        if self.damaged is None:
            return
        if not (cut_short or rebuild):
            build = "Build" if self.lite else "If the server is up, build"
            raise BadIndexError(f"The index in Milvus at {settings.uri} cannot be read ({self.damaged}). {build} it again "
                                f"with `qa index FOLDER --rebuild --milvus-uri {settings.uri}` (FOLDER: its corpus); "
                                "the corpus files are untouched.")
        try:
            with quiet():
                self.drop()
        except Exception as err:  # noqa: BLE001 - as above
            raise BadIndexError(f"The index in Milvus at {settings.uri} cannot be read ({self.damaged}) nor dropped "
                                f"({first_line(err)}). Delete it (for Milvus Lite, the folder {settings.uri}) and run again; "
                                "the corpus files are untouched.") from err

    # ------------------------------------------------------------ state

    def manifest(self) -> dict | None:
        """The stored manifest, or None when no complete index is there."""
        if not self.client.has_collection(self.blobs):
            return None
        raw = self._read_blob("manifest")
        return json.loads(raw) if raw else None

    def interrupted(self) -> bool:
        """Whether a build stopped part way (its finished batches will be kept)."""
        return bool(self._progress())

    def drop(self) -> None:
        for name in (self.passages, self.sentences, self.blobs):
            try:
                there = self.client.has_collection(name)
            except Exception:  # noqa: BLE001 - a collection that cannot be read is there, and is dropped
                there = True
            if there:
                self.client.drop_collection(name)

    # ------------------------------------------------------------ build

    def build(self, docs: list[Document], settings: IndexSettings, encode: Callable[..., np.ndarray],
              hashes: dict[str, str] | None = None, skipped: list[str] | None = None,
              say: Callable[[str], None] = log.info) -> Index:
        """Embed ``docs`` into Milvus, continuing an interrupted build of the same documents and
        settings; returns the whole index in memory once (for calibration), then ``finish`` stores
        what searching needs besides the rows."""
        started = time.perf_counter()
        docs = sorted(docs, key=lambda d: d.source)
        own = {d.source: (hashes or {}).get(d.source) or text_hash(d) for d in docs}
        fingerprint = fingerprint_of(settings, hashes or own)  # the caller's file hashes, as Bot.load compares
        hashes = own
        batches = list(_batches(docs, self.settings.batch_chars))
        keys = [_batch_key(batch) for batch in batches]
        progress = self._progress()
        done = progress.get("batches", {})
        # Resume only a build of the same documents, settings and batches; anything else starts afresh.
        same = (progress.get("fingerprint") == fingerprint and progress.get("batch_chars") == self.settings.batch_chars
                and all(n < len(keys) and row[2] == keys[n] for n, row in ((int(k), v) for k, v in done.items())))
        if not same:
            if progress or self.manifest() is not None:
                say(f"The Milvus collections {self.settings.name}_* hold another build: starting afresh.")
            self.drop()
            progress = {"fingerprint": fingerprint, "batch_chars": self.settings.batch_chars, "batches": {}}
            done = progress["batches"]
        dimension = int(encode(["x"]).shape[1])
        self._create(dimension)
        if done:
            say(f"Resuming the Milvus build: {len(done)} of {len(batches)} batches already stored.")
        segments: list[Segment] = []
        chunk_base = sentence_base = doc_base = 0
        for n, batch in enumerate(batches):
            key = str(n)
            if key in done:
                made = self._read_segments(batch, hashes, chunk_base, sentence_base, *done[key][:2])
            else:
                made = make_segments(batch, settings, encode, hashes)
                self._write_segments(made, chunk_base, sentence_base, doc_base)
                done[key] = [sum(len(s.chunks) for s in made), sum(len(s.sentences) for s in made), keys[n]]
                self._write_blob("progress", json.dumps(progress))  # only now is the batch safe
            segments.extend(made)
            chunk_base += done[key][0]
            sentence_base += done[key][1]
            doc_base += len(batch)
        index = assemble(segments, settings, dimension, skipped, started, embedded=len(docs))
        index.manifest["fingerprint"] = fingerprint
        return index

    def put(self, index: Index, hashes: dict[str, str]) -> None:
        """Store an index built elsewhere (on a Ray cluster), replacing what is here: its rows a few
        documents at a time, then ``finish``. ``hashes``: the corpus's files, as ``Bot.load`` compares them."""
        self.drop()
        self._create(int(index.manifest["dimension"]))
        segments = segments_of(index)
        ci = si = 0
        for n in range(0, len(segments), PUT_DOCUMENTS):
            batch = segments[n:n + PUT_DOCUMENTS]
            self._write_segments(batch, ci, si, n)
            ci += sum(len(s.chunks) for s in batch)
            si += sum(len(s.sentences) for s in batch)
        index.manifest["fingerprint"] = fingerprint_of(index.settings, hashes)
        self.finish(index)

    def finish(self, index: Index) -> None:
        """Store the documents, groups, term statistics and manifest: the index is complete."""
        groups = {int(i): int(g) for i, g in enumerate(index.groups) if g != i}
        self._write_blob("documents", "\n".join(json.dumps(document_record(d), ensure_ascii=False) for d in index.docs))
        self._write_blob("groups", json.dumps(groups))
        self._write_blob("terms", json.dumps(TermStats.from_tokens(index.terms).to_dict(), ensure_ascii=False))
        manifest = {**index.manifest, "store": {"kind": "milvus", "version": STORE_VERSION, "name": self.settings.name}}
        self._write_blob("manifest", json.dumps(manifest, ensure_ascii=False))
        self._delete_blob("progress")
        index.manifest = manifest

    # ------------------------------------------------------------ open

    def load(self) -> Index:
        """The index with its records in memory and its vectors left in Milvus (fetched as needed)."""
        manifest = self.manifest()
        if manifest is None:
            raise BadIndexError(f"There is no complete index in Milvus at {self.settings.uri} "
                                f"(collections {self.settings.name}_*): run `qa index --milvus-uri …` first.")
        settings = IndexSettings.from_dict(manifest["settings"])
        docs = [document_from_record(json.loads(line)) for line in self._read_blob("documents").splitlines() if line]
        rows = sorted(self._scan(self.passages, ["id", "source", "title", "text", "start", "end"]), key=lambda r: r["id"])
        chunks = [Chunk(r["source"], r["title"], r["text"], int(r["start"]), int(r["end"])) for r in rows]
        srows = sorted(self._scan(self.sentences, ["id", "doc", "start", "end", "first", "last"]), key=lambda r: r["id"])
        sentences = np.array([[r["doc"], r["start"], r["end"], r["first"], r["last"]] for r in srows], dtype=np.int32).reshape(-1, 5)
        groups = np.arange(len(chunks), dtype=np.int64)
        for i, g in json.loads(self._read_blob("groups") or "{}").items():
            groups[int(i)] = g
        dim = int(manifest["dimension"])
        return Index(settings=settings, docs=docs, chunks=chunks, groups=groups,
                     chunk_vectors=RemoteVectors(self.client, self.passages, len(chunks), dim, uri=self.settings.uri),
                     sentences=sentences,
                     sentence_vectors=RemoteVectors(self.client, self.sentences, len(sentences), dim, uri=self.settings.uri),
                     chunk_sentences=chunk_sentences(sentences, len(chunks)),
                     lexical=TermStats.from_dict(json.loads(self._read_blob("terms"))), manifest=manifest)

    # ------------------------------------------------------------ the Store interface

    def open(self, request: OpenRequest) -> Index:
        """The corpus's index in Milvus: opened when it matches the corpus and settings, else built
        (continuing an interrupted build of the same corpus), calibrated and completed."""
        r, uri = request, self.settings.uri
        manifest = self.manifest()
        settings = keep_passage_vectors(r.settings, manifest, r.chosen_vectors)
        embedder = r.load_model()
        if manifest is not None and not r.rebuild:
            if manifest.get("fingerprint") == fingerprint_of(settings, r.hashes):
                r.say(f"Opening the index in Milvus at {uri} …")
                return self.load()
            if not r.replace_stale:
                r.say(f"The index in Milvus at {uri} was built from other files or settings; serving it as it is "
                      "(`qa index --milvus-uri …` brings it up to date).")
                return self.load()
        if r.rebuild:
            self.drop()
        why = ("you asked for a rebuild" if r.rebuild else f"it was damaged ({self.damaged})" if self.damaged
               else "an earlier build stopped part way" if self.interrupted()
               else "the corpus or settings changed" if manifest else "there is no index there yet")
        r.say(f"Building the index of {r.corpus} in Milvus at {uri}: {why}.")
        docs, skipped = load_documents(r.corpus)
        full = self.build(docs, settings, embedder.encode, r.hashes, skipped, say=r.say)
        r.calibrate(full, None)
        self.finish(full)
        self._rebuilt = r.rebuild
        return self.load()

    @property
    def rebuilt(self) -> bool:
        return self._rebuilt

    def search(self, index: Index) -> "MilvusSearch":
        return MilvusSearch(index, self)

    def check_changes(self, index: Index) -> None:
        raise CorpusError("Documents cannot yet be added to or removed from an index kept in Milvus one by one: change "
                          "the corpus folder and run `qa index --milvus-uri …` again (it rebuilds the collections).")

    def keep(self, index: Index) -> None:
        self.check_changes(index)

    def private(self) -> "MilvusStore":
        return self  # a session changes nothing here (``check_changes``)

class MilvusSearch:
    """The three candidate lists from Milvus: vector search over passages and over sentences, and
    Milvus's BM25 full-text search. Candidates are then scored as the FAISS store's are (``Retriever``),
    so answers and citations match it."""

    def __init__(self, index: Index, store: MilvusStore) -> None:
        self.index, self.store = index, store
        self._terms: dict[int, list[str]] = {}  # each chunk's tokens, for BM25 of the candidates

    def chunk_terms(self, ci: int) -> list[str]:
        """Tokenized on first use: the Milvus index keeps no token lists in memory."""
        terms = self._terms.get(ci)
        if terms is None:
            if len(self._terms) > 100_000:
                self._terms = {}  # bounded; a new dict, so a thread reading the old one is not disturbed
            c = self.index.chunks[ci]
            terms = self._terms[ci] = tokenize(lexical_text(c, self.index.settings.title_in_embedding))
        return terms

    def candidates(self, qv: np.ndarray, query_tokens: list[str], depth: int,
                   sentence_depth: int) -> tuple[np.ndarray, np.ndarray, float, int]:
        with answering(self.store.settings.uri):
            try:
                return self._candidates(qv, query_tokens, depth, sentence_depth)
            except Exception as err:  # noqa: BLE001 - pymilvus's MilvusException, Milvus Lite's own
                text = str(err).lower()
                if "fail connecting" in text and not self.store.lite:
                    try:
                        return self._once_back(qv, query_tokens, depth, sentence_depth)
                    except Exception as again:  # noqa: BLE001 - the restarted server's collections released: below
                        text = str(again).lower()
                        if not _released(text):
                            raise
                elif not _released(text):
                    raise
                # A restarted server holds the collections released: load them, and ask once more.
                for name in (self.store.passages, self.store.sentences):
                    self.store.client.load_collection(name)
                return self._candidates(qv, query_tokens, depth, sentence_depth)

    def _once_back(self, qv: np.ndarray, query_tokens: list[str], depth: int,
                   sentence_depth: int) -> tuple[np.ndarray, np.ndarray, float, int]:
        """The search again, for a server that went away: refused at once while its port is shut; once it
        answers again, retried for up to ten seconds while pymilvus's channel, which waits longer and longer
        between attempts while a server is gone, recovers (the first question after it was back could fail)."""
        uri = self.store.settings.uri
        where = urlparse(uri)
        deadline = time.monotonic() + 10
        while True:
            try:  # a plain TCP knock first: pymilvus logs a traceback for every attempt on a server still gone
                socket.create_connection((where.hostname or "127.0.0.1", where.port or 19530), timeout=5).close()
            except OSError as err:
                raise MilvusUnavailable(f"The Milvus server at {uri} did not answer ({err.strerror or err}): is it "
                                        "running? Ask again once it is back.") from err
            try:
                with quiet():
                    return self._candidates(qv, query_tokens, depth, sentence_depth)
            except Exception as err:  # noqa: BLE001 - pymilvus's MilvusException
                text = str(err).lower()
                if _released(text):
                    raise
                if "fail connecting" not in text or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def _candidates(self, qv: np.ndarray, query_tokens: list[str], depth: int,
                    sentence_depth: int) -> tuple[np.ndarray, np.ndarray, float, int]:
        ix, client = self.index, self.store.client
        dense = client.search(self.store.passages, data=[qv.tolist()], anns_field="vector", limit=depth, output_fields=["id"])
        sent = client.search(self.store.sentences, data=[qv.tolist()], anns_field="vector",
                             limit=sentence_depth, output_fields=["first", "last"]) if len(ix.sentences) else [[]]
        candidates = {int(h["id"]) for h in dense[0]}
        for h in sent[0]:
            e = h["entity"]
            candidates.update(range(int(e["first"]), int(e["last"]) + 1))
        known = ix.lexical.known(query_tokens)
        if known:
            lexical = client.search(self.store.passages, data=[" ".join(known)], anns_field="sparse", limit=depth,
                                    search_params={"metric_type": "BM25"}, output_fields=["id"])
            candidates.update(int(h["id"]) for h in lexical[0])
        cand = np.fromiter(candidates, dtype=np.int64)
        # Milvus found the lexical candidates; their scores come from the same formula as bm25s's (Milvus
        # Lite's own are per segment), so the fused ranking is the FAISS store's. The candidates hold
        # Milvus's lexical top list, so their best is the collection's best.
        bm25 = ix.lexical.bm25(query_tokens, [self.chunk_terms(int(c)) for c in cand])
        if not len(cand) or not bm25.any():
            return cand, bm25, 0.0, 0
        best = int(np.argmax(bm25))
        return cand, bm25, float(bm25[best]), int(cand[best])


def _released(error: str) -> bool:
    """Whether a (lower-cased) Milvus error says the collections are not loaded: a restarted server's are not."""
    return "released" in error or "not loaded" in error or "load()" in error


def _batch_key(batch: list[Document]) -> str:
    """Which documents a batch holds, and their text: a resumed build must find the same ones."""
    h = hashlib.sha256()
    for d in batch:
        h.update(f"{d.source}\0{len(d.text)}\0{text_hash(d)}\0".encode())
    return h.hexdigest()[:16]


def _batches(docs: list[Document], budget: int) -> Iterator[list[Document]]:
    """Consecutive documents holding about ``budget`` characters: the unit that is embedded and saved."""
    batch, size = [], 0
    for d in docs:
        batch.append(d)
        size += len(d.text)
        if size >= budget:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def fingerprint_of(settings: IndexSettings, hashes: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps([STORE_VERSION, settings.to_dict(), sorted(hashes.items())]).encode()).hexdigest()[:16]
