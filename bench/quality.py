"""Retrieval quality on public benchmarks: the bot beside BM25 alone, dense alone and the plain recipe.

    python bench/quality.py ../shared/benchmarks [--limit N]

Every system sees the same documents and questions, on the same machine, in one run. The bot
indexes each benchmark through its own pipeline (cached under the temp folder after the first run).
"""
from __future__ import annotations

import argparse
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
from qa import store as index_io  # noqa: E402
from qa.evaluate.baselines import BM25Only, DenseOnly, PlainRecipe  # noqa: E402
from qa.bot import Bot  # noqa: E402
from qa.embed.embedder import Embedder  # noqa: E402
from qa.evaluate.labeled import DEFAULT_QUESTIONS, evaluate_labeled, load_questions  # noqa: E402
from qa.store import IndexSettings  # noqa: E402


def systems(docs, embedder, name):
    quiet = lambda texts, **kw: embedder.encode(texts)  # noqa: E731 - baselines build without bars
    bot = Bot(b.open_or_build(docs, IndexSettings(model=embedder.name), embedder.encode, name), embedder)
    return {
        "qa (this bot)": b.BotRanker(bot),
        "BM25 alone (bm25s)": BM25Only(docs),
        "dense alone (MiniLM, flat FAISS)": DenseOnly(docs, quiet),
        "plain recipe (1000/200 + MiniLM + FAISS)": PlainRecipe.build(docs, quiet),
    }


def timed(fn):
    t = time.perf_counter()
    out = fn()
    out["seconds"] = f"{time.perf_counter() - t:.0f}"
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("benchmarks", help="folder holding squad-v2-dev/ and msmarco-5k/")
    ap.add_argument("--limit", type=int, help="only the first N SQuAD questions of each kind (quick look)")
    args = ap.parse_args()
    root = Path(args.benchmarks)
    embedder = Embedder()

    squad = b.load_squad(root / "squad-v2-dev" / "dev-v2.0.json")
    rows = {n: timed(lambda r=r: b.squad_scores(r, squad, args.limit)) for n, r in systems(squad.documents, embedder, "squad").items()}
    print(f"### SQuAD 2.0 dev (CS224n half): {len(squad.documents)} paragraphs, "
          f"{len(squad.answerable[:args.limit] if args.limit else squad.answerable)} answerable questions\n")
    print(b.table(rows, ["recall@1", "recall@5", "MRR@10", "abstention (unanswerable)", "false abstention (answerable)", "seconds"]))

    marco = b.load_beir(root / "msmarco-5k")
    rows = {n: timed(lambda r=r: b.beir_scores(r, marco)) for n, r in systems(marco.documents, embedder, "msmarco").items()}
    print(f"\n### MS MARCO 5k (BEIR format): {len(marco.documents)} passages, {rows['qa (this bot)']['queries']} judged queries\n")
    print(b.table(rows, ["nDCG@10", "nDCG@10 (leaderboard)", "recall@10", "MRR@10", "seconds"]))

    bot = Bot(index_io.load(ROOT / "index"), embedder)
    print("\n### Shipped corpus, labeled sets\n")
    print("| set | hit@1 | hit@5 | MRR | highlight | abstention | false abstention | follow-ups |")
    print("|---|---|---|---|---|---|---|---|")
    for path in (DEFAULT_QUESTIONS, ROOT / "tests" / "data" / "heldout.jsonl", ROOT / "tests" / "data" / "heldout2.jsonl"):
        m = evaluate_labeled(bot, load_questions(path)).metrics()
        print(f"| {path.name} | {m['hit@1']:.3f} | {m['hit@5']:.3f} | {m['MRR']:.3f} | {m['highlight accuracy']:.3f} | "
              f"{m['abstention rate (unanswerable)']:.3f} | {m['false abstention rate (answerable)']:.3f} | {m['follow-ups right']:.3f} |")


if __name__ == "__main__":
    main()
