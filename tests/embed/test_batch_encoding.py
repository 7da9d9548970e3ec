"""How an index build embeds (issue 12): each distinct text once, through OpenVINO when installed, in
bfloat16 where the CPU has it. The real bundled model, real OpenVINO; vectors checked against torch's float32."""
from __future__ import annotations

import numpy as np

from qa import store as index_io
from qa.ingest.chunking import sentence_spans
from qa.embed.embedder import Embedder, bf16_enabled, model_location
from qa.store import IndexSettings
from qa.embed.openvino_batches import OpenVinoBatches

from ..conftest import BF16_ATOL, FLOAT32_ATOL, ROOT, vector_atol, write_corpus


def _shipped_sentences() -> list[str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "corpus").glob("*.txt")))
    return [text[s:e] for s, e in sentence_spans(text)]


def _float32(embedder: Embedder, texts: list[str]) -> np.ndarray:
    return embedder._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)


def test_openvino_gives_torchs_vectors_on_real_sentences(embedder):
    texts = _shipped_sentences()[:200]
    batches = OpenVinoBatches.of(embedder._model, model_location(embedder.name), embedder._lock, bf16=embedder.bf16)
    assert batches is not None
    with embedder._lock:
        got = batches.mean_pooled(texts[:100])
        tokens, mask, special = batches.tokens(texts[100:])
    cos = (got * _float32(embedder, texts[:100])).sum(axis=1)
    assert cos.min() > 0.999, cos.min()
    assert tokens.shape[:2] == mask.shape == special.shape and tokens.dtype == np.float32
    assert ((special * mask).sum(axis=1) == 2).all()  # [CLS] and [SEP] are the tokenizer's own (padding is masked)


def test_a_large_call_sets_openvino_up_and_a_small_one_stays_on_torch(monkeypatch):
    """OpenVINO compiles in about a second: worth it for a build, not for the checker's ten sentences."""
    monkeypatch.delenv("QA_OPENVINO", raising=False)
    e = Embedder()  # its own: once set up, OpenVINO serves every later call of that embedder
    sentences = _shipped_sentences()
    texts = sentences + [f"{a} {b}" for a, b in zip(sentences, sentences[1:])]  # and pairs: a thousand texts
    assert len(texts) >= 1000
    small = e.encode(texts[:10])
    assert e._openvino is None
    large = e.encode(texts[:1000], progress=True)
    assert e._openvino is not None and e.batch_encoder().startswith("OpenVINO")
    reference = _float32(e, texts[:1000])
    assert (large * reference).sum(axis=1).min() > 0.999
    assert (small * reference[:10]).sum(axis=1).min() > 0.999
    vectors, sums = e.encode_sums(texts[:50])  # "summed" builds read token sums through OpenVINO too
    # Equal to the digit in float32; in bfloat16, 50 texts are padded in other batches than 1,000 were.
    np.testing.assert_allclose(vectors, large[:50], atol=vector_atol(e.bf16))
    assert np.isfinite(sums).all() and (np.linalg.norm(sums, axis=1) > 1).all()
    # Questions never go through it: the torch fallback for questions stays float32.
    np.testing.assert_allclose(e.encode(texts[:3], bf16=False), reference[:3], atol=FLOAT32_ATOL)


def test_qa_openvino_0_keeps_builds_on_torch(monkeypatch):
    monkeypatch.setenv("QA_OPENVINO", "0")
    e = Embedder()
    assert e.batch_encoder().startswith("torch") and e._openvino is None


def test_bfloat16_follows_the_cpu_unless_told(monkeypatch):
    monkeypatch.delenv("QA_BF16", raising=False)
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
        flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    assert bf16_enabled() == bool({"avx512_bf16", "amx_bf16"} & set(flags))
    monkeypatch.setenv("QA_BF16", "1")
    assert bf16_enabled()
    monkeypatch.setenv("QA_BF16", "off")
    assert not bf16_enabled()


def test_bfloat16_vectors_are_float32s_within_rounding(embedder):
    texts = _shipped_sentences()[:64]
    half, full = embedder.encode(texts, bf16=True), embedder.encode(texts, bf16=False)
    np.testing.assert_allclose(full, _float32(embedder, texts), atol=FLOAT32_ATOL)
    np.testing.assert_allclose(half, full, atol=BF16_ATOL)
    cos = (half * full).sum(axis=1)
    assert cos.min() > 0.999, cos.min()
    np.testing.assert_allclose(np.linalg.norm(half, axis=1), 1.0, atol=FLOAT32_ATOL)


DISCLAIMER = "This newsletter is not investment advice."


def test_a_build_embeds_each_distinct_text_once(tmp_path, embedder, monkeypatch):
    """A footer in every file and a one-sentence file: one encoder call, no text in it twice, and equal
    texts get equal vectors wherever they stand."""
    corpus = write_corpus(tmp_path / "docs", {
        "a.txt": f"Copper prices rose for a third week as mines in Chile cut output.\n\n{DISCLAIMER}",
        "b.txt": f"Wheat harvests in Kansas beat forecasts after a wet spring.\n\n{DISCLAIMER}",
        "c.txt": "Rice exports from Vietnam hit a record.",
    })
    calls: list[list[str]] = []
    real = embedder.encode
    monkeypatch.setattr(embedder, "encode", lambda texts, **kw: calls.append(list(texts)) or real(texts, **kw))  # counted, still real
    built = index_io.build_from_folder(corpus, IndexSettings(model=embedder.name, title_in_embedding=False), embedder.encode)
    assert len(calls) == 1 and len(calls[0]) == len(set(calls[0]))
    spans = [(built.docs[int(d)].text[s:e], i) for i, (d, s, e, *_rest) in enumerate(built.sentences.tolist())]
    footers = [i for text, i in spans if text == DISCLAIMER]
    assert len(footers) == 2 and calls[0].count(DISCLAIMER) == 1
    np.testing.assert_array_equal(built.sentence_vectors[footers[0]], built.sentence_vectors[footers[1]])
    rice = next(i for text, i in spans if text.startswith("Rice"))
    passage = next(k for k, c in enumerate(built.chunks) if c.text.startswith("Rice"))
    np.testing.assert_array_equal(built.sentence_vectors[rice], built.chunk_vectors[passage])
    alone = real(["Rice exports from Vietnam hit a record."])[0]  # in bfloat16, a batch's padding moves the last digits
    assert float(built.chunk_vectors[passage] @ alone) > 0.999


def test_an_openvino_failure_mid_build_goes_on_with_torch(monkeypatch):
    monkeypatch.delenv("QA_OPENVINO", raising=False)
    e = Embedder()
    texts = _shipped_sentences()[:40]
    assert e._openvino_for(10**6) is not None
    calls = []

    def broken(batch):
        calls.append(len(batch))
        raise RuntimeError("OpenVINO crashed")

    monkeypatch.setattr(e._openvino, "mean_pooled", broken)
    vectors = e.encode(texts, progress=True)  # no error reaches the build
    assert calls == [16] and e._openvino is None  # tried once, then torch for good
    assert (vectors * _float32(e, texts)).sum(axis=1).min() > 0.999
