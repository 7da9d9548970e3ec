"""Does the bot hold up on collections nobody tuned it on? Measured through ``bot.ask`` as a user gets it.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/robustness.py ../shared/benchmarks [--limit N]

Each collection is calibrated first, as ``Bot.load`` does when it indexes one (``qa.answer.calibration``).

Retrieval, in one run per set: the bot (``bot.ask(q, k=10)``, its citations mapped back to their
documents in order — a citation's ``also_in`` documents, near-copies it stands for, right after it),
dense retrieval alone (the same MiniLM, whole documents, flat FAISS) and BM25 alone (bm25s, the bot's
stemmed tokenizer); nDCG@10 in BEIR's form and in the leaderboard's form. Sets: MS MARCO-5k, and SQuAD
v2 dev seen as a retrieval set (paragraphs are the documents, each answerable question's own paragraph
its one relevant document).

Abstention, on every labeled set (``bench/labeled.py``): the share of answerable questions the bot
refuses (false abstentions) and of unanswerable ones it refuses (true abstentions).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.evaluate import benchmarks as b  # noqa: E402
from qa.answer import calibration  # noqa: E402
from qa.evaluate.baselines import BM25Only, DenseOnly  # noqa: E402
from qa.bot import Bot  # noqa: E402
from qa.embed.embedder import Embedder  # noqa: E402
from qa.evaluate.labeled import evaluate_labeled, load_questions  # noqa: E402
from qa.store import IndexSettings  # noqa: E402
from labeled import labeled_sets  # noqa: E402


class AskRanker:
    """Documents in the order ``bot.ask`` cites them."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    def rank(self, question: str, k: int) -> list[str]:
        out: list[str] = []
        for c in self.bot.ask(question, k=min(k, 20)).citations:
            for source in [c.source, *getattr(c, "also_in", [])]:  # (older versions have no also_in)
                if source not in out:
                    out.append(source)
        return out[:k]


def squad_as_beir(squad: b.SquadSet, limit: int | None) -> b.BeirSet:
    pairs = squad.answerable[:limit] if limit else squad.answerable
    return b.BeirSet("squad", squad.documents, {str(i): q for i, (q, _) in enumerate(pairs)},
                     {str(i): {source: 1} for i, (_, source) in enumerate(pairs)})


def retrieval_rows(data: b.BeirSet, embedder: Embedder, name: str, cache: str) -> None:
    quiet = lambda texts, **kw: embedder.encode(texts)  # noqa: E731
    ix = b.open_or_build(data.documents, IndexSettings(model=embedder.name), embedder.encode, cache)
    chosen = calibration.keep_or_redo(ix, embedder.encode)  # as Bot.load does when it indexes a collection
    print(f"\n{name}: {chosen.summary()}", flush=True)
    bot = Bot(ix, embedder)
    bot.prepare_words()  # as a server does at start: every query then sees the collection's words
    systems = {"qa, through bot.ask": AskRanker(bot), "dense alone (MiniLM, flat FAISS)": DenseOnly(data.documents, quiet),
               "BM25 alone (bm25s)": BM25Only(data.documents)}
    print(f"\n#### {name}: {len(data.documents):,} documents, {len(data.qrels):,} queries\n")
    print("| system | nDCG@10 | nDCG@10 (leaderboard) | recall@10 | MRR@10 | seconds |\n|---|---|---|---|---|---|")
    for label, ranker in systems.items():
        t0 = time.perf_counter()
        s = b.beir_scores(ranker, data)
        print(f"| {label} | {s['nDCG@10']:.3f} | {s['nDCG@10 (leaderboard)']:.3f} | {s['recall@10']:.3f} | {s['MRR@10']:.3f} | "
              f"{time.perf_counter() - t0:.0f} |", flush=True)


def abstention_rows(embedder: Embedder, squad: b.SquadSet, limit: int | None) -> None:
    print("\n#### Abstention\n\n| set | answerable | false abstentions | unanswerable | true abstentions |\n|---|---|---|---|---|")
    for bot, path in labeled_sets(embedder).values():
        r = evaluate_labeled(bot, load_questions(path))
        print(f"| {path.name} | {r.answerable} | {r.false_abstentions} ({r.false_abstentions / max(1, r.answerable):.1%}) | "
              f"{r.unanswerable} | {r.abstained} ({r.abstained / max(1, r.unanswerable):.1%}) |", flush=True)
    ix = b.open_or_build(squad.documents, IndexSettings(model=embedder.name), embedder.encode, "squad")
    calibration.keep_or_redo(ix, embedder.encode)
    bot = Bot(ix, embedder)
    bot.prepare_words()
    answerable = squad.answerable[:limit] if limit else squad.answerable
    unanswerable = squad.unanswerable[:limit] if limit else squad.unanswerable
    false = sum(bot.ask(q).abstained for q, _ in answerable)
    true = sum(bot.ask(q).abstained for q, _ in unanswerable)
    print(f"| SQuAD v2 dev | {len(answerable)} | {false} ({false / len(answerable):.1%}) | {len(unanswerable)} | "
          f"{true} ({true / len(unanswerable):.1%}) |")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("benchmarks", type=Path, help="folder holding msmarco-5k/ and squad-v2-dev/")
    p.add_argument("--limit", type=int, help="only the first N SQuAD questions of each kind")
    a = p.parse_args()
    embedder = Embedder()
    retrieval_rows(b.load_beir(a.benchmarks / "msmarco-5k"), embedder, "MS MARCO-5k", "msmarco")
    squad = b.load_squad(a.benchmarks / "squad-v2-dev" / "dev-v2.0.json")
    retrieval_rows(squad_as_beir(squad, a.limit), embedder, "SQuAD v2 dev as retrieval", "squad")
    abstention_rows(embedder, squad, a.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
