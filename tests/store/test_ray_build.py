"""A build on a real Ray cluster (issue 27): a head node and a worker node, each a separate process on
127.0.0.1, started and stopped by the test. The index equals a local build's (the same chunks, vectors with
cosine ≥ 0.999), a build killed midway resumes without embedding again what it had, and the failure
paths give one line."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from qa import store
from qa.store.ray_build import build_on_ray, local_cluster

from ..conftest import ROOT, write_corpus

pytest.importorskip("ray.data")

NOTES = {f"notes/note-{n:02d}.md": f"# Note {n}\n\nThe depot on route {n} opens at {6 + n % 4} am on weekdays. "
                                   f"Its manager, Alex Morgan {n}, answers questions about lost property. "
                                   f"Tickets bought there cost {n + 2} dollars and cannot be refunded once used.\n"
         for n in range(48)}  # a dozen batches: the build is stopped after the first, long before the last


@pytest.fixture(scope="module")
def cluster():
    with local_cluster(workers=1, cpus=1) as address:
        yield address


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = write_corpus(tmp_path_factory.mktemp("ray") / "docs", NOTES)
    for f in sorted((ROOT / "corpus").glob("*.txt"))[:2]:
        shutil.copy2(f, folder / f.name)
    (folder / "empty.txt").write_bytes(b"")  # skipped with its one line, on Ray as locally
    return folder


def _same(local: store.Index, remote: store.Index) -> None:
    assert [(c.source, c.start, c.end, c.text) for c in local.chunks] == [(c.source, c.start, c.end, c.text) for c in remote.chunks]
    assert np.array_equal(local.sentences, remote.sentences)
    for a, b in ((local.chunk_vectors, remote.chunk_vectors), (local.sentence_vectors, remote.sentence_vectors)):
        a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
        cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
        assert cos.min() >= 0.999, cos.min()
    assert local.manifest["corpus_files"] == remote.manifest["corpus_files"]
    assert local.manifest["skipped"] == remote.manifest["skipped"] and any("empty.txt" in s for s in remote.manifest["skipped"])


def test_a_build_on_a_ray_cluster_equals_a_local_build(cluster, corpus, tmp_path, embedder):
    local = store.build_from_folder(corpus, store.IndexSettings(model=embedder.name), embedder.encode)
    remote = build_on_ray(corpus, store.IndexSettings(model=embedder.name), cluster, tmp_path / "cache", progress=False)
    _same(local, remote)
    assert remote.manifest["embedded_documents"] == len(NOTES) + 3 - 1 and remote.manifest["built_on"] == f"ray {cluster}"


def test_qa_index_on_ray_stopped_midway_resumes_without_embedding_again(cluster, corpus, tmp_path, embedder):
    """`qa index --ray` killed (SIGKILL) once the first documents are done; the next run embeds only the rest,
    and the index it saves answers as a local build's does."""
    index = tmp_path / "index"
    cache = tmp_path / ".index.ray-segments"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "qa", "index", str(corpus), "--index", str(index), "--ray", cluster]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + 240
    while not (cache.is_dir() and any(cache.glob("*.pkl"))):
        assert first.poll() is None, first.stdout.read().decode()[-2000:]
        assert time.monotonic() < deadline, "no segment reached the cache in 240 s"
        time.sleep(0.05)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=30)
    done = len(list(cache.glob("*.pkl")))
    assert not index.exists() and done < len(NOTES) + 3  # stopped midway: nothing saved yet
    second = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"Resuming: {done} of {len(NOTES) + 3} documents" in second.stderr
    built = store.load(index)
    assert built.manifest["embedded_documents"] == len(NOTES) + 3 - done  # the rest only
    assert not cache.exists()  # the segments are the index's now
    _same(store.build_from_folder(corpus, store.IndexSettings(model=embedder.name), embedder.encode), built)
    # Up to date: the cluster is not even asked (here one that is not there).
    from qa.store.ray_build import _free_port

    again = subprocess.run(cmd[:-1] + [f"127.0.0.1:{_free_port()}"], capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0 and "Cannot reach" not in again.stderr and "Resuming" not in again.stderr
    assert store.load(index).manifest["built_at"] == built.manifest["built_at"]


def test_a_build_on_ray_goes_straight_into_milvus(cluster, corpus, tmp_path, embedder):
    """``qa index --ray … --milvus-uri …``: embedded on the cluster, written into Milvus Lite, opened from it
    by the next ``Bot.load`` without building or embedding anything here; a second run asks no cluster."""
    pytest.importorskip("pymilvus")
    from qa.bot import Bot

    db = tmp_path / "ray.db"
    cmd = [sys.executable, "-m", "qa", "index", str(corpus), "--index", str(tmp_path / "ix"), "--ray", cluster,
           "--milvus-uri", str(db)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "writing the index into Milvus" in out.stderr and "Building the index" not in out.stderr
    assert not (tmp_path / "ix").exists() and not (tmp_path / ".ix.ray-segments").exists()
    again = subprocess.run([*cmd[:-4], "--ray", "127.0.0.1:9", "--milvus-uri", str(db)], capture_output=True, text=True,
                           timeout=600, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert again.returncode == 0 and "Cannot reach" not in again.stderr, again.stderr[-2000:]  # up to date: no cluster asked
    said: list[str] = []
    bot = Bot.load(corpus=corpus, milvus_uri=str(db), on_status=said.append)
    assert any("Opening the index in Milvus" in s for s in said) and not any("Building" in s for s in said)
    local = store.build_from_folder(corpus, store.IndexSettings(model=embedder.name), embedder.encode)
    assert [(c.source, c.start, c.end) for c in bot.index.chunks] == [(c.source, c.start, c.end) for c in local.chunks]
    assert np.array_equal(bot.index.sentences, local.sentences) and "calibration" in bot.index.manifest
    assert bot.ask("Who manages the depot on route 7?").citations[0].source == "notes/note-07.md"


def test_a_worker_that_cannot_load_the_model_is_one_line(cluster, corpus, tmp_path):
    """The model is loaded on the nodes only: a path no node has fails there, and the user gets one line."""
    out = subprocess.run([sys.executable, "-m", "qa", "index", str(corpus), "--index", str(tmp_path / "ix"), "--ray", cluster,
                          "--model", str(tmp_path / "no-such-model")], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert "A Ray worker failed (" in out.stderr and "no-such-model" in out.stderr, out.stderr[-2000:]
    assert not (tmp_path / "ix").exists()


def test_a_cluster_that_is_not_there_is_one_line(corpus, tmp_path, capsys):
    from qa.store.ray_build import _free_port

    out = subprocess.run([sys.executable, "-m", "qa", "index", str(corpus), "--index", str(tmp_path / "ix"),
                          "--ray", f"127.0.0.1:{_free_port()}"], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "Cannot reach the Ray cluster at 127.0.0.1:" in out.stderr and "ray start --head" in out.stderr
    assert not (tmp_path / "ix").exists()
