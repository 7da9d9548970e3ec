"""The bot end to end at 10k, 100k and 1M passages: build, load, memory, `bot.ask` latency, recall.

    sh bench/make_docs_corpus.sh /tmp/docs-corpus          # real text: Linux, Python, Perl, Debian manuals
    HF_HUB_OFFLINE=1 .venv/bin/python bench/scale_bot.py /tmp/docs-corpus --work /tmp/scale

Rows:
- **100k**: the real collection (102,511 passages), indexed by the bot (``Bot.load``) as a user would.
  It is past ``QA_ANN_FROM`` (50,000), so it is stored in the large layout.
- **10k**: whole documents of the same collection drawn at random up to 10,000 passages, indexed from
  the 100k index's own vectors of them (the flat layout: exact search). Its build time is that
  assembly, not embedding: embedding is linear in the text (the 100k row's time ÷ 10).
- **1M**: the 100k index grown tenfold for the search, memory and latency figures. Each extra copy of
  a document has every word replaced by another word of the same length and a similar frequency
  (a different substitution per copy), so offsets, sentences and BM25's posting lengths stay
  realistic while no passage repeats another; its vectors are the originals with small noise
  (sigma 0.02 per dimension, then normalised). It is written in the large layout by this script,
  streaming (the bot's own build would need the million passages embedded: about 6 hours here).
  Its build time is that of this writer, not of embedding.

Per row, in a fresh process: index load seconds (files to a ready ``Bot``, model excluded, its own
column, which includes reading or making the ONNX question encoder), resident memory after load and after the questions, ``bot.ask`` p50 / p95 over the
questions (query encoding included, after a warm-up), and the passage search's recall@10 against
exact search over the same vectors. The questions are sentences of the real collection (8–30 words)
drawn at random, the same for every row.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa import store as index_io  # noqa: E402
from qa.store import MANIFEST, document_record, file_digest, lexical_text  # noqa: E402
from qa.store.lexical import Lexical, tokenize  # noqa: E402
from qa.types import Chunk, Document, Heading  # noqa: E402
from qa.store.vectors import train_ivf  # noqa: E402

WORD = re.compile(r"[A-Za-z]+")


def rss_mb(kind: str = "VmRSS") -> float:
    """Resident memory: all of it (VmRSS), the process's own (RssAnon), or pages of memory-mapped
    files (RssFile: page cache the kernel takes back under pressure)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(kind + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def built(corpus: Path, index: Path, passage_vectors: str) -> dict:
    """Build with the bot if needed (``qa index``), in its own process; returns the manifest."""
    if not (index / MANIFEST).exists():
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "qa", "index", str(corpus), "--index", str(index),
                        "--passage-vectors", passage_vectors], check=True)
        print(f"built {index} in {time.perf_counter() - t:.0f} s", flush=True)
    loaded = index_io.load(index, verify=False)
    if index_io.layout_outdated(loaded):  # built by a version before the large layout: converted, as Bot.load does
        index_io.save(loaded, index)
    return json.loads((index / MANIFEST).read_text())


def subset(full: Path, passages: int, out: Path) -> float:
    """The index of whole documents of ``full`` drawn at random up to ``passages`` passages, made from
    its segments (the bot's own vectors of them, not embedded again) and saved at ``out``; returns seconds."""
    if (out / MANIFEST).exists():
        return json.loads((out / MANIFEST).read_text())["build_seconds"]
    t = time.perf_counter()
    small = index_io.sample(index_io.load(full, verify=False), passages)
    small.manifest["build_seconds"] = round(time.perf_counter() - t, 1)
    index_io.save(small, out)
    return small.manifest["build_seconds"]


def questions(index: Path, n: int) -> list[str]:
    ix = index_io.load(index, verify=False)
    rng = random.Random(1)
    out: list[str] = []
    while len(out) < n:
        d, a, b, _, _ = ix.sentences[rng.randrange(len(ix.sentences))]
        s = " ".join(ix.docs[int(d)].text[int(a):int(b)].split())
        if 8 <= len(s.split()) <= 30:
            out.append(s)
    return out


# ---------------------------------------------------------------- the synthetic million

def substitutions(texts: list[str], copies: int) -> list[dict[str, str]]:
    """Per copy, a map from each lower-case word to another of the same length and a similar frequency."""
    counts: dict[str, int] = {}
    for t in texts:
        for w in WORD.findall(t):
            w = w.lower()
            counts[w] = counts.get(w, 0) + 1
    by_length: dict[int, list[str]] = {}
    for w in sorted(counts, key=lambda w: -counts[w]):
        by_length.setdefault(len(w), []).append(w)
    maps = []
    for k in range(copies):
        rng, m = random.Random(100 + k), {}
        for words in by_length.values():
            for a in range(0, len(words), 20):  # a band of 20 words of similar frequency
                band = words[a:a + 20]
                shuffled = band[:]
                rng.shuffle(shuffled)
                m.update(zip(band, shuffled))
        maps.append(m)
    return maps


def cipher(text: str, m: dict[str, str]) -> str:
    def one(match: re.Match) -> str:
        w = match.group(0)
        new = m.get(w.lower(), w)
        return "".join(c.upper() if o.isupper() else c for c, o in zip(new, w))
    return WORD.sub(one, text)


def grow(full: Path, out: Path, factor: int, sigma: float = 0.02) -> float:
    """Write the ``factor``-times index at ``out`` in the large layout (streaming); returns seconds."""
    if (out / MANIFEST).exists():
        return json.loads((out / MANIFEST).read_text()).get("build_seconds", 0.0)
    t0 = time.perf_counter()
    base = index_io.load(full, verify=False)
    n_docs, n_chunks, n_sent = len(base.docs), len(base.chunks), len(base.sentences)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    maps = substitutions([d.text for d in base.docs], factor - 1)
    rng = np.random.default_rng(0)
    chunk_out = np.lib.format.open_memmap(tmp / "chunks.f16.npy", mode="w+", dtype=np.float16, shape=(n_chunks * factor, base.chunk_vectors.shape[1]))
    sent_out = np.lib.format.open_memmap(tmp / "sentences.f16.npy", mode="w+", dtype=np.float16, shape=(n_sent * factor, base.sentence_vectors.shape[1]))
    with_title = base.settings.title_in_embedding
    # BM25 input as ids into one vocabulary (each id one shared int object): a tenth of the memory of
    # a million lists of token strings; the terms themselves go straight to terms.txt.
    vocab: dict[str, int] = {"": 0}
    ids: list[list[int]] = []
    offsets = [0]
    rows, sentences, corpus_files = [], [], {}
    with open(tmp / "documents.jsonl", "w", encoding="utf-8") as docs_f, open(tmp / "terms.txt", "wb") as terms_f:
        for k in range(factor):
            for d in base.docs:
                if k:
                    m = maps[k - 1]
                    d = Document(source=f"copy{k}/{d.source}", title=cipher(d.title, m), text=cipher(d.text, m), kind=d.kind,
                                 pages=d.pages, headings=tuple(Heading(h.start, h.level, cipher(h.text, m)) for h in d.headings))
                docs_f.write(json.dumps(document_record(d), ensure_ascii=False) + "\n")
                corpus_files[d.source] = "synthetic"
                doc_no = len(corpus_files) - 1
                own = base.chunks.of_document(doc_no % n_docs)
                for ci in own:
                    a, b = int(base.chunks.start[ci]), int(base.chunks.end[ci])
                    terms = tokenize(lexical_text(Chunk(d.source, d.title, d.text[a:b], a, b), with_title))
                    line = " ".join(terms).encode("utf-8") + b"\n"
                    terms_f.write(line)
                    offsets.append(offsets[-1] + len(line))
                    ids.append([vocab.setdefault(t, len(vocab)) for t in terms] or [0])
            shift = np.array([k * n_docs, 0, 0, k * n_chunks], dtype=np.int64)
            rows.append(np.column_stack([base.chunks.doc, base.chunks.start, base.chunks.end, base.groups]).astype(np.int64) + shift)
            sentences.append(base.sentences + np.array([k * n_docs, 0, 0, k * n_chunks, k * n_chunks], dtype=np.int32))
            for name, src, dst, n in (("chunks", base.chunk_vectors, chunk_out, n_chunks), ("sentences", base.sentence_vectors, sent_out, n_sent)):
                for a in range(0, n, 200_000):
                    block = np.asarray(src[a:a + 200_000], dtype=np.float32)
                    if k:
                        block = block + rng.standard_normal(block.shape, dtype=np.float32) * sigma
                        block /= np.linalg.norm(block, axis=1, keepdims=True)
                    dst[k * n + a:k * n + a + len(block)] = block
            print(f"  copy {k + 1} of {factor} written ({time.perf_counter() - t0:.0f} s)", flush=True)
    chunk_out.flush()
    sent_out.flush()
    np.save(tmp / "chunks.npy", np.concatenate(rows))
    np.save(tmp / "sentences.npy", np.concatenate(sentences))
    del sentences
    np.save(tmp / "terms.npy", np.asarray(offsets, dtype=np.int64))
    print(f"  BM25 over {len(ids):,} passages …", flush=True)
    import bm25s
    from bm25s.tokenization import Tokenized

    bm25 = bm25s.BM25()
    bm25.index(Tokenized(ids=ids, vocab=vocab), show_progress=False)
    del ids
    Lexical(bm25).save(tmp / "bm25")
    print(f"  IVF over {len(chunk_out):,} passages … ({time.perf_counter() - t0:.0f} s)", flush=True)
    import faiss

    faiss.write_index(train_ivf(chunk_out), str(tmp / "chunks.ivf"))
    manifest = dict(base.manifest)
    manifest.update(corpus_files=corpus_files, layout="large", build_seconds=round(time.perf_counter() - t0, 1),
                    counts={"documents": len(corpus_files), "chunks": n_chunks * factor, "sentences": n_sent * factor})
    manifest["checksums"] = {p.relative_to(tmp).as_posix(): file_digest(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
    tmp.rename(out)
    return manifest["build_seconds"]


# ---------------------------------------------------------------- one row, in its own process

def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    best_s = np.full((len(queries), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), k), dtype=np.int64)
    for a in range(0, len(vectors), 65_536):
        s = queries @ np.asarray(vectors[a:a + 65_536], dtype=np.float32).T
        s_all = np.concatenate([best_s, s], axis=1)
        i_all = np.concatenate([best_i, np.arange(a, a + s.shape[1])[None, :].repeat(len(queries), 0)], axis=1)
        top = np.argpartition(-s_all, k - 1, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(s_all, top, 1), np.take_along_axis(i_all, top, 1)
    return best_i


def measure(index: Path, questions_file: Path) -> dict:
    from qa.bot import Bot
    from qa.embed.embedder import Embedder

    qs = json.loads(questions_file.read_text())
    start_rss = rss_mb()
    t = time.perf_counter()
    embedder = Embedder()
    embedder.wait_for_export()  # questions through ONNX Runtime, as a served bot has them a few seconds after start
    model_s = time.perf_counter() - t
    t = time.perf_counter()
    bot = Bot(index_io.load(index), embedder, None, index)
    load_s = time.perf_counter() - t
    after_load = rss_mb()
    for q in qs[:10]:
        bot.ask(q)
    times = []
    for q in qs:
        t = time.perf_counter()
        bot.ask(q)
        times.append((time.perf_counter() - t) * 1000)
    anon, mapped = rss_mb("RssAnon"), rss_mb("RssFile")
    qv = embedder.encode(qs)
    depth = bot.retriever.fusion.depth  # the search as the bot makes it (top 50), its first ten compared
    found = [bot.retriever.store_search._chunks.search(v, depth)[:10] for v in qv]
    exact = exact_top(bot.index.chunk_vectors, qv)
    recall = float(np.mean([len(set(f.tolist()) & set(e.tolist())) / 10 for f, e in zip(found, exact)]))
    return {"passages": len(bot.index.chunks), "sentences": len(bot.index.sentences), "documents": len(bot.index.docs),
            "layout": bot.index.manifest.get("layout", "flat"), "load_s": round(load_s, 1), "model_s": round(model_s, 1),
            "rss_start": round(start_rss), "rss_load": round(after_load), "rss_end": round(anon + mapped),
            "rss_end_anon": round(anon), "rss_end_file": round(mapped),
            "p50": round(float(np.percentile(times, 50)), 1), "p95": round(float(np.percentile(times, 95)), 1),
            "recall": round(recall, 3), "queries": len(qs)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus", type=Path, nargs="?", help="the real-text folder (bench/make_docs_corpus.sh)")
    p.add_argument("--work", type=Path, default=Path("/tmp/qa-scale"), help="where the indexes go (GBs at 1M)")
    p.add_argument("--rows", default="10k,100k,1M")
    p.add_argument("--questions", type=int, default=200)
    p.add_argument("--cold", action="store_true", help="drop the page cache before each row (needs root): the worst case")
    p.add_argument("--passage-vectors", default="summed", help="how the bot embeds the real text (summed: half the time)")
    p.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--questions-file", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.measure:
        print(json.dumps(measure(a.measure, a.questions_file)))
        return 0
    a.work.mkdir(parents=True, exist_ok=True)
    full_ix = a.work / "index-100k"
    full = built(a.corpus, full_ix, a.passage_vectors)
    full["_folder"] = full_ix
    qfile = a.work / "questions.json"
    if not qfile.exists():
        qfile.write_text(json.dumps(questions(full_ix, a.questions)))
    rows = []
    for row in a.rows.split(","):
        if row == "100k":
            ix, build = full_ix, f"{full['build_seconds']:.0f} (embedding)"
        elif row == "10k":
            ix = a.work / "index-10k"
            build = f"{subset(full_ix, 10_000, ix):.0f} (from the 100k's vectors)"
        elif row == "1M":
            ix = a.work / "index-1m"
            build = f"{grow(full_ix, ix, 10):.0f} (synthetic writer)"
        else:
            raise SystemExit(f"unknown row {row}: use 10k, 100k, 1M")
        if a.cold:
            subprocess.run(["sync"], check=True)
            Path("/proc/sys/vm/drop_caches").write_text("3\n")
        out = subprocess.run([sys.executable, __file__, "--measure", str(ix), "--questions-file", str(qfile)],
                             check=True, capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        r["build"] = build
        rows.append(r)
        print(json.dumps(r), flush=True)
    print("\n| passages (+ sentences) | layout | build s | index load s (+ model) | memory after load → after questions MB "
          "(process + mapped files) | `bot.ask` p50 / p95 ms | recall@10 of the passage search vs exact |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['passages']:,} (+{r['sentences']:,}) | {r['layout']} | {r['build']} | {r['load_s']} (+{r['model_s']}) | "
              f"{r['rss_load']:,} → {r['rss_end_anon']:,} + {r['rss_end_file']:,} | {r['p50']} / {r['p95']} | {r['recall']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
