"""What a sentence offers as evidence: acronyms spelled out, years covered, quantities stated, the
share of the question's terms it holds."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cached_property

from qa.store import Index
from qa.store.lexical import fold, stopwords, tokenize

_NUMBER = re.compile(r"(?<![A-Za-z-])\d[\d,.]*|\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|hundred|thousand|million|billion|trillion|half|twice|double|triple|quarter|third|dozen)\b", re.I)
_YEAR_DIGITS = r"(1[5-9]\d\d|20\d\d)"
_ANY_YEAR = re.compile(r"(?<!\d)" + _YEAR_DIGITS + r"(?!\d)")
_YEAR_SPAN = re.compile(r"\b" + _YEAR_DIGITS + r"\s*(?:[-–—/]|to|until|till|through|and)\s*(\d{4}|\d{2})\b")
# A run of capitalised words not opening a sentence: "Lakeport Airport", "Ms Patel" (a question's or a document's names).
_NAME_SPAN = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][a-z][\w-]*(?:\s+[A-Z][a-z][\w-]*)*")
_NOT_A_NAME = frozenset("monday tuesday wednesday thursday friday saturday sunday january february march april may june july"
                        " august september october november december christmas easter bank holiday holidays day new year eve".split())
_LIST_NUMBER = re.compile(r"^\s*\d{1,2}[.)]\s")  # "5. Infrastructure" numbers a heading, answers nothing

_ACRONYM = re.compile(r"([A-Z]{2,6}?)(I{1,3}|IV|VI{0,3}|\d{1,2})?")
_SPELL_WORD = re.compile(r"[A-Za-z]+|\d+")
_LINKS = {"of", "and", "the", "for", "&", "de", "on", "in"}


def spells_out(name: str, text: str) -> bool:
    """``text`` writes the acronym ``name`` in full: "NY" "New York", "HR" "human resources",
    "WWII" "World War II" (a trailing numeral must match too: "WWI" is not "World War II")."""
    m = _ACRONYM.fullmatch(name)
    if not m:
        return False
    letters, numeral = m.group(1).lower(), m.group(2)
    words = _SPELL_WORD.findall(text)
    for i in range(len(words)):
        j, n = i, 0
        while j < len(words) and n < len(letters):
            w = words[j]
            if w[0].lower() == letters[n] and w.lower() not in stopwords():  # "her reasons" is not HR
                n, j = n + 1, j + 1
            elif n and w.lower() in _LINKS:
                j += 1  # "Department of Energy" is DOE and DE
            else:
                break
        if n == len(letters) and (numeral is None or (j < len(words) and words[j] == numeral)) \
                and (numeral is not None or j >= len(words) or not _ACRONYM.fullmatch(words[j]) or words[j][0].islower()):
            return True
    return False


def covers_years(years: frozenset[int], text: str) -> bool:
    """Every one of ``years`` is written in ``text``, or falls inside a span of years it writes.

    "What was the revenue in 2022?" is not answered by "Operating revenue for the 2023 financial
    year was…": the sentence is about something else, however well it matches the rest.
    """
    if not years:
        return True
    written = {int(y) for y in _ANY_YEAR.findall(text)}
    missing = years - written
    for m in _YEAR_SPAN.finditer(text) if missing else ():
        first, last = int(m.group(1)), m.group(2)
        end = int(last) if len(last) == 4 else first // 100 * 100 + int(last)
        missing = {y for y in missing if not first <= y <= end}
    return not missing


def numbers_in(text: str) -> frozenset[str]:
    """The quantities a text states; a leading list number ("5. Heading") is not one."""
    return frozenset(m.group(0).lower().rstrip(".,") for m in _NUMBER.finditer(_LIST_NUMBER.sub("", text)))


@dataclass(frozen=True)
class _SentenceInfo:
    terms: frozenset[str]
    text: str
    is_question: bool
    is_heading: bool  # a short line with no closing punctuation: it names a topic, it states nothing

    @cached_property
    def numbers(self) -> frozenset[str]:
        """Read only for questions asking for a quantity."""
        return numbers_in(self.text)


def _idf(index: Index, tokens: list[str]) -> dict[str, float]:
    return index.lexical.idf(tokens)


def coverage(tokens: set[str], idf: dict[str, float], focus: list[str]) -> float:
    """IDF-weighted share of the question's terms found in ``tokens`` (a repeated term weighs more)."""
    total = sum(idf.get(t, 0.0) for t in focus)
    if total <= 0:
        return 0.0
    heads = {u[:5] for u in tokens if len(u) >= 5}
    return sum(idf.get(t, 0.0) for t in focus if t in tokens or (t[:5] in heads and _same_root(t, tokens))) / total


def _same_root(term: str, tokens: set[str]) -> bool:
    """"coastal" and "coast", "navigational" and "navig": the stemmer keeps some derived forms apart."""
    if len(term) < 5:
        return False
    return any(len(u) >= 5 and (term.startswith(u) or u.startswith(term)) for u in tokens)




_CLOSING = ".!?:;\"”’)]…"

# A document saying what it is, at the opening of a highlight (after at most two title lines): "This guide explains
# what goes in each of your bins…", "These terms apply to every membership at our clubs…". Not what it leaves out
# ("This policy does not apply to agency workers."): that answers a question.
_SELF = re.compile(r"^(?:(?:[^\n.!?]*|(?:next review|last (?:updated|reviewed|revised)|updated|reviewed|revised|version|issued"
                   r"|effective|date)\b[^\n]{0,40})\n+){0,2}\W*(this|these|the following) ((?!not\b)\w+[ -]){0,2}?(memo|guide|guidance|leaflet"
                   r"|summary|document|page|policy|handbook|booklet|notice|letter|faqs?|manual|section|report|agreement"
                   r"|licen[cs]e|terms|information|sheet|statement|newsletter|minutes|brochure|website|site|article|notes"
                   r"|instructions)s? ((?!not\b)\w+ ){0,2}?(explains?|sets? out|gives?|describes?|tells?|covers?|summari[sz]es?"
                   r"|replaces?|contains?|applies|apply|outlines?|lists?|provides?|answers?|records?)\b", re.I)
# The sentence after such a description, still about the document: "It applies to houses in the Wrenfield area.",
# "It does not replace the full licence agreement." Not whom it leaves out or limits ("It does not apply to agency
# workers.", "It only applies after 12 weeks."): that answers "Do agency staff get annual leave?".
_IT_SELF = re.compile(r"^\W*(it|they) (also )?(applies|apply|sets out|explains|covers|does not (replace|contain|form)"
                      r"|do not (replace|form))\b", re.I)


_AMOUNT = re.compile(r"[£$€¥]\s?\d|\d\s?%|\bper ?cent\b", re.I)


def shows_itself(highlight: str, best: str) -> bool:
    """The ``highlight`` (of a document's first passage) is its document describing itself (``describes_itself``),
    its ``best`` sentence being that description, the document's title shown with it, or a sentence still about
    the document ("It applies to houses…"); not a sentence of substance shown after it ("This policy tells… It was
    agreed by the governors in June 2025.")."""
    if _AMOUNT.search(best):
        return False  # "This policy covers you for up to £1,000 of legal costs." states what it describes
    titled = not best.rstrip().endswith((".", "!", "?"))
    return describes_itself(highlight) and (titled or describes_itself(best) or bool(_IT_SELF.match(best)))


def describes_itself(text: str) -> bool:
    """``text`` (a highlight) opens with its document's description of itself. Naming the document's topic and
    whom it is for, it lies close to every question about that topic ("Can I pay for my car insurance monthly?"
    and "This summary gives the key features of your car insurance"), but it answers only what the document
    covers (``Query.asks_scope``): on the labeled sets such a highlight held the answer to no other question
    (0 of 41, docs/benchmarks.md)."""
    return bool(_SELF.search(text))


_GREETING = re.compile(r"^\W*(welcome to\b|welcome[!,.]|thank you for\b|thanks for\b)", re.I)


def is_greeting(sentence: str) -> bool:
    """A document greeting its reader ("Welcome to Heatherbrook Farm, a family-run campsite…", "Thank you for
    choosing Cedar Lane Animal Hospital, 2140 Cedar Lane."). Naming the organisation, it lies close to every
    question that names it, and answers none (docs/benchmarks.md)."""
    return bool(_GREETING.match(sentence))


def opening_names(text: str) -> frozenset[str]:
    """The terms of the names a document's opening (``text``, its first passage) gives: "Welcome to Heatherbrook
    Farm, a campsite in the Tarnsdale valley." gives heatherbrook and farm. Runs of two or more capitalised
    words inside its sentences, not in its headings (often in title case), and not days, months or holidays.
    A question naming them says which document, not which of its sentences (``Composer.highlight``)."""
    said = " ".join(line for line in text.splitlines() if line.rstrip()[-1:] in ".!?:" and not line.startswith("#"))
    return frozenset(t for m in _NAME_SPAN.finditer(fold(said, lower=False)) if " " in m.group(0)
                     for t in tokenize(m.group(0)) if t not in _NOT_A_NAME)


def asking_lines(infos: list[_SentenceInfo], spans: list[tuple[int, int]], text: str, offset: int) -> list[_SentenceInfo]:
    """``infos`` with a line's opening statement marked as asking when the line is that statement and a question:
    "The charger is not working. What should I do?" is an FAQ's question whole, and the asker's problem it opens
    with answers nothing ("Membership is £30 a month. Why not try a free week? Ask at reception." still states
    its price). ``spans`` are the sentences' offsets, ``text`` the passage starting at ``offset``."""
    out = list(infos)
    for n in range(len(out) - 1):
        (a, b), (c, d) = spans[n], spans[n + 1]
        if out[n + 1].is_question and not out[n].is_question and "\n" not in text[b - offset:c - offset] \
                and whole_line(text, a - offset, d - offset):
            out[n] = replace(out[n], is_question=True)
    return out


def whole_line(text: str, a: int, b: int) -> bool:
    """The span ``a``-``b`` of ``text`` is a line on its own (as a caption or alt text stands)."""
    return (a == 0 or text[a - 1] == "\n") and (b >= len(text.rstrip()) or text[b:b + 1] == "\n" or text[b:].lstrip(" ")[:1] == "\n")


def is_caption(line: str) -> bool:
    """An image's caption or alt text that a saved web page carries into its text ("Massive energy grid
    infrastructure connected to a high-density AI data center"): a whole line of six words or more, with
    no closing punctuation, no figure, no list marker, and mostly lower-case words. It describes a
    picture and states nothing, so it never answers; a heading (mostly capitalised), a table row (figures)
    or a list item (its marker) is not one."""
    t = line.strip()
    if not t or t[-1] in _CLOSING or t[0] in "-•*·–—" or any(ch.isdigit() for ch in t):
        return False
    words = t.split()
    return len(words) >= 6 and sum(w[0].isupper() for w in words[1:]) <= 0.25 * (len(words) - 1)
