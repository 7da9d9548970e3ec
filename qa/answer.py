"""Turn retrieval hits into an answer: fold in the chat history, highlight the
answering sentence of each passage, decide whether to abstain, write the text."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Sequence

import numpy as np

from .index import Index
from .lexical import fold, stopwords, tokenize
from .retrieval import Hit
from .types import Answer, Citation, Document
from .vectors import rows

# A follow-up leans on the previous turn when it opens with a connective or
# points back with a pronoun; otherwise it is searched on its own, so that a
# change of topic is not dragged back to the old one.
_CONNECTIVE = re.compile(r"^\s*(and|but|also|so|what about|how about|then|or)\b", re.I)
# Questions whose answer is a quantity, a date or a rate: the answering sentence has a number in it.
_NUMERIC_QUESTION = re.compile(
    r"\b(how (many|much|long|far|old|tall|high|deep|wide|heavy|often)|(what|which) (percent|percentage|share|proportion|year|date|month)"
    r"|when|by how much|what (is|was|are|were) (the |its |their |\w+'s |\w+’s )?(total|number|amount|size|cost|price|budget|revenue|value))\b", re.I)
_NUMBER = re.compile(r"(?<![A-Za-z-])\d[\d,.]*|\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|hundred|thousand|million|billion|trillion|half|twice|double|triple|quarter|third|dozen)\b", re.I)
# Names and acronyms in a question ("TSMC", "India", "PhD"): capitalised words not opening the question.
_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b([A-Z][A-Za-z0-9]*[A-Z0-9][A-Za-z0-9]*|[A-Z][a-z]{2,})\b")
# Capitalised, never a name: "Is it OK to grind rice?" asks about rice, not about an "OK" (nor does a
# written answer that says "it is OK to…" name one: ``checker``).
NOT_NAMES = frozenset({"OK", "Okay", "OKAY"})
# A run of capitalised words not opening the text: "San Francisco", "United States", "Beijing".
_NAME_SPAN = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][a-z][\w-]*(?:\s+[A-Z][a-z][\w-]*)*")
# "What does E-E-A-T mean?", "What are SMRs?": the answer defines the term right after naming it.
_DEFINITION_Q = re.compile(r"^\s*what\s+(?:does|do|is|are)\s+(?:an?\s+|the\s+)?(.{2,40}?)\s*(?:mean|stand for|refer to)?\s*\?\s*$", re.I)
_ANSWER_DIV = re.compile(r'<div class="qa-answer">(.*?)</div>', re.S)  # the chat's rendered answer
_TAG = re.compile(r"<[^>]+>")
_FLAG = re.compile(r'<span class="qa-flag">.*?</span>', re.S)
_REF = re.compile(r"\[\d+\]")
# A year stated on its own ("in 2022", not "the 1990s", "2022-23" or "$2022"), and a span of years
# in the text ("2019–2023", "from 1921 to 1950", "between 1974 and 79").
_YEAR_DIGITS = r"(1[5-9]\d\d|20\d\d)"
_YEAR = re.compile(r"(?<![\d.,$£€¥/:-])" + _YEAR_DIGITS + r"(?![\d.,]\d|\d|'?s\b|\s*[-–—/]\s*\d)")
_ANY_YEAR = re.compile(r"(?<!\d)" + _YEAR_DIGITS + r"(?!\d)")
_YEAR_SPAN = re.compile(r"\b" + _YEAR_DIGITS + r"\s*(?:[-–—/]|to|until|till|through|and)\s*(\d{4}|\d{2})\b")
_LIST_NUMBER = re.compile(r"^\s*\d{1,2}[.)]\s")  # "5. Infrastructure" numbers a heading, answers nothing
# A sentence opening with a pronoun continues the previous one's subject.
_CONTINUES = re.compile(r"(They|It|This|These|Those|He|She|Its|Their)\b")
_WH_OPENING = re.compile(r"\W*(what|where|why|how|who|which|when)\b(?!\s*:)", re.I)  # "When: Saturday" is a label
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_POINTER = re.compile(r"\b(it|its|it's|they|them|their|theirs|that|those|this|these|he|him|his|she|her|there|one|ones|same|figure|number)\b", re.I)


@dataclass(frozen=True)
class AnswerSettings:
    """Abstain when the best evidence is weaker than these; tuned in bench/README.md."""

    min_sentence: float = 0.30  # cosine of the best sentence, on its own
    min_support: float = 0.42  # blend of sentence cosine and query-term coverage, less penalties
    min_support_followup: float = 0.33  # a follow-up is terse by nature; its topic was already found
    lexical_weight: float = 0.30  # weight of query-term coverage when picking the highlight
    question_penalty: float = 1.0
    heading_penalty: float = 0.1
    definition_bonus: float = 0.1
    number_penalty: float = 0.15
    max_answer_sentences: int = 2
    evidence_weight: float = 0.5  # weight of the highlight's support when ordering the citations
    rerank_depth: int = 20  # hits highlighted and re-ranked before keeping the k asked for
    locality_weight: float = 0.4  # follow-ups: bonus for evidence near the earlier answer …
    locality_scale: int = 1000  # … halved every this many characters away from it
    min_new_words: int = 2  # a highlight adding fewer words than this to the question gets its neighbour


@dataclass(frozen=True)
class Query:
    """What is searched: ``text`` is embedded; ``tokens`` go to BM25 and weigh the highlights
    (repeated tokens weigh more: a follow-up's own words count twice)."""

    question: str
    text: str
    tokens: list[str]
    previous_answer: str = ""  # a follow-up's earlier answer: the new one is most likely near it …
    previous_subject: str = ""  # … but not in a sentence about the subject the follow-up moved away from
    embedded: str = ""  # what the encoder reads, when not ``text``: a follow-up's earlier answer cut short

    @property
    def encoded(self) -> str:
        return self.embedded or self.text

    @cached_property
    def asked_numbers(self) -> frozenset[str] | None:
        """None unless the question asks for a quantity; then the numbers it states itself ("in 2024")."""
        return numbers_in(self.text) if self.wants_number else None

    @cached_property
    def stated_years(self) -> frozenset[int]:
        """The years this turn names on its own ("in 2022"): a passage that answers it names them too."""
        return frozenset(int(m.group(1)) for m in _YEAR.finditer(self.question))

    @cached_property
    def defines(self) -> re.Pattern | None:
        """For "what is X?", a pattern finding X followed by its definition ("X (…", "X is", "X, or")."""
        m = _DEFINITION_Q.match(self.question)
        if not m or not tokenize(m.group(1)) or _POINTER.fullmatch(m.group(1).strip()):
            return None  # "What is it?" asks about the conversation, not a term
        return re.compile(r"(?<!\w)" + re.escape(m.group(1)) + r"[\"”’]?\s*(\(|,? (?:is|are|means|refers|stands)\b|, or\b|: )", re.I)

    @property
    def asked(self) -> str:
        """The search text without the earlier answer: what a model reading question and passage
        together should see (the earlier answer would make it pick its own passage again)."""
        if not self.previous_answer:
            return self.text
        return " ".join(self.text.replace(self.previous_answer, " ").split())

    @property
    def is_followup(self) -> bool:
        return self.text != self.question

    @cached_property
    def wants_number(self) -> bool:
        # "What about China?" after "How many data centers…?" still asks for a number.
        return bool(_NUMERIC_QUESTION.search(self.text))

    def names(self) -> list[str]:
        """Proper names and acronyms the question is about, as index tokens."""
        return [t for name in self.name_spans for t in tokenize(name)]

    @cached_property
    def name_spans(self) -> list[str]:
        """The names as written (accents dropped): "HR", "Gulf", "Schrodinger". Computed once per
        question: every highlighted passage asks for them."""
        return [m.group(1) for m in _NAME.finditer(fold(self.question, lower=False)) if m.group(1) not in NOT_NAMES]


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Text a model can read: a lone surrogate (invalid Unicode, which the tokenizer rejects) becomes
    U+FFFD, and control characters other than tab and newline are dropped."""
    return _CONTROL.sub("", text.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))


def message_text(content: object) -> str:
    """A chat message's text: a plain string, or Gradio 6's list of parts ``[{"type": "text", "text": …}]``."""
    if isinstance(content, str):
        return clean_text(content)
    if isinstance(content, dict):
        return content.get("text", "") if isinstance(content.get("text"), str) else ""
    if isinstance(content, (list, tuple)):
        return " ".join(message_text(part) for part in content).strip()
    return ""


def last_exchange(history: list[dict] | None) -> tuple[str, str]:
    """The last user question and the assistant's reply to it (plain text; "" when none)."""
    messages = [(m.get("role"), message_text(m.get("content"))) for m in (history or [])[-50:] if isinstance(m, dict)]
    for i in range(len(messages) - 1, -1, -1):
        role, text = messages[i]
        if role == "user" and text.strip():
            reply = next((t for r, t in messages[i + 1:] if r == "assistant"), "")
            return text.strip(), plain_answer(reply)
    return "", ""


def plain_answer(reply: str) -> str:
    """An assistant reply reduced to its answer sentences: no markup, no [n], nothing if it was "not found"."""
    m = _ANSWER_DIV.search(reply)
    text = _FLAG.sub(" ", m.group(1) if m else reply)  # the checker's "⚠ not supported: …" is not the answer
    text = html.unescape(_TAG.sub(" ", text))
    text = " ".join(_REF.sub(" ", text).split())
    return "" if text.startswith("Not found") else text[:400]


_FOLDED_REPLY_CHARS = 200


def clip_words(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, at a space when one is near the end."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", limit // 2, limit + 1)
    return text[:cut if cut > 0 else limit]


def fold_history(question: str, history: list[dict] | None) -> Query:
    """Make a follow-up such as "And China's?" searchable by adding the previous turn.

    The previous question says what the conversation is about; the previous answer says
    where in the corpus it was.
    """
    focus = tokenize(question)
    before, reply = last_exchange(history)
    if before and (_CONNECTIVE.search(question) or _POINTER.search(question) or len(focus) < 3):
        swapped = swap_subject(before, question)
        if swapped:
            # "And a developer in Beijing?" after "…a San Francisco developer…?": the same question
            # about a new subject; the earlier answer is about the old one, so it is left out.
            return Query(question, f"{swapped[0]} {question}", focus * 2 + tokenize(swapped[0]), reply, swapped[1])
        # Current terms count twice: they say what is asked now; the earlier ones say about what.
        weighted = focus * 2 + tokenize(before) + tokenize(reply)
        # The encoder reads the earlier answer's start only: it says where in the corpus as well as the
        # whole does (README.md, "Reliability"), and each token more costs every follow-up (~0.15 ms here).
        embedded = " ".join(p for p in (before, clip_words(reply, _FOLDED_REPLY_CHARS), question) if p)
        return Query(question, " ".join(p for p in (before, reply, question) if p), weighted, reply, embedded=embedded)
    return Query(question, question, focus)


def swap_subject(before: str, question: str) -> tuple[str, str] | None:
    """The earlier question with its one named subject replaced by the follow-up's one new name,
    and the name replaced.

    Only when each side has exactly one such name: otherwise which replaces which is a guess.
    """
    old = [m for m in _NAME_SPAN.finditer(before) if m.group(0).lower() not in question.lower()]
    new = [m.group(0) for m in _NAME_SPAN.finditer(question) if m.group(0).lower() not in before.lower()]
    if len(old) != 1 or len(new) != 1:
        return None
    return before[:old[0].start()] + new[0] + before[old[0].end():], old[0].group(0)


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


_SENTENCES_KEPT = 100_000  # sentences whose terms the Composer keeps between questions


@dataclass
class _Evidence:
    hit: Hit
    start: int  # highlight, absolute offsets in the document
    end: int
    cosine: float
    support: float
    defines: bool = False  # the highlight defines the term a "what is X?" question asks about


class Composer:
    def __init__(self, index: Index, settings: AnswerSettings | None = None) -> None:
        self.index = index
        self.settings = settings or AnswerSettings()
        self._info: dict[tuple[str, int, int], _SentenceInfo] = {}  # filled on first use; safe to share

    def _sentence(self, source: str, start: int, text: str) -> _SentenceInfo:
        key = (source, start, len(text))
        info = self._info.get(key)
        if info is None:
            end = text.rstrip()[-1:]
            heading = end not in ".!?\"”’)" and len(text.split()) <= 12
            # "Where China Is Catching Up — and Where America Still Leads" is a question without its "?".
            asks = end == "?" or (heading and bool(_WH_OPENING.match(text)))
            if len(self._info) >= _SENTENCES_KEPT:
                self._info.clear()  # a large collection's sentences would otherwise pile up, question after question
            info = self._info[key] = _SentenceInfo(frozenset(tokenize(text)), text, asks, heading)
        return info

    def highlight(self, hit: Hit, query_vector: np.ndarray, query: Query, idf: dict[str, float],
                  cosines: np.ndarray | None = None) -> _Evidence:
        """The sentence of the passage that best answers: meaning first, then the question's words."""
        ix, s = self.index, self.settings
        focus, asked_numbers, defines = query.tokens, query.asked_numbers, query.defines
        chunk = ix.chunks[hit.chunk]
        sids = ix.chunk_sentences[hit.chunk]
        if not len(sids):
            return _Evidence(hit, chunk.start, chunk.end, hit.passage, hit.passage)
        focus_set = set(focus)
        # An acronym the corpus never writes counts as present in a sentence that spells it out.
        spelt = [(name, tokens[0]) for name in query.name_spans if _ACRONYM.fullmatch(name)
                 for tokens in [tokenize(name)] if len(tokens) == 1 and idf.get(tokens[0]) is not None
                 and not ix.lexical.doc_freq(tokens)[tokens[0]]]
        if cosines is None:
            cosines = np.asarray(ix.sentence_vectors[sids], dtype=np.float32) @ query_vector
        spans, infos = [], []
        for sid in sids:
            _, a, b, _, _ = ix.sentences[sid]
            a, b = max(int(a), chunk.start), min(int(b), chunk.end)
            spans.append((a, b))
            infos.append(self._sentence(chunk.source, a, chunk.text[a - chunk.start:b - chunk.start]))
        if spelt:
            infos = [replace(info, terms=info.terms | {t for name, t in spelt if spells_out(name, chunk.text[a - chunk.start:b - chunk.start])})
                     for info, (a, b) in zip(infos, spans)]
        scored = []
        for n, (cos, info) in enumerate(zip(cosines, infos)):
            cos, terms, first = float(cos), info.terms, n
            if n and _CONTINUES.match(chunk.text, spans[n][0] - chunk.start) and not (infos[n - 1].is_question or infos[n - 1].is_heading):
                # "They are more likely to use open models." is about the previous sentence's subject:
                # judge the two together, and show both if they win.
                cos = max(cos, (cos + float(cosines[n - 1])) / 2)
                terms, first = terms | infos[n - 1].terms, n - 1
            score = (1 - s.lexical_weight) * cos + s.lexical_weight * coverage(terms, idf, focus)
            is_definition = defines is not None and bool(defines.search(chunk.text, spans[first][0] - chunk.start, spans[n][1] - chunk.start))
            if is_definition:
                score += s.definition_bonus
            if info.is_question:
                score -= s.question_penalty  # a heading or FAQ line that asks the question never answers it
            elif info.is_heading:
                score -= s.heading_penalty
            if asked_numbers is not None and not info.numbers - asked_numbers:
                score -= s.number_penalty
            scored.append((score, spans[first][0], spans[n][1], cos, len(info.terms - focus_set), is_definition))
        i = max(range(len(scored)), key=lambda j: scored[j][0])
        score, a, b, cos, novel, is_definition = scored[i]
        if i + 1 < len(scored) and _CONTINUES.match(chunk.text, spans[i + 1][0] - chunk.start):
            # "…the AI is not just an app on a phone. It is the operating system for the city itself."
            b = spans[i + 1][1]
        if novel < s.min_new_words:
            # The sentence only restates the question ("In a major city, AI is not just an app."):
            # the answer is in the neighbour that follows or precedes it, so show both.
            neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(scored)]
            if neighbours:
                j = max(neighbours, key=lambda n: scored[n][0])
                a, b = min(a, scored[j][1]), max(b, scored[j][2])
        return _Evidence(hit, a, b, cos, score, is_definition)

    def compose(self, query: Query, query_vector: np.ndarray, hits: list[Hit], k: int | None = None,
                order: Sequence[float] | None = None) -> Answer:
        """Highlight every hit, re-rank them by evidence, keep ``k`` (default: all).

        ``query_vector`` picks the highlights: for a follow-up, the current turn weighs in it.
        ``order``, one score per hit (a cross-encoder's), replaces the evidence re-ranking.
        """
        ix, s = self.index, self.settings
        idf = _idf(ix, query.tokens)
        # Every hit's sentence cosines in one product, from one read of their vectors (a large index
        # reads them from disk): under load each numpy call gives up the interpreter lock and waits
        # to get it back, twenty times per question when taken hit by hit.
        groups = [ix.chunk_sentences[h.chunk] for h in hits]
        cosines = np.split(rows(ix.sentence_vectors, np.concatenate(groups)) @ query_vector,
                           np.cumsum([len(g) for g in groups])[:-1]) if hits else []
        evidence = [self.highlight(h, query_vector, query, idf, c) for h, c in zip(hits, cosines)]
        if order is not None:
            if len(order) != len(hits):
                raise ValueError(f"The re-ranker gave {len(order)} scores for {len(hits)} passages.")
            # The cross-encoder read each passage with the question: its order stands on its own.
            by_hit = dict(zip((id(h) for h in hits), order))
            evidence.sort(key=lambda ev: -float(by_hit[id(ev.hit)]))
        else:
            near = self.locality(query, evidence)
            # Re-rank by passage score and by how well its best sentence answers: the passage
            # that holds the answering sentence goes first, even if a neighbour matched more words.
            evidence.sort(key=lambda ev: -(ev.hit.score + s.evidence_weight * ev.support + near.get(id(ev), 0.0)))
        evidence = evidence[:k]
        citations = []
        for n, ev in enumerate(evidence, start=1):
            c = ix.chunks[ev.hit.chunk]
            citations.append(locate(Citation(
                number=n, source=c.source, title=c.title, passage=c.text, start=c.start, end=c.end,
                score=round(ev.hit.score, 4), highlight=c.text[ev.start - c.start:ev.end - c.start],
                highlight_start=ev.start - c.start,
                also_in=list(dict.fromkeys(ix.chunks[d].source for d in ev.hit.duplicates if ix.chunks[d].source != c.source)),
            ), ix.document(c.source)))
        if not evidence or self.should_abstain(query, evidence):
            return Answer(question=query.question, text=not_found_text(len(citations)), citations=citations,
                          abstained=True, query=query.text)
        return Answer(question=query.question, text=self.answer_text(evidence, citations), citations=citations,
                      abstained=False, query=query.text)

    def locality(self, query: Query, evidence: list[_Evidence]) -> dict[int, float]:
        """Follow-ups: a bonus per evidence (by ``id``) for lying near where the earlier answer was found.

        "And how much in China?" is answered beside the US figure, "And a developer in Beijing?"
        a few sentences after the San Francisco one: a conversation stays in one part of the corpus.
        Sentences naming the subject the follow-up moved away from, or sharing none of its own
        words, get nothing.
        """
        s = self.settings
        # The earlier answer reached us with its whitespace collapsed: match any run of it.
        probes = [re.compile(r"\s+".join(map(re.escape, p[:60].split())))
                  for p in _SENTENCE_END.split(query.previous_answer) if len(p) >= 20]
        if not probes or s.locality_weight <= 0:
            return {}
        anchors: dict[str, list[tuple[int, int]]] = {}
        for source in {self.index.chunks[ev.hit.chunk].source for ev in evidence}:
            for ci in self.index.chunks_of(source):
                c = self.index.chunks[ci]
                for p in probes:
                    m = p.search(c.text)
                    if m:
                        anchors.setdefault(source, []).append((c.start + m.start(), c.start + m.end()))
        old = query.previous_subject.lower()
        own = set(tokenize(query.question))  # what the follow-up itself asks about
        out = {}
        for ev in evidence:
            chunk = self.index.chunks[ev.hit.chunk]
            spans = anchors.get(chunk.source)
            if not spans:
                continue
            text = chunk.text[ev.start - chunk.start:ev.end - chunk.start]
            if old and old in text.lower():
                continue
            if own and not own & set(tokenize(text)):
                continue  # "What about Huawei's chips?" is not answered by the earlier investment figures
            gap = min(max(0, a - ev.end, ev.start - b) for a, b in spans)
            out[id(ev)] = s.locality_weight * 0.5 ** (gap / s.locality_scale)
        return out

    def should_abstain(self, query: Query, evidence: list[_Evidence]) -> bool:
        top = evidence[0]
        if top.defines:
            # "What does E-E-A-T mean?" and the corpus writes "E-E-A-T (Expertise, …)": that is the
            # answer, however little the embedding makes of a bare acronym.
            return False
        floor = self.settings.min_support_followup if query.is_followup else self.settings.min_support
        if top.cosine < self.settings.min_sentence or top.support < floor:
            return True
        chunk = self.index.chunks[top.hit.chunk]
        passage = chunk.text
        if not covers_years(query.stated_years, f"{chunk.title}\n{passage}"):
            return True  # asked about 2022, found 2023: the same kind of figure, not the one asked for
        # Asked about a name the corpus never mentions (nor anything spelt nearly like it, which
        # would be a typo): whatever matched is about something else. Unless the name is an acronym
        # the found passage spells out ("HR": "… who looks after human resources").
        lexical = self.index.lexical
        for name in query.name_spans:
            unknown = [t for t, df in lexical.doc_freq(tokenize(name)).items() if df == 0 and not lexical.near(t)]
            if unknown and not spells_out(name, passage):
                return True
        return False

    def answer_text(self, evidence: list[_Evidence], citations: list[Citation]) -> str:
        """The best highlight, then at most one more that is nearly as good and says something else."""
        parts = [f"{citations[0].highlight} [1]"]
        best = evidence[0].support
        used = {citations[0].highlight}
        for ev, cit in zip(evidence[1:], citations[1:]):
            if len(parts) >= self.settings.max_answer_sentences:
                break
            if ev.support >= 0.9 * best and cit.highlight not in used:
                parts.append(f"{cit.highlight} [{cit.number}]")
                used.add(cit.highlight)
        return " ".join(parts)


def locate(citation: Citation, doc: Document | None) -> Citation:
    """Add the reader's locators: the PDF page of the highlight (and the passage's page range)
    and the heading path above it. Both come from the same offsets, so card and API agree."""
    if doc is None:
        return citation
    at = citation.start + citation.highlight_start
    citation.kind = doc.kind
    citation.page = doc.page_at(at)
    if citation.page is not None:
        citation.pages = (doc.page_at(citation.start), doc.page_at(max(citation.start, citation.end - 1)))
    citation.section = doc.section_at(at)
    return citation


def not_found_text(n: int) -> str:
    if n == 0:
        return "Not found in the corpus: it has no passage that answers this question."
    return (f"Not found in the corpus: none of its passages answers this question. "
            f"The {n} closest passage{'s are' if n > 1 else ' is'} listed below, in case one helps.")
