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
import os
import re
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from .errors import BadIndexError
from .index import (Index, IndexSettings, Segment, assemble, chunk_sentences, document_from_record, document_record,
                    lexical_text, make_segments, text_hash)
from .lexical import TermStats, tokenize
from .retrieval import FusionSettings, Retriever
from .types import Chunk, Document

log = logging.getLogger(__name__)

STORE_VERSION = 1
_PIECE = 15_000  # characters per blob piece: under Milvus's 65,535-byte VARCHAR even in 4-byte UTF-8
_TEXT_MAX = 65_535


@dataclass(frozen=True)
class MilvusSettings:
    """Where the index lives. ``name`` prefixes the collections, so one server holds many corpora."""

    uri: str
    token: str = ""
    name: str = "qa"
    batch_chars: int = 200_000  # document text embedded and written between two save points

    @classmethod
    def from_env(cls, uri: str | None = None, token: str | None = None, name: str | None = None) -> "MilvusSettings | None":
        uri = (uri if uri is not None else os.environ.get("QA_MILVUS_URI", "")).strip()
        if not uri:
            return None
        token = token if token is not None else os.environ.get("QA_MILVUS_TOKEN", "")
        name = name or os.environ.get("QA_MILVUS_NAME", "") or "qa"
        try:
            batch = max(1, int(os.environ.get("QA_MILVUS_BATCH_CHARS", "") or 200_000))
        except ValueError:
            raise BadIndexError("QA_MILVUS_BATCH_CHARS must be a whole number of characters (default 200000).") from None
        if not name.replace("_", "").isalnum() or not name[0].isalpha():
            raise BadIndexError(f"The Milvus collection name {name!r} must start with a letter and hold only letters, "
                                "digits and underscores (QA_MILVUS_NAME).")
        return cls(uri, token, name, batch)


class MilvusStore:
    """One corpus's index in Milvus: build it (resumably), open it, search it."""

    def __init__(self, settings: MilvusSettings, rebuild: bool = False) -> None:
        """Connect and load the collections. A Milvus Lite collection whose data files cannot be read
        (Milvus Lite leaves one cut short when its process is killed mid-write) is dropped with the
        others, for ``load`` to build them again from the corpus: ``damaged`` says what was wrong. Any
        other collection that will not load is one clear error, unless ``rebuild`` drops it anyway."""
        self.settings = settings
        self.client = _connect(settings)
        self.lite = settings.uri.endswith(".db")
        self.passages, self.sentences, self.blobs = (f"{settings.name}_{kind}" for kind in ("passages", "sentences", "blobs"))
        self.damaged: str | None = None
        with _quiet():  # what cannot be read is said below in one line, not as the engine's tracebacks
            for name in (self.passages, self.sentences, self.blobs):
                try:
                    if self.client.has_collection(name):
                        self.client.load_collection(name)  # a collection written by another process starts released
                except Exception as err:  # noqa: BLE001 - pymilvus raises MilvusException, Milvus Lite its own
                    self.damaged = f"the collection {name} cannot be read: {_first_line(err)}"
                    cut_short = self.lite and _DATA_FILE_DAMAGED.search(str(err)) is not None
                    break
        if self.damaged is None:
            return
        if not (cut_short or rebuild):
            build = "Build" if self.lite else "If the server is up, build"
            raise BadIndexError(f"The index in Milvus at {settings.uri} cannot be read ({self.damaged}). {build} it again "
                                f"with `qa index FOLDER --rebuild --milvus-uri {settings.uri}` (FOLDER: its corpus); "
                                "the corpus files are untouched.")
        try:
            with _quiet():
                self.drop()
        except Exception as err:  # noqa: BLE001 - as above
            raise BadIndexError(f"The index in Milvus at {settings.uri} cannot be read ({self.damaged}) nor dropped "
                                f"({_first_line(err)}). Delete it (for Milvus Lite, the folder {settings.uri}) and run again; "
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
                     chunk_vectors=RemoteVectors(self.client, self.passages, len(chunks), dim), sentences=sentences,
                     sentence_vectors=RemoteVectors(self.client, self.sentences, len(sentences), dim),
                     chunk_sentences=chunk_sentences(sentences, len(chunks)),
                     lexical=TermStats.from_dict(json.loads(self._read_blob("terms"))), manifest=manifest)

    def retriever(self, index: Index, fusion: FusionSettings | None = None) -> "MilvusRetriever":
        return MilvusRetriever(index, self, fusion)

    # ------------------------------------------------------------ collections

    def _create(self, dim: int) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        c = self.client
        if not c.has_collection(self.passages):
            s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            s.add_field("id", DataType.INT64, is_primary=True)
            s.add_field("source", DataType.VARCHAR, max_length=_TEXT_MAX)
            s.add_field("title", DataType.VARCHAR, max_length=_TEXT_MAX)
            s.add_field("text", DataType.VARCHAR, max_length=_TEXT_MAX)
            s.add_field("start", DataType.INT64)
            s.add_field("end", DataType.INT64)
            # The bot's own tokens (folded, stemmed), joined by spaces: Milvus's standard analyzer
            # splits them back, so its BM25 and the FAISS store's count the same words.
            s.add_field("words", DataType.VARCHAR, max_length=_TEXT_MAX, enable_analyzer=True, analyzer_params={"tokenizer": "standard"})
            s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
            s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            s.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["words"], output_field_names=["sparse"]))
            ip = c.prepare_index_params()
            ip.add_index(field_name="vector", **_vector_index(self.lite))
            ip.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={"bm25_k1": 1.5, "bm25_b": 0.75})
            c.create_collection(self.passages, schema=s, index_params=ip, consistency_level="Strong")
        if not c.has_collection(self.sentences):
            s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            s.add_field("id", DataType.INT64, is_primary=True)
            for f in ("doc", "start", "end", "first", "last"):
                s.add_field(f, DataType.INT64)
            s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            ip = c.prepare_index_params()
            ip.add_index(field_name="vector", **_vector_index(self.lite))
            c.create_collection(self.sentences, schema=s, index_params=ip, consistency_level="Strong")
        self._create_blobs()

    def _create_blobs(self) -> None:
        from pymilvus import DataType, MilvusClient

        if self.client.has_collection(self.blobs):
            return
        s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        s.add_field("key", DataType.VARCHAR, is_primary=True, max_length=200)
        s.add_field("name", DataType.VARCHAR, max_length=100)
        s.add_field("part", DataType.INT64)
        s.add_field("data", DataType.VARCHAR, max_length=_TEXT_MAX)
        s.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector in every collection
        ip = self.client.prepare_index_params()
        ip.add_index(field_name="v", index_type="FLAT", metric_type="L2")
        self.client.create_collection(self.blobs, schema=s, index_params=ip, consistency_level="Strong")

    def _write_segments(self, segments: list[Segment], chunk_base: int, sentence_base: int, doc_base: int) -> None:
        passages, sentences = [], []
        ci, si = chunk_base, sentence_base
        for di, seg in enumerate(segments, start=doc_base):
            for c, terms, v in zip(seg.chunks, seg.terms, seg.chunk_vectors):
                if len(c.text.encode("utf-8")) > _TEXT_MAX:
                    raise BadIndexError(f"A passage of {c.source} is longer than Milvus's 65,535-byte text field: "
                                        "index with a smaller chunk size.")
                passages.append({"id": ci, "source": c.source, "title": c.title[:_PIECE], "text": c.text, "start": c.start,
                                 "end": c.end, "words": " ".join(terms)[:_TEXT_MAX // 4], "vector": v.tolist()})
                ci += 1
            base = ci - len(seg.chunks)
            for (a, b, first, last), v in zip(seg.sentences.tolist(), seg.sentence_vectors):
                sentences.append({"id": si, "doc": di, "start": a, "end": b, "first": base + first, "last": base + last, "vector": v.tolist()})
                si += 1
        for name, rows in ((self.passages, passages), (self.sentences, sentences)):
            for i in range(0, len(rows), 500):
                self.client.upsert(name, rows[i:i + 500])
            self.client.flush(name)

    def _read_segments(self, docs: list[Document], hashes: dict[str, str], chunk_base: int, sentence_base: int,
                       n_chunks: int, n_sentences: int) -> list[Segment]:
        """A batch stored by an earlier run, read back (records and vectors) instead of embedded again."""
        prows = sorted(self._scan(self.passages, ["id", "source", "title", "text", "start", "end", "words", "vector"],
                                  f"id >= {chunk_base} and id < {chunk_base + n_chunks}"), key=lambda r: r["id"])
        srows = sorted(self._scan(self.sentences, ["id", "start", "end", "first", "last", "vector"],
                                  f"id >= {sentence_base} and id < {sentence_base + n_sentences}"), key=lambda r: r["id"])
        if len(prows) != n_chunks or len(srows) != n_sentences:
            raise BadIndexError(f"The Milvus collections {self.settings.name}_* lost rows of a finished batch: "
                                "run `qa index --rebuild --milvus-uri …`.")
        out, p, q = [], 0, 0
        for d in docs:
            k = 0
            while p + k < len(prows) and prows[p + k]["source"] == d.source:
                k += 1
            mine = prows[p:p + k]
            j = q
            while j < len(srows) and srows[j]["first"] < chunk_base + p + k:
                j += 1
            rows = srows[q:j]
            out.append(Segment(
                doc=d, sha=hashes[d.source],
                chunks=[Chunk(r["source"], r["title"], r["text"], int(r["start"]), int(r["end"])) for r in mine],
                terms=[r["words"].split() for r in mine],
                sentences=np.array([[r["start"], r["end"], r["first"] - chunk_base - p, r["last"] - chunk_base - p] for r in rows],
                                   dtype=np.int32).reshape(-1, 4),
                chunk_vectors=np.array([r["vector"] for r in mine], dtype=np.float32).reshape(-1, self._dim(prows)),
                sentence_vectors=np.array([r["vector"] for r in rows], dtype=np.float32).reshape(-1, self._dim(prows))))
            p, q = p + k, q + len(rows)
        return out

    @staticmethod
    def _dim(rows: list[dict]) -> int:
        return len(rows[0]["vector"]) if rows else 1

    def _scan(self, collection: str, fields: list[str], filter: str = "id >= 0") -> Iterator[dict]:
        it = self.client.query_iterator(collection, batch_size=1000, filter=filter, output_fields=fields)
        try:
            while True:
                page = it.next()
                if not page:
                    return
                yield from page
        finally:
            it.close()

    # ------------------------------------------------------------ blobs

    def _write_blob(self, name: str, text: str) -> None:
        self._create_blobs()
        pieces = [text[i:i + _PIECE] for i in range(0, len(text), _PIECE)] or [""]
        rows = [{"key": f"{name}#{n}", "name": name, "part": n, "data": p, "v": [0.0, 0.0]} for n, p in enumerate(pieces)]
        for i in range(0, len(rows), 200):
            self.client.upsert(self.blobs, rows[i:i + 200])
        self.client.delete(self.blobs, filter=f'name == "{name}" and part >= {len(pieces)}')  # a shorter rewrite
        self.client.flush(self.blobs)

    def _read_blob(self, name: str) -> str:
        if not self.client.has_collection(self.blobs):
            return ""
        rows = list(self._scan(self.blobs, ["part", "data"], f'name == "{name}"'))
        return "".join(r["data"] for r in sorted(rows, key=lambda r: r["part"]))

    def _delete_blob(self, name: str) -> None:
        self.client.delete(self.blobs, filter=f'name == "{name}"')
        self.client.flush(self.blobs)

    def _progress(self) -> dict:
        raw = self._read_blob("progress")
        return json.loads(raw) if raw else {}


class RemoteVectors:
    """Rows of a Milvus collection's vectors, read like a NumPy array by id (``v[ids]``), fetched on
    first use and kept in a bounded cache."""

    def __init__(self, client, collection: str, rows: int, dim: int, cache: int = 200_000) -> None:
        self.client, self.collection, self.shape = client, collection, (rows, dim)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._limit = cache
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    def __getitem__(self, ids) -> np.ndarray:
        single = np.isscalar(ids)
        wanted = [int(i) for i in np.atleast_1d(np.asarray(ids))]
        with self._lock:  # threads answering at once share the cache
            got = {i: self._cache[i] for i in wanted if i in self._cache}
            for i in got:
                self._cache.move_to_end(i)
        missing = sorted(set(wanted) - got.keys())
        for i in range(0, len(missing), 1000):
            for r in self.client.get(self.collection, ids=missing[i:i + 1000], output_fields=["vector"]):
                got[int(r["id"])] = np.asarray(r["vector"], dtype=np.float32)
        if missing:
            with self._lock:
                for i in missing:
                    self._cache[i] = got[i]
                while len(self._cache) > self._limit:
                    self._cache.popitem(last=False)
        if len(got) < len(set(wanted)):
            raise BadIndexError(f"The Milvus collection {self.collection} lost rows the index refers to: "
                                "run `qa index --rebuild --milvus-uri …`.")
        out = np.stack([got[i] for i in wanted]) if wanted else np.zeros((0, self.shape[1]), np.float32)
        return out[0] if single else out


class MilvusRetriever(Retriever):
    """``Retriever`` whose three candidate lists come from Milvus: vector search over passages and
    over sentences, and Milvus's BM25 full-text search. Candidates are then scored as the FAISS store
    scores them, so answers and citations match it."""

    def __init__(self, index: Index, store: MilvusStore, fusion: FusionSettings | None = None) -> None:
        self.index, self.store, self.fusion = index, store, fusion or FusionSettings()
        self._list_sentences()
        self._terms: dict[int, list[str]] = {}  # each chunk's tokens, for BM25 of the candidates

    def _chunk_terms(self, ci: int) -> list[str]:
        """Tokenized on first use: the Milvus index keeps no token lists in memory."""
        terms = self._terms.get(ci)
        if terms is None:
            if len(self._terms) > 100_000:
                self._terms = {}  # bounded; a new dict, so a thread reading the old one is not disturbed
            c = self.index.chunks[ci]
            terms = self._terms[ci] = tokenize(lexical_text(c, self.index.settings.title_in_embedding))
        return terms

    def _candidates(self, qv: np.ndarray, query_tokens: list[str], depth: int) -> tuple[np.ndarray, np.ndarray, float, int]:
        ix, f, client = self.index, self.fusion, self.store.client
        dense = client.search(self.store.passages, data=[qv.tolist()], anns_field="vector", limit=depth, output_fields=["id"])
        sent = client.search(self.store.sentences, data=[qv.tolist()], anns_field="vector",
                             limit=min(f.depth * 2, len(ix.sentences)), output_fields=["first", "last"]) if len(ix.sentences) else [[]]
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
        bm25 = ix.lexical.bm25(query_tokens, [self._chunk_terms(int(c)) for c in cand])
        if not len(cand) or not bm25.any():
            return cand, bm25, 0.0, 0
        best = int(np.argmax(bm25))
        return cand, bm25, float(bm25[best]), int(cand[best])


def _vector_index(lite: bool) -> dict:
    """Milvus Lite: FLAT, exact as the FAISS store (its AUTOINDEX would be approximate); a server:
    AUTOINDEX, which Milvus makes HNSW, for collections past what exact search serves quickly."""
    return {"index_type": "FLAT" if lite else "AUTOINDEX", "metric_type": "IP"}


def _connect(settings: MilvusSettings):
    try:
        from pymilvus import MilvusClient
    except ImportError as err:
        raise BadIndexError('The Milvus store needs pymilvus: `pip install "qa[milvus]"`.') from err
    logging.getLogger("pymilvus").setLevel(logging.ERROR)  # its iterators warn about timestamps on every scan
    uri = settings.uri
    if uri.endswith(".db"):
        # Milvus Lite serves gRPC in this process, and logs a traceback for each call it does not implement
        # (pymilvus's iterators ask for a timestamp, then do without): noise, never news, for a user.
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
        folder = os.path.dirname(os.path.abspath(uri))
        if not os.path.isdir(folder):
            raise BadIndexError(f"Cannot create the Milvus Lite file {uri}: the folder {folder} does not exist.")
        uri = os.path.abspath(uri)
    try:
        with _quiet():  # Milvus Lite logs a traceback when it cannot start; what went wrong is said below
            return MilvusClient(uri=uri, token=settings.token) if settings.token else MilvusClient(uri=uri)
    except Exception as err:  # noqa: BLE001 - pymilvus raises many kinds for "cannot connect"
        if uri.endswith(".db") and _held_elsewhere(uri):
            raise BadIndexError(f"The Milvus Lite file {settings.uri} is in use by another process (a running app.py or qa "
                                "command): stop it and run again, or keep the index in a Milvus server, which many "
                                "processes can share.") from err
        first = _first_line(err)
        raise BadIndexError(f"Cannot reach Milvus at {settings.uri} ({first}). Check the URI (a path ending in .db for "
                            "Milvus Lite, http://host:19530 for a server) and the token (QA_MILVUS_TOKEN).") from err


# What Milvus Lite says of a data file a killed process left cut short (pyarrow reading Parquet):
# a file to build again, unlike other errors (out of memory, a format this version cannot read).
_DATA_FILE_DAMAGED = re.compile(r"parquet|magic bytes|not fully written|failed to read all data|arrowinvalid", re.I)


def _held_elsewhere(path: str) -> bool:
    """Whether another process holds Milvus Lite's lock on the file at ``path`` (an advisory ``flock`` on
    its ``LOCK``, held while it is open): pymilvus reports only "Open local milvus failed"."""
    try:
        import fcntl
    except ImportError:  # not on Windows
        return False
    try:
        with open(os.path.join(path, "LOCK"), "rb") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(f, fcntl.LOCK_UN)
    except OSError:
        pass
    return False


def _first_line(err: Exception, limit: int = 200) -> str:
    """pymilvus's message without its wrapping (``<MilvusException: (code=1, message=…)>``), one line."""
    text = str(getattr(err, "message", "") or err)
    line = text.splitlines()[0] if text else type(err).__name__
    return line if len(line) <= limit else line[:limit - 1].rstrip() + "…"


@contextmanager
def _quiet() -> Iterator[None]:
    """pymilvus and Milvus Lite log a traceback for every failed call, also for one the caller handles."""
    loggers = [logging.getLogger(name) for name in ("pymilvus", "milvus_lite")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


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
