"""Questions through ONNX Runtime: the real bundled model exported, the same vectors as torch."""
from __future__ import annotations

import numpy as np

from qa.embed.embedder import model_location
from qa.embed.onnx_queries import OnnxQueries, _like_lengths, cache_dir

QUESTIONS = ["Which country installed the most industrial robots?", "What did Barclays report?",
             "How much electricity will data centres in the United States use by 2030, and who says so?", "AI"]


def test_the_shared_embedder_answers_questions_through_onnx_with_torchs_vectors(embedder, monkeypatch):
    assert embedder.wait_for_export()
    onnx = embedder._onnx
    assert onnx is not None
    calls = []
    real = onnx.encode
    monkeypatch.setattr(onnx, "encode", lambda texts: calls.append(len(texts)) or real(texts))  # counted, still real
    fast = embedder.encode_queries(QUESTIONS)
    assert calls == [len(QUESTIONS)]  # ONNX Runtime answered, not torch
    torch_vectors = embedder.encode(QUESTIONS, bf16=False)
    assert fast.shape == torch_vectors.shape == (len(QUESTIONS), embedder.dimension)
    assert float(np.abs(fast - torch_vectors).max()) < 1e-4
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)


def test_questions_of_unlike_lengths_run_apart_with_the_same_vectors(embedder):
    # A follow-up folds in the earlier answer (~120 tokens): padded together, every short question in
    # its batch would cost as much. Grouped by length, each group pads at most a quarter more.
    assert _like_lengths([10, 12, 120, 11, 9, 130]) == [[4, 0, 3, 1], [2, 5]]
    assert _like_lengths([]) == [] and _like_lengths([7]) == [[0]]
    assert embedder.wait_for_export()
    texts = ["And China's?", " ".join(QUESTIONS) * 3, QUESTIONS[0], "x " * 600]  # the last is truncated
    with embedder._lock:
        fast = embedder._onnx.encode(texts)
    assert float(np.abs(fast - embedder.encode(texts, bf16=False)).max()) < 1e-4


def test_the_export_is_cached_and_a_damaged_copy_is_made_again(embedder, tmp_path, monkeypatch):
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache"
    location = model_location(embedder.name)
    first = OnnxQueries.of(embedder._model, location, embedder._lock)
    files = list((tmp_path / "cache").glob("queries-*.onnx"))
    assert first is not None and len(files) == 1
    inode = files[0].stat().st_ino
    again = OnnxQueries.of(embedder._model, location, embedder._lock)
    assert again is not None and files[0].stat().st_ino == inode  # read from the cache, not exported again
    files[0].write_bytes(b"not an ONNX model")
    repaired = OnnxQueries.of(embedder._model, location, embedder._lock)
    assert repaired is not None
    assert float(np.abs(repaired.encode(QUESTIONS) - embedder.encode(QUESTIONS, bf16=False)).max()) < 1e-4
    assert not list((tmp_path / "cache").glob(".export-*"))  # no temporary file left behind


def test_qa_onnx_0_keeps_questions_on_torch(embedder, monkeypatch):
    monkeypatch.setenv("QA_ONNX", "0")
    assert OnnxQueries.of(embedder._model, model_location(embedder.name), embedder._lock) is None


def test_an_onnx_failure_falls_back_to_torch_for_good(embedder, monkeypatch):
    assert embedder.wait_for_export()
    onnx = embedder._onnx

    def broken(texts):
        raise RuntimeError("ONNX Runtime crashed")

    monkeypatch.setattr(onnx, "encode", broken)
    try:
        vectors = embedder.encode_queries(QUESTIONS[:2])  # answered by torch, no error reaches the caller
        assert float(np.abs(vectors - embedder.encode(QUESTIONS[:2], bf16=False)).max()) < 1e-6
        assert embedder._onnx is None
    finally:
        monkeypatch.undo()
        embedder._onnx = onnx  # the shared embedder, as the other tests expect it


def test_a_model_whose_export_differs_is_marked_and_not_tried_again(embedder, tmp_path, monkeypatch):
    import qa.embed.onnx_queries as oq

    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(oq, "_TOLERANCE", -1.0)  # no export can match: as a model whose graph ONNX gets wrong
    location = model_location(embedder.name)
    assert OnnxQueries.of(embedder._model, location, embedder._lock) is None
    assert [p.suffix for p in (tmp_path / "cache").iterdir()] == [".unusable"]  # the 90 MB export is not kept
    monkeypatch.setattr(oq, "_export", lambda *a: (_ for _ in ()).throw(AssertionError("exported again")))
    assert OnnxQueries.of(embedder._model, location, embedder._lock) is None
