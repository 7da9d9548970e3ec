from __future__ import annotations

from pathlib import Path

import pytest

from qa.ingest.chunking import ChunkSettings, chunk_document, sentence_spans
from qa.ingest.documents import load_documents

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shipped_docs():
    return load_documents(ROOT / "corpus")[0]


@pytest.mark.parametrize("size,overlap", [(300, 60), (600, 150), (1000, 200)])
def test_chunk_offsets_point_into_source(shipped_docs, size, overlap):
    for doc in shipped_docs:
        chunks = chunk_document(doc, ChunkSettings(size, overlap))
        assert chunks
        for c in chunks:
            assert doc.text[c.start:c.end] == c.text
            assert len(c.text) <= size
            assert c.source == doc.source and c.title == doc.title


def test_chunks_cover_the_document_in_order_with_overlap(shipped_docs):
    doc = max(shipped_docs, key=lambda d: len(d.text))
    chunks = chunk_document(doc, ChunkSettings(600, 150))
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)
    overlaps = sum(1 for a, b in zip(chunks, chunks[1:]) if b.start < a.end)
    assert overlaps >= len(chunks) // 3  # neighbours share context
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    words = [i for i, ch in enumerate(doc.text) if not ch.isspace()]
    assert sum(i in covered for i in words) / len(words) > 0.99


def test_no_chunk_cuts_a_sentence_that_fits(shipped_docs):
    settings = ChunkSettings(600, 150)
    for doc in shipped_docs:
        spans = sentence_spans(doc.text)
        for c in chunk_document(doc, settings):
            for s, e in spans:
                if e - s <= settings.size and s < c.start < e:
                    pytest.fail(f"chunk starts inside a sentence: {doc.text[s:e]!r}")
                if e - s <= settings.size and s < c.end < e:
                    pytest.fail(f"chunk ends inside a sentence: {doc.text[s:e]!r}")


def test_sentence_spans_keep_initialisms_whole():
    text = "The U.S. lead is safe. China adds 429 GW a year! Why? Because of Dr. Li's plan.\nHeading line"
    got = [text[s:e] for s, e in sentence_spans(text)]
    assert got == ["The U.S. lead is safe.", "China adds 429 GW a year!", "Why?", "Because of Dr. Li's plan.", "Heading line"]
