"""Check the everyday corpus written by bench/make_everyday.py against tests/data/everyday.jsonl (or everyday2/3/4.jsonl).

    python bench/check_everyday.py OUT_DIR [--set everyday|everyday2|everyday3|everyday4] [--questions FILE]

--set (default everyday) names the set make_everyday.py wrote into OUT_DIR; its questions are
tests/data/SET.jsonl unless --questions says otherwise.

The files are read back with bench/check_mixed.py's functions, i.e. with tools independent of the
writers (pdfinfo/pdftotext per page, word/document.xml out of the zip, an HTML parser, blank-line
blocks of the Markdown), with its document checks (PDF page count equals the source's ---page---
sections and every source paragraph sits on its page; DOCX headings and title; HTML <article>
inside site chrome; Markdown verbatim) and its answer checks: every answer is 2 to 8 words, an
exact substring of exactly one source unit (paragraph, list item, table cell, heading), occurs
once in the whole written corpus (boilerplate and page footers included), sits on the stated PDF
page and no other / inside one DOCX paragraph / one element of <article> / one Markdown block,
and is not copied into its question. On top of those, for this set:

* row schema: answerable rows are exactly {id, question, answer, source, form, split} plus page
  for a PDF; unanswerable rows exactly {id, question, answerable: false, source, form, split};
* form is one of FORMS; split is the split of the row's document (make_everyday.SPLIT), so
  splitting is by document; each half holds a PDF, a DOCX, an HTML page and a Markdown file
  (everyday2, everyday3 and everyday4: every document is "report", and that one half holds all four
  formats);
* the answer lies inside one sentence of its source unit (does not cross a sentence end);
* at least 160 answerable and 55 unanswerable questions (everyday2: 150 and 40; everyday3: 160
  and 50; everyday4: 160 and 45), both kinds on every document, answers on at least 3 pages of
  every PDF, at least 40% of the answerable questions (and of all) in the forms yes/no, can I,
  do I have to, will my, what happens if; every source 400 to 1200 words;
* wording: at most a quarter of the answerable questions may share a two-content-word phrase
  (the closest automatic stand-in for "the document's key noun phrase") with the answering sentence.

Prints counts per form, per split and per document. Exits 1 if anything fails.
"""
from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import check_mixed  # noqa: E402
from check_mixed import check_answer, fail, norm, read_corpus  # noqa: E402
from make_everyday import SETS  # noqa: E402
from make_mixed import PAGE_BREAK  # noqa: E402

FORMS = ["yes/no", "can I", "do I have to", "will my", "what happens if", "what should I do if",
         "quantity", "time", "person", "place", "procedure", "why", "other"]
YES_NO_LIKE = {"yes/no", "can I", "do I have to", "will my", "what happens if"}
STOP = set("""a an the and or but if of to in on at by for from with without into onto over under about as is are
was were be been being am do does did done have has had having can could will would shall should may might must
i me my mine you your yours he him his she her it its we us our they them their this that these those there here
what which who whom whose when where why how much many any some no not all each every other another more most
than then so too very just also only still even up out off again own same such s t get got go goes going
""".split())
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'$£(])")
ABBREVIATIONS = ("Dr.", "Mr.", "Mrs.", "Ms.", "St.", "No.", "a.m.", "p.m.")  # "8 p.m. Eastern Time"
# per set: the halves its documents are split into, and the least answerable / unanswerable counts
HALVES = {"everyday": ("tune", "report"), "everyday2": ("report",), "everyday3": ("report",),
          "everyday4": ("report",)}
MINIMUM = {"everyday": (160, 55), "everyday2": (150, 40), "everyday3": (160, 50), "everyday4": (160, 45)}


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9£$]+(?:[-'][a-z0-9]+)*", text.lower())


def content_bigrams(text: str) -> set[tuple[str, str]]:
    w = words(text)
    return {(a, b) for a, b in zip(w, w[1:]) if a not in STOP and b not in STOP}


def sentence_of(unit: str, answer: str) -> str | None:
    """The sentence of `unit` that contains `answer`, or None if the answer crosses a sentence end."""
    sentences: list[str] = []
    for piece in SENTENCE_END.split(unit):
        if sentences and sentences[-1].endswith(ABBREVIATIONS):
            sentences[-1] += " " + piece
        else:
            sentences.append(piece)
    return next((s for s in sentences if answer in s), None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--set", choices=sorted(SETS), default="everyday", help="which set OUT_DIR holds")
    ap.add_argument("--questions", type=Path, help="default tests/data/SET.jsonl")
    ap.add_argument("-v", "--verbose", action="store_true", help="list the questions sharing a phrase with their sentence")
    args = ap.parse_args()
    DOCS, SPLIT, SRC = SETS[args.set]
    halves, (min_answerable, min_unanswerable) = HALVES[args.set], MINIMUM[args.set]
    questions = args.questions or ROOT / "tests" / "data" / f"{args.set}.jsonl"

    corpus = read_corpus(args.out_dir, DOCS, SRC)
    docs = corpus["docs"]
    for d in DOCS:
        n = len((SRC / d.source).read_text(encoding="utf-8").replace(PAGE_BREAK, " ").split())
        if not 400 <= n <= 1200:
            fail(f"{d.source}: {n} words, outside 400-1200")
    for name, split in SPLIT.items():
        if split not in halves:
            fail(f"{name}: split {split!r} is not one of {halves}")
    for split in halves:
        kinds = {Path(n).suffix for n, s in SPLIT.items() if s == split}
        if kinds != {".pdf", ".docx", ".html", ".md"}:
            fail(f"{split} half has formats {sorted(kinds)}")

    rows = [json.loads(ln) for ln in questions.read_text(encoding="utf-8").splitlines() if ln.strip()]
    for dup in [i for i, c in collections.Counter(r.get("id") for r in rows).items() if c > 1]:
        fail(f"duplicate id {dup}")
    for dup in [q for q, c in collections.Counter(norm(r.get("question", "")).lower() for r in rows).items() if c > 1]:
        fail(f"duplicate question {dup!r}")
    answerable = [r for r in rows if r.get("answerable", True) is not False]
    unanswerable = [r for r in rows if r.get("answerable", True) is False]

    pages_used = collections.defaultdict(set)
    shared_phrase = []
    overlap = []
    for r in rows:
        rid, src = r.get("id"), r.get("source")
        if r in unanswerable:
            keys = {"id", "question", "answerable", "source", "form", "split"}
        else:
            keys = {"id", "question", "answer", "source", "form", "split"} | ({"page"} if str(src).endswith(".pdf") else set())
        if set(r) != keys:
            fail(f"{rid}: keys {sorted(r)} != {sorted(keys)}")
        if r.get("form") not in FORMS:
            fail(f"{rid}: form {r.get('form')!r} is not one of {FORMS}")
        if src not in docs:
            fail(f"{rid}: unknown source {src!r}")
            continue
        if r.get("split") != SPLIT[src]:
            fail(f"{rid}: split {r.get('split')!r} but {src} is in {SPLIT[src]!r}")
        if not r["question"].rstrip().endswith("?"):
            fail(f"{rid}: question does not end with '?'")

    for r in answerable:
        hits = check_answer(r, corpus)
        if hits is None:
            continue
        src, ans = r["source"], r["answer"]
        if src.endswith(".pdf"):
            pages_used[src].add(r.get("page"))
        unit = next((u for us in corpus["units"][src] for u in us if ans in u), None)
        if unit is None:
            continue
        sent = sentence_of(unit, ans)
        if sent is None:
            fail(f"{r['id']}: answer {ans!r} crosses a sentence end in {unit[:80]!r}")
            continue
        q = set(words(r["question"])) - STOP
        s = set(words(sent)) - STOP
        overlap.append(len(q & s) / max(1, len(q)))
        if content_bigrams(r["question"]) & content_bigrams(sent):
            shared_phrase.append((r["id"], sorted(content_bigrams(r["question"]) & content_bigrams(sent))))

    # ---- coverage
    if len(answerable) < min_answerable:
        fail(f"only {len(answerable)} answerable questions")
    if len(unanswerable) < min_unanswerable:
        fail(f"only {len(unanswerable)} unanswerable questions")
    for name in docs:
        if not any(r.get("source") == name for r in answerable) or not any(r.get("source") == name for r in unanswerable):
            fail(f"{name}: needs both answerable and unanswerable questions")
    for name in docs:
        if name.endswith(".pdf") and len(pages_used[name]) < 3:
            fail(f"{name}: answers on pages {sorted(pages_used[name])} only")
    yn = sum(r.get("form") in YES_NO_LIKE for r in answerable)
    yn_all = sum(r.get("form") in YES_NO_LIKE for r in rows)
    if yn < 0.4 * len(answerable) or yn_all < 0.4 * len(rows):
        fail(f"yes/no-like forms: {yn}/{len(answerable)} answerable, {yn_all}/{len(rows)} all; need 40%")
    if len(shared_phrase) > 0.25 * len(answerable):
        fail(f"{len(shared_phrase)} of {len(answerable)} questions share a two-word phrase with the answering "
             f"sentence (at most a quarter)")

    # ---- report
    print()
    print(f"{'document':24s} {'format':5s} {'split':7s} {'answerable':>10s} {'unanswerable':>12s}")
    for d in DOCS:
        a = sum(r.get("source") == d.out for r in answerable)
        u = sum(r.get("source") == d.out for r in unanswerable)
        pages = f"  pages {dict(sorted(collections.Counter(r.get('page') for r in answerable if r.get('source') == d.out).items()))}" \
            if d.out.endswith(".pdf") else ""
        print(f"{d.out:24s} {Path(d.out).suffix[1:]:5s} {SPLIT[d.out]:7s} {a:10d} {u:12d}{pages}")
    print()
    for split in halves:
        a = sum(r.get("split") == split for r in answerable)
        u = sum(r.get("split") == split for r in unanswerable)
        print(f"split {split:6s}: {a} answerable, {u} unanswerable")
    fa = collections.Counter(r.get("form") for r in answerable)
    fu = collections.Counter(r.get("form") for r in unanswerable)
    print("\nform                  answerable  unanswerable")
    for f in FORMS:
        print(f"{f:22s}{fa[f]:10d}{fu[f]:14d}")
    print(f"\nyes/no-like forms: {yn}/{len(answerable)} answerable ({yn / max(1, len(answerable)):.0%}), "
          f"{yn_all}/{len(rows)} all ({yn_all / max(1, len(rows)):.0%})")
    if overlap:
        print(f"question content words found in the answering sentence: mean {sum(overlap) / len(overlap):.0%}; "
              f"{len(shared_phrase)}/{len(answerable)} questions share a two-content-word phrase with it")
    if args.verbose:
        for rid, bg in shared_phrase:
            print(f"  {rid}: {bg}")
    if check_mixed.FAILURES:
        print(f"\n{len(check_mixed.FAILURES)} check(s) FAILED")
        return 1
    print("\nall checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
