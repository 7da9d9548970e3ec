"""Turn retrieval hits into an answer: highlight the answering sentence of each passage, decide
whether to abstain, write the text."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from qa.answer.ages import age_fit
from qa.answer.evidence import (_ACRONYM, _idf, _SentenceInfo, asking_lines, coverage, covers_years, is_caption,
                                is_greeting, opening_names, shows_itself, spells_out, whole_line)
from qa.answer.judge import Verdict, judge, off_topic
from qa.answer.kinds import asking_sentence, negated
from qa.answer.query import _CONDITION, _CONTINUES, _GOES_ON, _SENTENCE_END, _WH_OPENING, AnswerSettings, Query
from qa.answer.replies import not_found_text, tentative_text
from qa.answer.retrieval import Hit
from qa.store import Index
from qa.store.lexical import fold, tokenize
from qa.store.vectors import rows
from qa.types import Answer, Citation, Document

_SENTENCES_KEPT = 100_000  # sentences whose terms the Composer keeps between questions
_NAMES_KEPT = 10_000  # documents whose opening names the Composer keeps between questions
_ITEM_MARKS = "-•*·–"  # what opens a list item, as the readers write it
RUNNERS_READ = 3  # "not found" needs the best evidence and the ones after it up to here far from the question


@dataclass
class _Evidence:
    hit: Hit
    start: int  # highlight, absolute offsets in the document
    end: int
    cosine: float
    support: float
    defines: bool = False  # the highlight defines the term a "what is X?" question asks about
    lacks_kind: bool = False  # the highlight states nothing of the kind asked (``kinds``)
    about_itself: bool = False  # the highlight is its document describing itself, and the question asks not that
    title_first: bool = False  # the passage's closest line was its document's title: the next best is shown instead


class Composer:
    def __init__(self, index: Index, settings: AnswerSettings | None = None) -> None:
        self.index = index
        self.settings = settings or AnswerSettings()
        self._info: dict[tuple[str, int, int], _SentenceInfo] = {}  # filled on first use; safe to share
        self._names: dict[str, frozenset[str]] = {}  # likewise, per document (``document_names``)

    def document_names(self, source: str) -> frozenset[str]:
        """``evidence.opening_names`` of a document's first passage, kept between questions."""
        names = self._names.get(source)
        if names is None:
            ids = self.index.chunks_of(source)
            names = opening_names(self.index.chunks[ids.start].text) if len(ids) else frozenset()
            if len(self._names) >= _NAMES_KEPT:
                self._names.clear()
            self._names[source] = names
        return names

    def _sentence(self, source: str, start: int, text: str) -> _SentenceInfo:
        key = (source, start, len(text))
        info = self._info.get(key)
        if info is None:
            end = text.rstrip().rstrip("*_").rstrip()[-1:]  # "**Q: Can I bring my bike?**" ends with its "?"
            # a short line without a closing stop, or a Markdown heading whatever ends it ("## The dock won't lock my bike.");
            # not a list item, which states without one ("- No diving in the shallow end"; a table row still is one)
            item = text.lstrip()[:1] in _ITEM_MARKS
            heading = text.startswith("#") or (not item and end not in ".!?\"”’)" and len(text.split()) <= 12)
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
            return _Evidence(hit, chunk.start, chunk.end, hit.passage, hit.passage,
                             lacks_kind=not query.stated_by(chunk.text))
        focus_set = set(focus)
        # The question's words that name the document ("… at Heatherbrook Farm?") tell which document, not which of
        # its sentences: every sentence of it has them, or its greeting ("Welcome to Heatherbrook Farm") wins.
        named = focus_set & self.document_names(chunk.source)
        # An acronym the corpus never writes counts as present in a sentence that spells it out.
        spelt = [(name, tokens[0]) for name in query.name_spans if _ACRONYM.fullmatch(name)
                 for tokens in [tokenize(name)] if len(tokens) == 1 and idf.get(tokens[0]) is not None
                 and not ix.lexical.doc_freq(tokens)[tokens[0]]]
        if cosines is None:
            cosines = np.asarray(ix.sentence_vectors[sids], dtype=np.float32) @ query_vector
        spans, infos, clipped = [], [], set()
        for n, sid in enumerate(sids):
            _, a, b, _, _ = ix.sentences[sid]
            if int(a) < chunk.start or int(b) > chunk.end:
                clipped.add(n)  # a sentence the passage holds only part of
            a, b = max(int(a), chunk.start), min(int(b), chunk.end)
            spans.append((a, b))
            infos.append(self._sentence(chunk.source, a, chunk.text[a - chunk.start:b - chunk.start]))
        if spelt:
            infos = [replace(info, terms=info.terms | {t for name, t in spelt if spells_out(name, chunk.text[a - chunk.start:b - chunk.start])})
                     for info, (a, b) in zip(infos, spans)]
        infos = asking_lines(infos, spans, chunk.text, chunk.start)
        scored, asked = [], None  # asked: the FAQ question line the paragraph being read answers …
        asked_cos, asked_terms = 0.0, frozenset()  # … its cosine and terms (of both its sentences, if it has two)
        for n, (cos, info) in enumerate(zip(cosines, infos)):
            cos, terms, first = float(cos), info.terms, n
            new_line = n > 0 and "\n" in chunk.text[spans[n - 1][1] - chunk.start:spans[n][0] - chunk.start]
            if info.is_question or info.is_heading:
                # "The charger is not working. What should I do?" asks in two sentences: the closer one counts
                joined = info.is_question and asked == n - 1 and not new_line
                asked_cos, asked_terms = (max(asked_cos, cos), asked_terms | terms) if joined else (cos, terms)
                asked = n if info.is_question else None
            elif asked is not None and n - 1 != asked and new_line:
                asked = None  # a new paragraph: the answer below the question has ended
            if n and _CONTINUES.match(chunk.text, spans[n][0] - chunk.start) and not (infos[n - 1].is_question or infos[n - 1].is_heading):
                # "They are more likely to use open models." is about the previous sentence's subject:
                # judge the two together, and show both if they win.
                cos = max(cos, (cos + float(cosines[n - 1])) / 2)
                terms, first = terms | infos[n - 1].terms, n - 1
            elif asked is not None and asked != n:
                # An FAQ's answer, the paragraph below its own question ("Q: Can I share my baggage allowance?"
                # "A: Yes. Allowances can be pooled…"): the document's question says what these sentences answer.
                cos = max(cos, (1 - s.faq_weight) * cos + s.faq_weight * asked_cos)
                terms = terms | asked_terms
            score = (1 - s.lexical_weight) * cos + s.lexical_weight * coverage(terms | named, idf, focus)
            is_definition = defines is not None and bool(defines.search(chunk.text, spans[first][0] - chunk.start, spans[n][1] - chunk.start))
            if is_definition:
                score += s.definition_bonus
            if info.is_question:
                score -= s.question_penalty  # a heading or FAQ line that asks the question never answers it
            elif whole_line(chunk.text, spans[n][0] - chunk.start, spans[n][1] - chunk.start) and is_caption(info.text):
                score -= s.caption_penalty  # a picture's caption describes it: it answers nothing
            elif info.is_heading:
                score -= s.heading_penalty
            elif is_greeting(info.text):
                score -= s.greeting_penalty  # "Welcome to Heatherbrook Farm…" names the place and answers nothing
            if asked_numbers is not None and not info.numbers - asked_numbers:
                score -= s.number_penalty
            if query.ages and s.age_bonus:
                fit = age_fit(query.ages, info.text)
                score += s.age_bonus if fit > 0 else s.age_bonus / 2 if fit < 0 and query.yes_no else 0.0
            scored.append((score, spans[first][0], spans[n][1], cos, len(info.terms - focus_set), is_definition))
        i = self._best(scored, query, chunk)
        # A title ("# Hollins Farm campsite: rules for campers") names its document, and answers nothing: show the best other.
        opening = not query.asks_scope and hit.chunk == ix.chunks_of(chunk.source).start
        title = opening and i == 0 and s.title_is_self and infos[0].is_heading and spans[0][0] == chunk.start
        title_first = title and len(scored) > 1
        if title_first:
            scored[0] = (float("-inf"), *scored[0][1:])
            i = self._best(scored, query, chunk)
        score, a, b, cos, novel, is_definition = scored[i]
        after = (i + 1 < len(scored) and i + 1 not in clipped and not (infos[i + 1].is_question or infos[i + 1].is_heading)
                 and "\n\n" not in chunk.text[spans[i][1] - chunk.start:spans[i + 1][0] - chunk.start])  # in the same paragraph
        if i + 1 < len(scored) and _CONTINUES.match(chunk.text, spans[i + 1][0] - chunk.start):
            # "…the AI is not just an app on a phone. It is the operating system for the city itself."
            b = spans[i + 1][1]
        elif after and _GOES_ON.match(chunk.text, spans[i + 1][0] - chunk.start):
            b = spans[i + 1][1]  # "We will not brush out heavy matting." "Instead, we will clip the coat short…"
        elif after and query.asks_consequence and _CONDITION.match(chunk.text, spans[i + 1][0] - chunk.start):
            b = spans[i + 1][1]  # "What happens if…?": "You should bring it back full." "If it comes back with less fuel, …"
        if novel < s.min_new_words:
            # The sentence only restates the question ("In a major city, AI is not just an app."):
            # the answer is in the neighbour that follows or precedes it, so show both.
            neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(scored) and scored[j][0] > float("-inf")]  # not a title passed over
            if neighbours:
                j = max(neighbours, key=lambda n: scored[n][0])
                a, b = min(a, scored[j][1]), max(b, scored[j][2])
        elif s.tie_margin > 0:
            j = self._tied_neighbour(scored, infos, i, query, chunk, clipped)
            if j is not None:
                a, b = min(a, scored[j][1]), max(b, scored[j][2])
        text = chunk.text[a - chunk.start:b - chunk.start]
        # A document describes itself at its opening (its first passage), often with a date or a name
        # ("…in Brief (2025-26)", "Fenwick & Hale Ltd"): not by the kind asked, which it may state.
        about_itself = opening and (shows_itself(text, infos[i].text) or title and not title_first)  # or a title alone
        return _Evidence(hit, a, b, cos, score, is_definition, not query.stated_by(text), about_itself, title_first)

    def _tied_neighbour(self, scored: list[tuple], infos: list, i: int, query: Query, chunk,
                        clipped: set[int]) -> int | None:
        """The sentence beside the best one when the evidence cannot tell them apart (within ``tie_margin``):
        "Route 99 Airport Express runs every 20 minutes…" and "The fare is $5 each way." are both about the
        airport bus, and showing the two costs the reader one sentence where choosing costs the answer."""
        best, tied = scored[i][0] - self.settings.tie_margin, []
        for j in (i - 1, i + 1):
            if not 0 <= j < len(scored) or infos[j].is_question or infos[j].is_heading:
                continue
            if j in clipped:
                continue  # it runs past the passage's edge: only part of it would be shown
            score = self._with_kind(scored[j], query, chunk)
            if score >= best:
                tied.append((score, j))
        return max(tied)[1] if tied else None

    def _with_kind(self, entry: tuple, query: Query, chunk) -> float:
        """A scored sentence's score (``entry``: score, start, end, …), less ``kind_penalty`` when it states
        nothing of the kind the ``query`` asks for."""
        score, a, b = entry[:3]
        if not query.stated_by(chunk.text[a - chunk.start:b - chunk.start]):
            score -= self.settings.kind_penalty
        return score

    def _best(self, scored: list[tuple], query: Query, chunk) -> int:
        """The index of the best of ``scored`` (score, start, end, …), a sentence that states nothing of the
        kind the ``query`` asks for losing ``kind_penalty``. Only sentences that could still win are read
        for their kind, best first: two or three per passage rather than all."""
        if not query.kind:
            return max(range(len(scored)), key=lambda j: scored[j][0])
        order = sorted(range(len(scored)), key=lambda j: -scored[j][0])
        best, best_score = order[0], float("-inf")
        for j in order:
            if scored[j][0] <= best_score:
                break
            score = self._with_kind(scored[j], query, chunk)
            if score > best_score:
                best, best_score = j, score
        scored[best] = (best_score, *scored[best][1:])
        return best

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
            # The cross-encoder read each passage with the question: its order stands on its own (a document
            # describing itself, or one whose title was closest, is not moved back; first, it is never stated).
            by_hit = dict(zip((id(h) for h in hits), order))
            evidence.sort(key=lambda ev: -float(by_hit[id(ev.hit)]))
        else:
            near = self.locality(query, evidence)
            # Re-rank by passage score and by how well its best sentence answers: the passage
            # that holds the answering sentence goes first, even if a neighbour matched more words.
            # A document describing itself ("This summary gives the key features of your car insurance.") is
            # close to every question on its topic and answers none but what it covers: its passage goes after;
            # one whose title was closest goes back a little (a short page's one passage may still answer).
            evidence.sort(key=lambda ev: -(ev.hit.score + s.evidence_weight * ev.support + near.get(id(ev), 0.0)
                                           - s.self_penalty * ev.about_itself - s.title_penalty * ev.title_first))
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
        if not evidence:
            return Answer(question=query.question, text=not_found_text("Nothing in the documents is about this."),
                          abstained=True, query=query.text, reason="Nothing in the documents is about this.")
        verdict = self.judgement(query, evidence, idf)
        if verdict.outcome == "not found":
            text = not_found_text(verdict.reason, len(citations))
        elif verdict.outcome == "tentative":
            text = tentative_text(verdict.reason, citations[0], self.nearly_as_good(evidence, citations))
        else:
            text = self.answer_text(evidence, citations)
        return Answer(question=query.question, text=text, citations=citations, abstained=verdict.outcome == "not found",
                      query=query.text, tentative=verdict.outcome == "tentative", confidence=round(verdict.confidence, 4),
                      reason=verdict.reason, signals=verdict.signals)

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

    def judgement(self, query: Query, evidence: list[_Evidence], idf: dict[str, float] | None = None) -> Verdict:
        """Answered, tentative or not found (``judge``), from the signals of the best evidence. ``idf``: the
        question's term weights, when the caller has them (``compose`` does)."""
        top = evidence[0]
        chunk = self.index.chunks[top.hit.chunk]
        passage = chunk.text
        # A name the corpus never mentions (nor anything spelt nearly like it, which would be a typo) is
        # one the documents say nothing of, unless it is an acronym the passage spells out ("HR": "…
        # who looks after human resources").
        lexical = self.index.lexical
        # A name in the frame before the question ("I'm going to a conference in Lisbon. Whose approval do I
        # need?") says where the asker is, not what is asked: only the asking sentence's names count.
        asking = fold(asking_sentence(query.question), lower=False)
        unknown = [name for name in query.name_spans if name in asking
                   and [t for t, df in lexical.doc_freq(tokenize(name)).items() if df == 0 and not lexical.near(t)]
                   and not spells_out(name, passage)]
        idf = idf if idf is not None else _idf(self.index, query.tokens)
        yes_no = query.yes_no
        signals = {
            "support": top.support, "cosine": top.cosine, "passage": top.hit.passage, "lexical": top.hit.lexical,
            "lead": top.support - (evidence[1].support if len(evidence) > 1 else 0.0), "fused": top.hit.score,
            "gap": top.hit.score - max((ev.hit.score for ev in evidence[1:]), default=0.0),
            # the IDF-weighted share of the question's terms the best passage holds (its title included)
            "terms": _terms(chunk, idf, query),
            "yes_no": float(yes_no), "unknown_name": float(bool(unknown)),
            "years_missing": float(not covers_years(query.stated_years, f"{chunk.title}\n{passage}")),
            "kind_missing": float(top.lacks_kind),
            # "Is there a sauna?": a rarer word of the question that no passage holds, nor any word like it. Not a
            # confidence feature (not in judge.FEATURES: fitted, it changed nothing); it names what is missing
            "absent_word": float(bool(query.absent)),
            # "Who is the practice manager?" answered by a sentence naming nobody (an address, a team)
            "name_missing": float(query.kind == "name" and top.lacks_kind),
            # "Can I pay monthly?" answered by "This summary gives the key features of your car insurance."
            "about_itself": float(top.about_itself),
            # the passage's closest line was its title: the sentence shown instead was the best of the rest
            "title_first": float(top.title_first),
            # "Which towns are not supplied?" (not "Isn't the bus free?", a yes/no question said the other way)
            "negation_unmatched": float(negated(query.question) and not yes_no
                                        and not negated(passage[top.start - chunk.start:top.end - chunk.start])),
        }
        if off_topic(top.hit.passage, top.cosine, signals["terms"]):
            # "not found" is said only when the next evidence is far too (not a confidence feature)
            signals["runner_on_topic"] = float(any(not self._off_topic(ev, query, idf) for ev in evidence[1:RUNNERS_READ]))
        return judge(signals, unknown, top.defines, list(query.absent))

    def _off_topic(self, ev: _Evidence, query: Query, idf: dict[str, float]) -> bool:
        """``judge.off_topic`` for evidence other than the best."""
        chunk = self.index.chunks[ev.hit.chunk]
        return off_topic(ev.hit.passage, ev.cosine, _terms(chunk, idf, query))

    def answer_text(self, evidence: list[_Evidence], citations: list[Citation]) -> str:
        """The best highlight, then at most one more that is nearly as good and says something else."""
        return " ".join(f"{c.highlight} [{c.number}]" for c in [citations[0], *self.nearly_as_good(evidence, citations)])

    def nearly_as_good(self, evidence: list[_Evidence], citations: list[Citation]) -> list[Citation]:
        """The citations after the first whose highlight is nearly as good (``runner_up_share`` of its support)
        and says something else, up to ``max_answer_sentences`` in all: an answer states them too, and a
        tentative one shows the next closest, which holds the answer for one in ten of them (docs/benchmarks.md)."""
        best, s = evidence[0].support, self.settings
        shown, more = [citations[0].highlight], []
        for ev, cit in zip(evidence[1:], citations[1:]):
            if len(more) + 1 >= s.max_answer_sentences:
                break
            if ev.about_itself or ev.title_first:
                continue  # a document's description of itself (or what stood in for its title) is no second answer
            if ev.support >= s.runner_up_share * best and not any(cit.highlight in h or h in cit.highlight for h in shown):
                more.append(cit)
                shown.append(cit.highlight)
        return more


def _terms(chunk, idf: dict[str, float], query: Query) -> float:
    """The IDF-weighted share of the question's terms a passage holds, its title included."""
    return coverage(set(tokenize(f"{chunk.title}\n{chunk.text}")), idf, query.tokens)


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
