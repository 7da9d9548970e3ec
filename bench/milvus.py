"""The index in Milvus beside the FAISS store, on the shipped corpus: build time, answer latency, labeled-set hit@1.

    pip install "qa[milvus]"
    HF_HUB_OFFLINE=1 .venv/bin/python bench/milvus.py [--uri /tmp/qa-bench.db]

The default URI is a fresh Milvus Lite file (the engine runs in a process pymilvus starts); a
server's URL measures that server instead (token in QA_MILVUS_TOKEN). Same machine, same run.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from qa.bot import Bot  # noqa: E402
from qa.evaluate.labeled import evaluate_labeled, load_questions  # noqa: E402


def latency(bot: Bot, questions: list[str]) -> tuple[float, float]:
    bot.ask(questions[0])  # warm-up
    times = []
    for q in questions:
        t = time.perf_counter()
        bot.ask(q)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--uri", help="Milvus URI (default: a new Milvus Lite file in a temporary folder)")
    a = p.parse_args()
    uri = a.uri or str(Path(tempfile.mkdtemp(prefix="qa-milvus-")) / "bench.db")
    items = load_questions(ROOT / "tests" / "data" / "questions.jsonl")
    questions = [i["question"] for i in items if "question" in i]
    t = time.perf_counter()
    milvus = Bot.load(corpus=ROOT / "corpus", milvus_uri=uri, rebuild=True, on_status=lambda m: None)
    build = time.perf_counter() - t
    t = time.perf_counter()
    Bot.load(corpus=ROOT / "corpus", milvus_uri=uri, on_status=lambda m: None)
    reopen = time.perf_counter() - t
    faiss = Bot.load(on_status=lambda m: None)
    print(f"### Shipped corpus ({len(faiss.index.chunks)} passages), {len(questions)} questions of questions.jsonl\n")
    print("| store | build (s) | open (s) | bot.ask p50 / p95 (ms) | hit@1 |\n|---|---|---|---|---|")
    for label, bot, b, o in (("Milvus (" + ("Lite" if uri.endswith(".db") else uri) + ")", milvus, f"{build:.1f}", f"{reopen:.1f}"),
                             ("FAISS (default)", faiss, "—", "—")):
        p50, p95 = latency(bot, questions)
        hit1 = evaluate_labeled(bot, items).metrics()["hit@1"]
        print(f"| {label} | {b} | {o} | {p50:.1f} / {p95:.1f} | {hit1:.3f} |", flush=True)
    print("\nBuild includes the first load of the embedding model; open is the second Bot.load in the same process.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
