"""How long the bot takes to index, beside plain sentence-transformers, and what its faster routes cost in quality.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/indexing.py ../shared/benchmarks            # speed and quality
    HF_HUB_OFFLINE=1 .venv/bin/python bench/indexing.py ../shared/benchmarks --speed    # speed only (~5 min)

Speed, in one run on MS MARCO-5k (5,000 passages): plain ``SentenceTransformer.encode`` (torch backend,
the same bundled model, batch 64) encoding each passage once, then the bot's whole index build from the
same documents (chunking, embedding, BM25, near-duplicates, FAISS, calibration), once per way of
making passage vectors: "encoded" (the default: passages and sentences each embedded) and "summed"
(sentences only; a passage's vector is the sum of its sentences' token vectors). The issue's target
is a ratio of at most 1.0.

Quality, the variants side by side: hit@1, highlight accuracy and abstention on the four labeled
sets, SQuAD v2 dev (recall@1, abstention) and MS MARCO-5k (nDCG@10) through the bot.

Encoders (``--encoders``): "fast" is what the bot does by default (OpenVINO when installed, bfloat16 where
the CPU has it natively); "torch" leaves OpenVINO out (``QA_OPENVINO=0``); "float32" is torch in float32
(``QA_OPENVINO=0 QA_BF16=0``), the vectors sentence-transformers gives. Speed times every encoder named;
quality compares them.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
logging.getLogger("bm25s").setLevel(logging.WARNING)

from qa.evaluate import benchmarks as b  # noqa: E402
from qa.answer import calibration  # noqa: E402
from qa import store as index_io  # noqa: E402
from qa.bot import Bot  # noqa: E402
from qa.embed.embedder import Embedder  # noqa: E402
from qa.evaluate.labeled import evaluate_labeled, load_questions  # noqa: E402
from qa.store import IndexSettings  # noqa: E402
from labeled import write_mixed  # noqa: E402

VARIANTS = ["summed", "encoded"]


def build(docs, embedder: Embedder, variant: str):
    t = time.perf_counter()
    ix = index_io.build(docs, IndexSettings(model=embedder.name, passage_vectors=variant), embedder.encode)
    calibration.keep_or_redo(ix, embedder.encode)  # as Bot.load does for a new collection
    return ix, time.perf_counter() - t


ENCODERS = {"fast": {}, "torch": {"QA_OPENVINO": "0"}, "float32": {"QA_OPENVINO": "0", "QA_BF16": "0"}}


def embedder_for(encoder: str) -> Embedder:
    """The bundled model as the bot loads it, with ``encoder``'s settings (``ENCODERS``)."""
    for name in ("QA_OPENVINO", "QA_BF16"):
        os.environ.pop(name, None)
    os.environ.update(ENCODERS[encoder])
    embedder = Embedder()
    print(f"encoder {encoder}: {embedder.batch_encoder()}", file=sys.stderr, flush=True)
    return embedder


def speed(marco: b.BeirSet, embedders: dict[str, Embedder]) -> None:
    texts = [f"{d.title}\n{d.text}" if d.title else d.text for d in marco.documents]
    model = next(iter(embedders.values()))._model
    model.encode(texts[:64], batch_size=64)  # warm-up
    t = time.perf_counter()
    model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    plain = time.perf_counter() - t
    print(f"\n### Build time, MS MARCO-5k ({len(texts):,} passages, {sum(map(len, texts)):,} characters)\n")
    print("| what | seconds | ÷ plain encode |\n|---|---|---|")
    print(f"| plain SentenceTransformer.encode, batch 64 (each passage once) | {plain:.1f} | 1.00 |", flush=True)
    for encoder, embedder in embedders.items():
        for variant in VARIANTS:
            ix, seconds = build(marco.documents, embedder, variant)
            counts = ix.manifest["counts"]
            print(f"| qa build, passage vectors {variant}, encoder {encoder} ({counts['chunks']:,} passages, "
                  f"{counts['sentences']:,} sentences) | {seconds:.1f} | {seconds / plain:.2f} |", flush=True)


def quality(root: Path, embedders: dict[str, Embedder], labeled_only: bool = False, public_only: bool = False) -> None:
    mixed_dir = write_mixed()
    squad = b.load_squad(root / "squad-v2-dev" / "dev-v2.0.json")
    marco = b.load_beir(root / "msmarco-5k")
    results: dict[str, dict[str, str]] = {}
    for variant, (encoder, embedder) in [(v, e) for e in embedders.items() for v in VARIANTS]:
        settings = IndexSettings(model=embedder.name, passage_vectors=variant)
        variant = f"{variant}, {encoder}"
        row = results.setdefault(variant, {})
        for label, folder, sets in [] if public_only else [("shipped", ROOT / "corpus", ("questions", "heldout", "heldout2")), ("mixed", mixed_dir, ("mixed",))]:
            ix = index_io.build_from_folder(folder, settings, embedder.encode)
            calibration.keep_or_redo(ix, embedder.encode)
            bot = Bot(ix, embedder)
            for name in sets:
                r = evaluate_labeled(bot, load_questions(ROOT / "tests" / "data" / f"{name}.jsonl"))
                m = r.metrics()
                row[name] = (f"{m['hit@1']:.3f} / {m['highlight accuracy']:.3f} / {r.false_abstentions}/{r.answerable} / "
                             f"{r.abstained}/{r.unanswerable}")
                print(variant, name, row[name], flush=True)
        for name, data, key in [] if labeled_only else [("SQuAD v2 dev", squad, "squad"), ("MS MARCO-5k", marco, "msmarco")]:
            ix = b.open_or_build(data.documents, settings, embedder.encode, key, cache=b.CACHE / f"encoder-{encoder}")
            calibration.keep_or_redo(ix, embedder.encode)
            ranker = b.BotRanker(Bot(ix, embedder))
            if key == "squad":
                s = b.squad_scores(ranker, data)
                row[name] = (f"{s['recall@1']:.3f} / {s['false abstention (answerable)']:.1%} / "
                             f"{s['abstention (unanswerable)']:.1%}")
            else:
                s = b.beir_scores(ranker, data)
                row[name] = f"{s['nDCG@10']:.3f} / {s['nDCG@10 (leaderboard)']:.3f}"
            print(variant, name, row[name], flush=True)
    print("\n### Quality: ways of making passage vectors, and encoders\n")
    print("labeled sets: hit@1 / highlight / false abstentions / true abstentions; SQuAD: recall@1 / false / true "
          "abstentions; MS MARCO: nDCG@10 / leaderboard\n")
    names = list(next(iter(results.values())))
    print("| passage vectors, encoder | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    for variant, row in results.items():
        print(f"| {variant} | " + " | ".join(row[n] for n in names) + " |")
    print("\n" + json.dumps(results))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("benchmarks", type=Path, help="folder holding msmarco-5k/ and squad-v2-dev/")
    p.add_argument("--speed", action="store_true", help="the build-time ratio only")
    p.add_argument("--quality", action="store_true", help="the quality comparison only")
    p.add_argument("--variants", default=",".join(VARIANTS), help="ways of making passage vectors to compare (encoded, summed)")
    p.add_argument("--encoders", default="fast", help="encoders to compare (fast, torch, float32)")
    p.add_argument("--labeled-only", action="store_true", help="quality on the four labeled sets only (a quick look)")
    p.add_argument("--public-only", action="store_true", help="quality on SQuAD and MS MARCO only")
    a = p.parse_args()
    VARIANTS[:] = a.variants.split(",")
    embedders = {name: embedder_for(name) for name in a.encoders.split(",")}
    if not a.quality:
        speed(b.load_beir(a.benchmarks / "msmarco-5k"), embedders)
    if not a.speed:
        quality(a.benchmarks, embedders, a.labeled_only, a.public_only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
