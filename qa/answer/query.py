"""The question as asked: its form (a quantity? a year? a definition?), the names it gives, and the chat
history folded in when it is a follow-up."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from functools import cached_property

from qa.answer.evidence import _NAME_SPAN, _YEAR_DIGITS, numbers_in
from qa.answer.ages import asker_ages
from qa.answer.judge import is_yes_no
from qa.answer.kinds import asks_consequence, asks_for, given_names, states
from qa.store.lexical import fold, tokenize

# A follow-up leans on the previous turn when it opens with a connective or
# points back with a pronoun; otherwise it is searched on its own, so that a
# change of topic is not dragged back to the old one.
_CONNECTIVE = re.compile(r"^\s*(and|but|also|so|what about|how about|then|or)\b", re.I)
# Questions whose answer is a quantity, a date or a rate: the answering sentence has a number in it.
_NUMERIC_QUESTION = re.compile(
    r"\b(how (many|much|long|far|old|tall|high|deep|wide|heavy|often)|(what|which) (percent|percentage|share|proportion|year|date|month)"
    r"|when|by how much|what (is|was|are|were) (the |its |their |\w+'s |\w+’s )?(total|number|amount|size|cost|price|budget|revenue|value))\b", re.I)
# Names and acronyms in a question ("TSMC", "India", "PhD"): capitalised words not opening the question.
_NAME = re.compile(r"(?<!^)(?<![.?!]\s)\b([A-Z][A-Za-z0-9]*[A-Z0-9][A-Za-z0-9]*|[A-Z][a-z]{2,})\b")
# Capitalised, never a name: "Is it OK to grind rice?" asks about rice, not about an "OK" (nor does a
# written answer that says "it is OK to…" name one: ``checker``).
NOT_NAMES = frozenset({"OK", "Okay", "OKAY"})
# "What does E-E-A-T mean?", "What are SMRs?": the answer defines the term right after naming it.
_DEFINITION_Q = re.compile(r"^\s*what\s+(?:does|do|is|are)\s+(?:an?\s+|the\s+)?(.{2,40}?)\s*(?:mean|stand for|refer to)?\s*\?\s*$", re.I)
_ANSWER_DIV = re.compile(r'<div class="qa-answer">(.*?)</div>', re.S)  # the chat's rendered answer
_TAG = re.compile(r"<[^>]+>")
_FLAG = re.compile(r'<span class="qa-flag">.*?</span>', re.S)
_REF = re.compile(r"\[\d+\]")
# A year stated on its own ("in 2022", not "the 1990s", "2022-23" or "$2022"), and a span of years
# in the text ("2019–2023", "from 1921 to 1950", "between 1974 and 79").
_YEAR = re.compile(r"(?<![\d.,$£€¥/:-])" + _YEAR_DIGITS + r"(?![\d.,]\d|\d|'?s\b|\s*[-–—/]\s*\d)")
# A sentence opening with a pronoun continues the previous one's subject.
_CONTINUES = re.compile(r"(They|It|This|These|Those|He|She|Its|Their)\b")
# A sentence opening with a connective that points back ("However, …", "Instead, …", "After that, …", "If not, …")
# goes on from the one before: when that one is shown, so is it. (Judged with it too, as a pronoun's is, it cost SQuAD
# a first passage and answered 7 more of its unanswerable questions.)
_GOES_ON = re.compile(r"(However(?=,)|Instead(?! of)|Even so|Otherwise|If so|If not|In that case|After that|At these|At that|Then|But"
                      r"|As a result(?! of))\b")
_CONDITION = re.compile(r"(If|Unless)\b")  # a sentence saying what follows in a case: "If it comes back with less fuel, …"
_WH_OPENING = re.compile(r"\W*(what|where|why|how|who|which|when)\b(?!\s*:)", re.I)  # "When: Saturday" is a label
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_POINTER = re.compile(r"\b(it|its|it's|they|them|their|theirs|that|those|this|these|he|him|his|she|her|there|one|ones|same|figure|number)\b", re.I)


# Whom or what a document covers: "does it apply to me", "does the policy cover contractors", "who is this guide
# for", "am I eligible", "does it include part-timers", "what is this document about"
_SCOPE = re.compile(r"\b(appl(y|ies)|cover(s|ed)?|meant for|intended for|for whom|eligible|includ(e|es|ed|ing)|for me\b"
                    r"|who(?:'s|’s| is| are)\s+(?:\w+\s+){0,2}for\b|what(?:'s|’s| is) (?:this|it) (?:\w+ )?about|what is this)\b", re.I)


@dataclass(frozen=True)
class AnswerSettings:
    """Abstain when the best evidence is weaker than these; tuned in bench/README.md."""

    min_sentence: float = 0.30  # cosine of the best sentence, on its own
    min_support: float = 0.42  # blend of sentence cosine and query-term coverage, less penalties
    min_support_followup: float = 0.33  # a follow-up is terse by nature; its topic was already found
    lexical_weight: float = 0.30  # weight of query-term coverage when picking the highlight
    question_penalty: float = 1.0
    heading_penalty: float = 0.1
    greeting_penalty: float = 0.2  # "Welcome to …", "Thank you for choosing …" (``evidence.is_greeting``)
    caption_penalty: float = 1.0  # an image's caption (``evidence.is_caption``) is never the answering sentence
    definition_bonus: float = 0.1
    number_penalty: float = 0.15
    title_is_self: bool = True  # a title line closest in its passage gives way to the passage's best other sentence …
    title_penalty: float = 0.3  # … its passage goes back this much in the order (``Composer.highlight``)
    self_penalty: float = 1.0  # off the order of a passage whose highlight is its document describing itself: after the rest
    kind_penalty: float = 0.05  # a sentence stating nothing of the kind asked (no price for "how much is…?")
    max_answer_sentences: int = 2  # highlights a reply states: the best, and one nearly as good …
    runner_up_share: float = 0.9  # … whose support is at least this share of the best one's
    evidence_weight: float = 0.5  # weight of the highlight's support when ordering the citations
    rerank_depth: int = 20  # hits highlighted and re-ranked before keeping the k asked for
    locality_weight: float = 0.4  # follow-ups: bonus for evidence near the earlier answer …
    locality_scale: int = 1000  # … halved every this many characters away from it
    min_new_words: int = 2  # a highlight adding fewer words than this to the question gets its neighbour
    age_bonus: float = 0.10  # a sentence whose age range holds the asker's age (``ages``); half for a yes/no question's excluding range
    faq_weight: float = 0.5  # an FAQ answer's sentence is judged with this share of its question line's cosine
    tie_margin: float = 0.10  # a neighbouring sentence scoring within this of the best is shown with it


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
    absent: tuple[str, ...] = ()  # its rarer words the collection has nothing for (``related``): "sauna"

    @property
    def encoded(self) -> str:
        return self.embedded or self.text

    @cached_property
    def asked_numbers(self) -> frozenset[str] | None:
        """None unless the question asks for a quantity; then the numbers it states itself ("in 2024")."""
        return numbers_in(self.text) if self.wants_number else None

    @cached_property
    def kind(self) -> str | None:
        """What this turn asks for: "money", "time", "person"… (``kinds.asks_for``), or None."""
        return asks_for(self.question)

    @cached_property
    def given_names(self) -> frozenset[str]:
        """For a question asking for a name, the names it gives itself, which do not answer it
        (``kinds.given_names``); otherwise none."""
        return given_names(self.question) if self.kind == "name" else frozenset()

    @cached_property
    def asks_scope(self) -> bool:
        """This turn asks whom or what a document covers ("I'm a contractor. Does the holiday policy cover me?",
        "Does this guide apply to flats?"), which its description of itself answers (``evidence.describes_itself``)."""
        return bool(_SCOPE.search(self.question))

    def stated_by(self, text: str) -> bool:
        """``text`` states the kind of thing this turn asks for (``kinds.states``); True if it asks none."""
        return not self.kind or states(self.kind, text, self.given_names)

    @cached_property
    def asks_consequence(self) -> bool:
        """This turn asks what happens (if …) (``kinds.asks_consequence``): the rule's next sentence may say."""
        return asks_consequence(self.question)

    @cached_property
    def yes_no(self) -> bool:
        """This turn asks yes or no (``judge.is_yes_no``): read once, by every highlight and the judgement."""
        return is_yes_no(self.question)

    @cached_property
    def ages(self) -> frozenset[int]:
        """The ages this turn gives for whom it asks ("I'm 67", "my 14-year-old"): ``ages.asker_ages``."""
        return asker_ages(self.question)

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
        # whole does (docs/reliability.md), and each token more costs every follow-up (~0.15 ms here).
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


