"""What the bot says, measured: answered, tentative or not found, on every labeled set (issue 25).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/outcomes.py [--squad ../shared/benchmarks] [--dump records.jsonl]

For each first-turn question of each labeled set (``bench/labeled.py``; the everyday set in its tuning and
reporting halves, by document), ``bot.ask`` runs as the chat calls it, and the table gives:

- hit@1 and highlight@1: the first passage, and its highlighted sentence, hold the answer;
- stated right: answered (not tentative, not "not found") with the answer in the first highlight;
- tentative and not found, among answerable questions; withheld: "not found" while the first highlight
  held the answer (the target is none);
- unanswerable questions answered without a warning (neither tentative nor not found);
- the expected calibration error of ``confidence`` (10 equal-width bins; a question counts as right when
  its first highlight holds the answer, an unanswerable one never does), with the reliability table of
  the reporting half and the ECE a perfectly calibrated confidence would show on it (its sampling floor).

``--dump`` writes one JSON line per question (its signals, outcome, confidence and whether the highlight
was right): ``bench/confidence.py`` fits the confidence model from it. ``--squad`` adds SQuAD 2.0 dev
(CS224n half): its answerable questions by the same measures, its unanswerable ones as answered /
tentative / not found. ``--sets everyday,everyday3`` measures only those sets; ``--llm TARGET`` (a .gguf path
or a server's URL, as the chat's ``--llm``) has every answer written by that language model and checked, as
the chat gives it, and records whether the answer's text holds the answer (``text_right``).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from labeled import labeled_sets  # noqa: E402

from qa.embed.embedder import Embedder  # noqa: E402
from qa.evaluate.labeled import contains, load_questions, rank_of  # noqa: E402


def record(set_name: str, item: dict, answer) -> dict:
    answerable = item.get("answerable", True) is not False
    first = answer.citations[0].highlight if answer.citations else ""
    right = answerable and bool(answer.citations) and contains(first, item["answer"])
    return {"set": set_name, "split": item.get("split", ""), "id": item.get("id"), "answerable": answerable,
            "outcome": answer.outcome, "confidence": answer.confidence, "right": right, "reason": answer.reason,
            "written": answer.generated, "text_right": answerable and contains(answer.text, item["answer"]),
            "rank": rank_of(answer, item["answer"]) if answerable else None, "signals": answer.signals,
            "form": item.get("form", ""), "question": item["question"], "highlight": first[:200]}


def summary(rows: list[dict]) -> dict:
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    n = max(1, len(ans))
    return {
        "answerable": len(ans), "hit@1": sum(r["rank"] == 1 for r in ans) / n, "highlight@1": sum(r["right"] for r in ans) / n,
        "stated right": sum(r["right"] and r["outcome"] == "answered" for r in ans) / n,
        "tentative": sum(r["outcome"] == "tentative" for r in ans) / n,
        "not found": sum(r["outcome"] == "not found" for r in ans) / n,
        "withheld": sum(r["right"] and r["outcome"] == "not found" for r in ans),
        "unanswerable": len(una),
        "unwarned": sum(r["outcome"] == "answered" for r in una) / max(1, len(una)),
        "ECE": ece(rows)[0],
    }


def ece(rows: list[dict], bins: int = 10) -> tuple[float, list[tuple[str, int, float, float]]]:
    """Expected calibration error of ``confidence`` against "the first highlight holds the answer"."""
    table, total = [], 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [r for r in rows if lo <= r["confidence"] < hi or (b == bins - 1 and r["confidence"] == 1.0)]
        if not inside:
            continue
        conf = sum(r["confidence"] for r in inside) / len(inside)
        acc = sum(r["right"] for r in inside) / len(inside)
        total += len(inside) / max(1, len(rows)) * abs(conf - acc)
        table.append((f"{lo:.1f}–{hi:.1f}", len(inside), conf, acc))
    return total, table


def ece_floor(rows: list[dict], draws: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """What ECE a *perfectly* calibrated ``confidence`` would show on these questions: each one's outcome drawn
    right with its own confidence, ``draws`` times. Returns the mean, the 95th percentile, and how often it came
    out at or below 0.05. On a couple of hundred questions the binning alone leaves an error of this size."""
    import random

    rng = random.Random(seed)
    confs = [r["confidence"] for r in rows]
    sims = sorted(ece([{"confidence": c, "right": rng.random() < c} for c in confs])[0] for _ in range(draws))
    return sum(sims) / draws, sims[int(0.95 * (draws - 1))], sum(x <= 0.05 for x in sims) / draws


def squad_rows(path: Path, embedder: Embedder) -> list[dict]:
    """SQuAD 2.0 dev: a question is right when its first citation is its own paragraph (the set gives
    paragraphs, not one answer sentence); its unanswerable questions are never right."""
    from qa.bot import Bot
    from qa.evaluate import benchmarks as b
    from qa.store import IndexSettings

    squad = b.load_squad(path)
    bot = Bot(b.open_or_build(squad.documents, IndexSettings(model=embedder.name), embedder.encode, "squad-v2-dev"), embedder)
    bot.prepare_words()  # as the chat server does at start: every question then sees the collection's words
    rows = []
    for answerable, pairs in ((True, squad.answerable), (False, squad.unanswerable)):
        for question, source in pairs:
            a = bot.ask(question)
            first = a.citations[0].source if a.citations else ""
            rows.append({"set": "squad-v2-dev", "split": "", "answerable": answerable, "outcome": a.outcome,
                         "confidence": a.confidence, "right": answerable and first == source,
                         "rank": 1 if answerable and first == source else None, "signals": a.signals, "form": "",
                         "question": question, "highlight": ""})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--squad", type=Path, help="the benchmarks folder holding squad-v2-dev/")
    ap.add_argument("--dump", type=Path, help="write one JSON line per question here")
    ap.add_argument("--sets", help="only these labeled sets, comma-separated (e.g. everyday,everyday2)")
    ap.add_argument("--llm", help="answers written by this language model (a .gguf path or a server's URL, as "
                                  "--llm of the chat) and checked, as the chat gives them")
    args = ap.parse_args()
    embedder = Embedder()
    writer = None
    if args.llm:
        from qa.answer.models import LLMSettings, connect
        from qa.answer.writer import Writer

        settings = LLMSettings.from_env(args.llm)
        writer = Writer(connect(settings), settings.max_tokens)
    wanted = set(args.sets.split(",")) if args.sets else None
    rows: list[dict] = []
    t0 = time.perf_counter()
    seconds: list[float] = []  # bot.ask, per question of the labeled sets
    for name, (bot, path) in labeled_sets(embedder).items():
        if wanted is not None and name not in wanted:
            continue
        bot.writer = writer
        bot.prepare_words()  # as the chat server does at start (qa/answer/related.py)
        for item in load_questions(path):
            if "question" in item:  # first turns; follow-ups are measured by bench/speed.py and qa eval
                t = time.perf_counter()
                answer = bot.ask(item["question"])
                seconds.append(time.perf_counter() - t)
                rows.append(record(name, item, answer))
    if args.squad:
        rows += squad_rows(args.squad / "squad-v2-dev" / "dev-v2.0.json", embedder)
    if args.dump:
        args.dump.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(r["set"] + (f" ({r['split']})" if r["split"] else ""), []).append(r)
    cols = ["answerable", "hit@1", "highlight@1", "stated right", "tentative", "not found", "withheld", "unanswerable",
            "unwarned", "ECE"]
    print(f"| set | {' | '.join(cols)} |\n|---|{'---|' * len(cols)}")
    for name, group in groups.items():
        s = summary(group)
        print(f"| {name} | " + " | ".join(f"{s[c]:.3f}" if isinstance(s[c], float) else str(s[c]) for c in cols) + " |")
    report = groups.get("everyday (report)", [])
    if report:
        total, table = ece(report)
        print(f"\nReliability of confidence, everyday reporting half (ECE {total:.3f}):\n\n| confidence | questions | mean confidence | right |\n|---|---|---|---|")
        for label, n, conf, acc in table:
            print(f"| {label} | {n} | {conf:.3f} | {acc:.3f} |")
        mean, high, under = ece_floor(report)
        print(f"\nA perfectly calibrated confidence on these {len(report)} questions would show ECE {mean:.3f} on average "
              f"(95th percentile {high:.3f}; at most 0.05 in {under:.1%} of draws): the observed {total:.3f} is "
              f"{'within' if total <= high else 'above'} that.")
    squad_una = [r for r in rows if r["set"] == "squad-v2-dev" and not r["answerable"]]
    if squad_una:
        counts = {o: sum(r["outcome"] == o for r in squad_una) for o in ("answered", "tentative", "not found")}
        print(f"\nSQuAD v2 dev, {len(squad_una)} unanswerable: " + ", ".join(f"{o} {n} ({n / len(squad_una):.1%})" for o, n in counts.items()))
    if seconds:  # none with ``--sets none --squad``
        print(f"\nbot.ask over the labeled sets: p50 {1000 * statistics.median(seconds):.1f} ms, "
              f"p95 {1000 * sorted(seconds)[int(0.95 * (len(seconds) - 1))]:.1f} ms ({len(seconds)} questions)")
    print(f"{len(rows)} questions in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
