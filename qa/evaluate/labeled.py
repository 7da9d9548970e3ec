"""Measure the bot on a labeled question set (``qa eval``).

The set is JSON lines of three kinds: answerable ``{"question", "answer"}``,
unanswerable ``{"question", "answerable": false}`` and two-turn follow-ups
``{"turns": [first, follow-up], "answer"}``. A passage *hits* when it contains
the answer string (case-insensitive, quotes normalised).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from qa.types import Answer

DEFAULT_QUESTIONS = Path(__file__).resolve().parents[2] / "tests" / "data" / "questions.jsonl"
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})


def normalise(text: str) -> str:
    return " ".join(text.translate(_QUOTES).lower().split())


def contains(text: str, answer: str) -> bool:
    return normalise(answer) in normalise(text)


def load_questions(path: str | Path) -> list[dict]:
    items = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except ValueError as err:
                    raise ValueError(f"{path}:{n}: not valid JSON ({err})") from err
    return items


def rank_of(answer: Answer, expected: str) -> int | None:
    """1-based rank of the first cited passage containing ``expected``."""
    for c in answer.citations:
        if contains(c.passage, expected):
            return c.number
    return None


@dataclass
class LabeledReport:
    answerable: int = 0
    hit1: int = 0
    hit5: int = 0
    reciprocal_ranks: list[float] = field(default_factory=list)
    highlight: int = 0
    false_abstentions: int = 0  # answerable, and "not found"
    tentative: int = 0  # answerable, and only tentative
    stated_right: int = 0  # answerable, answered, and its first highlight holds the answer
    unanswerable: int = 0
    abstained: int = 0  # unanswerable, and warned: tentative or not found
    followups: int = 0
    followups_right: int = 0
    paged: int = 0  # hits on a question whose answer is on a known PDF page …
    page_right: int = 0  # … whose citation shows that page
    failures: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        a = max(1, self.answerable)
        return {
            "hit@1": self.hit1 / a,
            "hit@5": self.hit5 / a,
            "MRR": sum(self.reciprocal_ranks) / a,
            "highlight accuracy": self.highlight / a,
            "stated right (answerable)": self.stated_right / a,
            "tentative (answerable)": self.tentative / a,
            "abstention rate (unanswerable)": self.abstained / max(1, self.unanswerable),
            "false abstention rate (answerable)": self.false_abstentions / a,
            "follow-ups right": self.followups_right / max(1, self.followups),
            **({"page locator right (PDF hits)": self.page_right / self.paged} if self.paged else {}),
        }

    def table(self) -> str:
        counts = {"answerable": self.answerable, "unanswerable": self.unanswerable, "follow-ups": self.followups}
        lines = ["| metric | value |", "|---|---|"]
        lines += [f"| {k} | {v:.3f} |" for k, v in self.metrics().items()]
        lines.append("| questions | " + ", ".join(f"{v} {k}" for k, v in counts.items()) + " |")
        return "\n".join(lines)


def evaluate_labeled(bot, items: list[dict], k: int = 5) -> LabeledReport:
    r = LabeledReport()
    for item in items:
        if "turns" in item:
            first, follow = item["turns"]
            prior = bot.ask(first, k=k)
            history = [{"role": "user", "content": first}, {"role": "assistant", "content": prior.text}]
            ans = bot.ask(follow, history=history, k=k)
            r.followups += 1
            ok = not ans.abstained and rank_of(ans, item["answer"]) == 1
            r.followups_right += ok
            if not ok:
                r.failures.append(f"{item.get('id')}: follow-up {follow!r} -> {ans.citations[0].highlight[:90] if ans.citations else ''!r}")
            continue
        ans = bot.ask(item["question"], k=k)
        if item.get("answerable", True) is False:
            r.unanswerable += 1
            r.abstained += ans.abstained or ans.tentative
            if ans.outcome == "answered":
                r.failures.append(f"{item.get('id')}: answered an unanswerable question {item['question']!r} with {ans.text[:90]!r}")
            continue
        r.answerable += 1
        rank = rank_of(ans, item["answer"])
        r.hit1 += rank == 1
        r.hit5 += rank is not None and rank <= 5
        r.reciprocal_ranks.append(1 / rank if rank else 0.0)
        hl = bool(ans.citations) and contains(ans.citations[0].highlight, item["answer"])
        r.highlight += hl
        r.false_abstentions += ans.abstained
        r.tentative += ans.tentative
        r.stated_right += hl and ans.outcome == "answered"
        if rank is not None and "page" in item:
            # The card's page is the highlight's; where the highlight is another sentence, the
            # reader looks for the answer in the passage, so its page range must hold the page.
            c = ans.citations[rank - 1]
            r.paged += 1
            good = c.page == item["page"] if contains(c.highlight, item["answer"]) else (
                c.pages is not None and c.pages[0] <= item["page"] <= c.pages[1])
            r.page_right += good
            if not good:
                r.failures.append(f"{item.get('id')}: page {c.page} (passage {c.pages}) shown, answer on page {item['page']}")
        if rank != 1 or not hl or ans.abstained:
            top = ans.citations[0].highlight[:90] if ans.citations else ""
            r.failures.append(f"{item.get('id')}: rank={rank} highlight={'ok' if hl else 'miss'}{' ABSTAINED' if ans.abstained else ''} "
                              f"{item['question']!r} want {item['answer']!r}; [1] says {top!r}")
    return r
