"""How well does the checker of written answers catch what language models get wrong?

    HF_HUB_OFFLINE=1 .venv/bin/python bench/checker.py ../shared/benchmarks [--squad 300]

On every labeled set, the bot answers each question extractively (``bot.ask``). Each sentence of the
first cited passage's highlight, followed by "[1]", is a correct written sentence; so is its longest
clause alone (a shortened paraphrase). Then each is corrupted the ways models fail:

- wrong number: one number it states replaced by another that the passage does not hold;
- swapped name: one name it states replaced by a name from another document of the collection;
- unrelated: a sentence from a passage of another document, citing [1];
- no citation: the correct sentence with its [1] removed.

Reported: the share of corrupted sentences the checker flags (target ≥ 0.95), the share of correct
ones it flags (target ≤ 0.05), and the time it adds per answer. The thresholds were set on the
shipped corpus' own questions (``questions.jsonl``); the other sets were not looked at to set them.
"""
from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.evaluate import benchmarks as b  # noqa: E402
from qa import store as index_io  # noqa: E402
from qa.bot import Bot  # noqa: E402
from qa.answer.checker import _NAME, Checker, names_in  # noqa: E402
from qa.ingest.chunking import sentence_spans  # noqa: E402
from qa.embed.embedder import Embedder  # noqa: E402
from qa.evaluate.labeled import load_questions  # noqa: E402
from qa.store import IndexSettings  # noqa: E402
from qa.store.lexical import stopwords, tokenize  # noqa: E402
from labeled import write_mixed  # noqa: E402

KINDS = ["wrong number", "swapped name", "unrelated", "no citation"]
_NUM = re.compile(r"\d[\d,]*(?:\.\d+)?")


def wrong_number(sentence: str, passage: str, rng: random.Random) -> str | None:
    found = list(_NUM.finditer(sentence))
    if not found:
        return None
    m = rng.choice(found)
    value = float(m.group(0).replace(",", ""))
    for factor in (1.3, 0.7, 2, 3, 1.5):
        new = value * factor
        text = f"{new:,.0f}" if "." not in m.group(0) else f"{new:.1f}"
        if text.replace(",", "") not in passage.replace(",", ""):
            return sentence[:m.start()] + text + sentence[m.end():]
    return None


def swapped_name(sentence: str, passage: str, pool: list[str], rng: random.Random) -> str | None:
    names = [n for n in names_in(sentence) if n in sentence]
    if not names:
        return None
    name = rng.choice(names)
    passage_tokens = set(tokenize(passage))
    for other in rng.sample(pool, min(50, len(pool))):
        if other != name and not set(tokenize(other)) & passage_tokens:
            return sentence.replace(name, other, 1)
    return None


def longest_clause(sentence: str) -> str | None:
    parts = [p.strip(" ,;:—-") for p in re.split(r"[,;:—]\s", sentence)]
    best = max(parts, key=lambda p: len(tokenize(p)))
    if best == sentence.strip() or len(tokenize(best)) < 4:
        return None
    return best.rstrip(".") + "."


def run_set(name: str, bot: Bot, questions: list[str], rng: random.Random) -> dict:
    checker = Checker(bot.embedder.encode, bot.index.lexical.idf, stored=bot._answerer.stored_sentences)  # as bot.ask does
    chunks = bot.index.chunks
    pool = sorted({n for c in rng.sample(chunks, min(400, len(chunks))) for n in _NAME.findall(c.text)
                   if len(n) > 2 and n.lower() not in stopwords()})
    correct = Counter()
    flagged_correct = Counter()
    caught, tried = Counter(), Counter()
    times = []
    examples: dict[str, str] = {}
    for q in questions:
        answer = bot.ask(q)
        if answer.abstained or not answer.citations:
            continue
        c1 = answer.citations[0]
        sentences = [c1.highlight[a:b] for a, b in sentence_spans(c1.highlight)]
        sentences = [s for s in sentences if len(tokenize(s)) >= 3]
        if not sentences:
            continue
        cases: list[tuple[str, str]] = []
        for s in sentences:
            cases.append(("correct", f"{s} [1]"))
            short = longest_clause(s)
            if short:
                cases.append(("correct, shortened", f"{short} [1]"))
        s = sentences[0]
        other = [c for c in chunks if c.source != c1.source]
        unrelated = rng.choice([t for c in rng.sample(other, min(5, len(other)))
                                for a, b in sentence_spans(c.text) for t in [c.text[a:b]] if len(tokenize(t)) >= 4] or [None])
        for kind, text in (("wrong number", wrong_number(s, c1.passage, rng)),
                           ("swapped name", swapped_name(s, c1.passage, pool, rng)),
                           ("unrelated", unrelated),
                           ("no citation", s)):
            if text is not None:
                cases.append((kind, text if kind == "no citation" else f"{text} [1]"))
        t0 = time.perf_counter()
        verdicts = checker.check("\n".join(t for _, t in cases), answer.citations)
        times.append((time.perf_counter() - t0) / max(1, len(cases)) * 3)  # per three-sentence answer
        if len(verdicts) != len(cases):  # a case that split in two: check them one by one instead
            verdicts = [checker.check(t, answer.citations)[0] for _, t in cases]
        for (kind, text), v in zip(cases, verdicts):
            if kind.startswith("correct"):
                correct[kind] += 1
                if not v.supported:
                    flagged_correct[kind] += 1
                    examples.setdefault(f"false flag: {kind}", f"{v.reason} ← {text}")
            else:
                tried[kind] += 1
                if not v.supported:
                    caught[kind] += 1
                else:
                    examples.setdefault(f"missed: {kind}", text)
    return {"name": name, "correct": correct, "flagged": flagged_correct, "caught": caught, "tried": tried,
            "ms": statistics.median(times) * 1000 if times else float("nan"), "examples": examples}


def ratio(a: int, n: int) -> str:
    return f"{a / n:.3f} ({a}/{n})" if n else "–"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("benchmarks", type=Path, help="folder holding squad-v2-dev/")
    p.add_argument("--squad", type=int, default=300, help="answerable SQuAD dev questions to use")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--examples", action="store_true", help="print one missed and one wrongly flagged case per kind")
    a = p.parse_args()
    rng = random.Random(a.seed)
    embedder = Embedder()
    shipped = Bot(index_io.load(ROOT / "index"), embedder, ROOT / "corpus", ROOT / "index")
    data = ROOT / "tests" / "data"
    mixed_dir = write_mixed()
    mixed = Bot(index_io.build_from_folder(mixed_dir, IndexSettings(model=embedder.name), embedder.encode), embedder)
    squad = b.load_squad(a.benchmarks / "squad-v2-dev" / "dev-v2.0.json")
    squad_bot = Bot(b.open_or_build(squad.documents, IndexSettings(model=embedder.name), embedder.encode, "squad"), embedder)
    sets = [
        ("questions.jsonl (tuning)", shipped, [q["question"] for q in load_questions(data / "questions.jsonl") if q.get("answer") and "question" in q]),
        ("heldout.jsonl", shipped, [q["question"] for q in load_questions(data / "heldout.jsonl") if q.get("answer") and "question" in q]),
        ("heldout2.jsonl", shipped, [q["question"] for q in load_questions(data / "heldout2.jsonl") if q.get("answer") and "question" in q]),
        ("mixed.jsonl", mixed, [q["question"] for q in load_questions(data / "mixed.jsonl") if q.get("answer") and "question" in q]),
        (f"SQuAD v2 dev, first {a.squad}", squad_bot, [q for q, _ in squad.answerable[:a.squad]]),
    ]
    rows = [run_set(name, bot, qs, rng) for name, bot, qs in sets]
    print("\n#### Checker: corrupted sentences caught, correct ones wrongly flagged\n")
    print("| set | " + " | ".join(f"caught: {k}" for k in KINDS) + " | caught, all | correct flagged | shortened flagged | ms per answer |")
    print("|---|" + "---|" * (len(KINDS) + 4))
    for r in rows:
        all_caught, all_tried = sum(r["caught"].values()), sum(r["tried"].values())
        print(f"| {r['name']} | " + " | ".join(ratio(r["caught"][k], r["tried"][k]) for k in KINDS)
              + f" | {ratio(all_caught, all_tried)} | {ratio(r['flagged']['correct'], r['correct']['correct'])} | "
              f"{ratio(r['flagged']['correct, shortened'], r['correct']['correct, shortened'])} | {r['ms']:.0f} |")
    held = rows[1:]
    c = sum(sum(r["caught"].values()) for r in held), sum(sum(r["tried"].values()) for r in held)
    f = sum(r["flagged"]["correct"] for r in held), sum(r["correct"]["correct"] for r in held)
    print(f"\nHeld-out sets together: caught {ratio(*c)}, correct flagged {ratio(*f)}")
    if a.examples:
        for r in rows:
            for k, v in r["examples"].items():
                print(f"  [{r['name']}] {k}: {v[:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
