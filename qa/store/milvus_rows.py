"""The rows of a Milvus index: creating its three collections, writing and reading a batch's segments,
and the blobs (documents, groups, term statistics, manifest, build progress) kept as JSON in pieces."""
from __future__ import annotations

import json
from typing import Iterator

import numpy as np

from qa.errors import BadIndexError
from qa.store.milvus_client import (
    vector_index,
)
from qa.store.segments import (
    Segment,
)
from qa.types import Chunk, Document

_PIECE = 15_000  # characters per blob piece: under Milvus's 65,535-byte VARCHAR even in 4-byte UTF-8
_TEXT_MAX = 65_535


class MilvusCollections:
    """What ``MilvusStore`` writes and reads, row by row (it sets ``client``, ``settings``, ``lite`` and
    the three collection names)."""

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
            ip.add_index(field_name="vector", **vector_index(self.lite))
            ip.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={"bm25_k1": 1.5, "bm25_b": 0.75})
            c.create_collection(self.passages, schema=s, index_params=ip, consistency_level="Strong")
        if not c.has_collection(self.sentences):
            s = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
            s.add_field("id", DataType.INT64, is_primary=True)
            for f in ("doc", "start", "end", "first", "last"):
                s.add_field(f, DataType.INT64)
            s.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            ip = c.prepare_index_params()
            ip.add_index(field_name="vector", **vector_index(self.lite))
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


