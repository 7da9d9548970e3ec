"""Speed and quality of the bot beside the plain recipe, on the shipped corpus, in one run.

    python bench/speed.py [--rounds 5] [--corpus corpus]

Prints a Markdown table (medians over rounds; this machine is noisy). Compare only
figures from the same run.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from qa import store as index_io  # noqa: E402
from qa.answer.query import fold_history  # noqa: E402
from qa.evaluate.baselines import PlainRecipe  # noqa: E402
from qa.bot import Bot  # noqa: E402
from qa.ingest.documents import load_documents  # noqa: E402
from qa.embed.embedder import Embedder  # noqa: E402
from qa.evaluate.labeled import DEFAULT_QUESTIONS, contains, evaluate_labeled, load_questions  # noqa: E402
from qa.store import IndexSettings  # noqa: E402
from qa.answer.rerank import Reranker  # noqa: E402

COLD_BOT = """
import time, resource, sys
t = time.perf_counter()
from qa import Bot
bot = Bot.load(corpus=sys.argv[1], index=sys.argv[2], on_status=lambda m: None)
bot.ask("How many industrial robots did China install in 2023?")
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""
COLD_RECIPE = """
import time, resource, sys
from pathlib import Path
t = time.perf_counter()
from qa.embed.embedder import Embedder
from qa.evaluate.baselines import PlainRecipe
e = Embedder()
r = PlainRecipe.load(Path(sys.argv[1]), e.encode)
r.search("How many industrial robots did China install in 2023?")
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def pct(xs: list[float], p: float) -> float:
    return float(np.percentile(xs, p)) * 1000


def cold(code: str, *args: str) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, check=True)
    wall = time.perf_counter() - t0
    _, rss = out.stdout.split()
    return wall, float(rss)


def recipe_labeled(recipe: PlainRecipe, items: list[dict]) -> dict[str, float]:
    hit1 = hit5 = 0
    rr = []
    answerable = [i for i in items if "turns" not in i and i.get("answerable", True)]
    for item in answerable:
        ranked = recipe.search(item["question"])
        rank = next((n for n, r in enumerate(ranked, 1) if contains(r.chunk.text, item["answer"])), None)
        hit1 += rank == 1
        hit5 += rank is not None
        rr.append(1 / rank if rank else 0)
    n = len(answerable)
    return {"hit@1": hit1 / n, "hit@5": hit5 / n, "MRR": sum(rr) / n}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--corpus", default=str(ROOT / "corpus"))
    ap.add_argument("--reranker", help="also time bot.ask with this cross-encoder (name or path) re-ranking the top passages")
    args = ap.parse_args()
    corpus = Path(args.corpus)
    items = load_questions(DEFAULT_QUESTIONS)
    questions = [i["question"] for i in items if "question" in i]
    embedder = Embedder()
    docs, _ = load_documents(corpus)
    chars = sum(len(d.text) for d in docs)
    tmp = Path(tempfile.mkdtemp(prefix="qa-bench-"))

    build_bot, build_recipe = [], []
    for r in range(max(3, args.rounds // 2)):
        t = time.perf_counter()
        built = index_io.build_from_folder(corpus, IndexSettings(model=embedder.name), lambda x, **kw: embedder.encode(x))
        index_io.save(built, tmp / "ix")
        build_bot.append(time.perf_counter() - t)
        t = time.perf_counter()
        recipe = PlainRecipe.build(docs, embedder.encode)
        recipe.save(tmp / "recipe")
        build_recipe.append(time.perf_counter() - t)
    bot = Bot(index_io.load(tmp / "ix"), embedder, corpus, tmp / "ix")
    reranked = Bot(bot.index, embedder, reranker=Reranker(args.reranker)) if args.reranker else None

    lat: dict[str, list[float]] = {k: [] for k in ("embed", "search", "answer", "ask", "baseline", "recipe", "reranked")}
    for _ in range(args.rounds):
        for q in questions:
            t0 = time.perf_counter()
            query = fold_history(q, None)
            v = embedder.encode([query.text])[0]
            t1 = time.perf_counter()
            hits = bot.retriever.search(v, query.tokens, max(5, bot.composer.settings.rerank_depth))
            t2 = time.perf_counter()
            bot.composer.compose(query, v, hits, 5)
            t3 = time.perf_counter()
            lat["embed"].append(t1 - t0)
            lat["search"].append(t2 - t1)
            lat["answer"].append(t3 - t2)
            t = time.perf_counter()
            bot.ask(q)
            lat["ask"].append(time.perf_counter() - t)
            t = time.perf_counter()
            recipe.search_vector(embedder.encode([q])[0])  # encode + flat FAISS search: the bound's reference
            lat["baseline"].append(time.perf_counter() - t)
            t = time.perf_counter()
            recipe.search(q)
            lat["recipe"].append(time.perf_counter() - t)
            if reranked is not None:
                t = time.perf_counter()
                reranked.ask(q)
                lat["reranked"].append(time.perf_counter() - t)

    cold_bot = [cold(COLD_BOT, str(corpus), str(tmp / "ix")) for _ in range(3)]
    cold_recipe = [cold(COLD_RECIPE, str(tmp / "recipe")) for _ in range(3)]
    ours = evaluate_labeled(bot, items).metrics()
    theirs = recipe_labeled(recipe, items)

    shutil.rmtree(tmp, ignore_errors=True)
    med = statistics.median
    print(f"Shipped corpus: {len(docs)} documents, {chars:,} characters; {len(questions)} questions x {args.rounds} rounds.\n")
    print("| measure | qa (this bot) | plain recipe |")
    print("|---|---|---|")
    print(f"| index build, median (s) | {med(build_bot):.2f} | {med(build_recipe):.2f} |")
    print(f"| build throughput (chars/s) | {chars / med(build_bot):,.0f} | {chars / med(build_recipe):,.0f} |")
    print(f"| passages indexed | {len(bot.index.chunks)} (+{len(bot.index.sentences)} sentences) | {len(recipe.chunks)} |")
    print(f"| query p50 / p95 (ms) | {pct(lat['ask'], 50):.1f} / {pct(lat['ask'], 95):.1f} | {pct(lat['recipe'], 50):.1f} / {pct(lat['recipe'], 95):.1f} |")
    print(f"| · query embedding p50 / p95 (ms) | {pct(lat['embed'], 50):.1f} / {pct(lat['embed'], 95):.1f} | (same model) |")
    print(f"| · search p50 / p95 (ms) | {pct(lat['search'], 50):.2f} / {pct(lat['search'], 95):.2f} | — |")
    print(f"| · answer building p50 / p95 (ms) | {pct(lat['answer'], 50):.2f} / {pct(lat['answer'], 95):.2f} | — |")
    ratio = med(lat["ask"]) / med(lat["baseline"])
    print(f"| bot.ask p50 ÷ (encode + flat FAISS) p50 | {ratio:.2f}× (bound: 1.5×) | 1.00× |")
    if reranked is not None:
        print(f"| optional: bot.ask p50 / p95 with re-ranker {args.reranker} over {bot.composer.settings.rerank_depth} passages (ms) | "
              f"{pct(lat['reranked'], 50):.1f} / {pct(lat['reranked'], 95):.1f} | — |")
    print(f"| cold start to first answer, median (s) | {med(c[0] for c in cold_bot):.2f} | {med(c[0] for c in cold_recipe):.2f} |")
    print(f"| peak memory, cold start (MB) | {med(c[1] for c in cold_bot):.0f} | {med(c[1] for c in cold_recipe):.0f} |")
    for key in ("hit@1", "hit@5", "MRR"):
        print(f"| labeled set {key} | {ours[key]:.3f} | {theirs[key]:.3f} |")
    print(f"| highlight accuracy | {ours['highlight accuracy']:.3f} | — (no highlight) |")
    print(f"| abstention on unanswerable | {ours['abstention rate (unanswerable)']:.3f} | 0.000 (never abstains) |")
    print(f"| false abstention on answerable | {ours['false abstention rate (answerable)']:.3f} | 0.000 |")
    print(f"| follow-ups right | {ours['follow-ups right']:.3f} | — (no history) |")


if __name__ == "__main__":
    main()
