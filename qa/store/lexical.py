"""BM25 over chunks (bm25s), with one tokenizer shared by index and queries."""
from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np

TOKENIZER_VERSION = 7  # bump when ``tokenize`` changes: indexes built with another version are rebuilt
_INITIALISM = re.compile(r"\b([a-z])\.([a-z])\.(?:([a-z])\.)?")
_SPELLED_OUT = re.compile(r"\b[a-z](?:-[a-z]){2,}\b")  # "e-e-a-t" is one word, "eeat"
_TOKEN = re.compile(r"[^\W_]+(?:[.,][0-9]+)*")
# An acronym's plural is the acronym: "DVDs", "GPUs", "LLMs", which the stemmer keeps apart from "DVD", "GPU", "LLM"
# (it strips an "s" only after a vowel that is not just before it); so is a lower-case word of consonants and an
# "s" ("dvds", "cds"), as people type them.
_ACRONYM_PLURAL = re.compile(r"\b([A-Z][A-Z0-9]*[A-Z])s\b")
_CONSONANTS_S = re.compile(r"[b-df-hj-np-tv-xz]{2,}s")
# A contraction's tail is not a word: "I'm", "don't", "they'll" gave the tokens "m", "don", "t", "ll", which no passage
# about the topic holds, so BM25 and the share of the question's words a sentence holds counted them as missing.
_NOT = re.compile(r"\b([a-z]+)n't\b")
_NOT_STEMS = {"wo": "will", "ca": "can", "sha": "shall"}  # "won't", "can't", "shan't"
_CLITIC = re.compile(r"(?<=[a-z])'(?:m|re|ve|ll|d)\b")
# Letters that Unicode does not decompose into a base letter and a mark.
_FOLD = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ð": "d", "ħ": "h", "ı": "i", "ŧ": "t", "ß": "ss", "æ": "ae",
                       "œ": "oe", "þ": "th", "’": "'", "Ł": "L", "Ø": "O", "Đ": "D", "Æ": "AE", "Œ": "OE", "Þ": "TH"})
_MARKS = re.compile(r"[\u0300-\u036f]")
# Chinese, Japanese and Korean are written without spaces: each character is a token.
_CJK = re.compile(r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff])")


def fold(text: str, lower: bool = True) -> str:
    """Without accents (and lower-cased): "Schrödinger", "Kraków" and "Skłodowska" are spelt both ways.

    Mojibake is repaired first (ftfy): "FamvirÂ®", UTF-8 read as Latin-1, would otherwise fold to
    the word "famvira" and no longer match "Famvir".
    """
    if text.isascii():  # nothing to repair or fold: the common case, and the cheap one
        return text.lower() if lower else text
    import ftfy

    text = ftfy.fix_encoding(text)
    text = unicodedata.normalize("NFKD", text.lower() if lower else text).translate(_FOLD)
    return unicodedata.normalize("NFC", _MARKS.sub("", text))


_local = threading.local()


def _stemmer():
    """One stemmer per thread: PyStemmer objects must not be used concurrently."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer

        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


# Lucene's list (bm25s) plus the function words of questions, which carry no topic.
_QUESTION_WORDS = """
about after again all also am any because been before being between both can could did do does doing
down during each few from further had has have having he her here hers him his how i its itself just
me more most much many my nor now off once only other our ours out over own same she should so some
than them those through too under until up very we were what when where which while who whom whose why
would you your yours tell know give show explain describe according anything something whats
""".split() + """
im ive youre youve theyre theyve weve thats theres whos wheres hows
""".split()  # contractions typed without their apostrophe, as people chat: "im", "theyre"

# The "n't" contractions typed without their apostrophe ("i dont", "my card doesnt work"): function words for
# BM25, and negations for the answer's "not" check (`qa.answer.kinds.negated`), so one list keeps them in step.
NOT_WITHOUT_APOSTROPHE = frozenset("""
dont doesnt didnt isnt arent wasnt werent cant cannot wont wouldnt couldnt shouldnt havent hasnt hadnt mustnt
""".split())


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | frozenset(_QUESTION_WORDS) | NOT_WITHOUT_APOSTROPHE


# Spelled-out forms of the acronyms that stand for them almost everywhere.
_SPELLED = re.compile(r"\bartificial intelligence\b|\bunited states\b|\bmachine learning\b|\blarge language models?\b")
_ACRONYM = {"artificial intelligence": "ai", "united states": "us", "machine learning": "ml",
            "large language model": "llm", "large language models": "llm"}


def uncontract(text: str) -> str:
    """``text`` (folded) with its contractions undone: "don't" → "do not", "I'm" → "I", "they'll" → "they". A
    possessive's "s" stays: dropping it too cost SQuAD three first passages in 2,910 (docs/benchmarks.md)."""
    if "'" not in text:
        return text
    return _CLITIC.sub("", _NOT.sub(lambda m: f"{_NOT_STEMS.get(m.group(1), m.group(1))} not", text))


# Short forms people type in a chat box, read as the word: "I've worked here 6 yrs" is about years, and is not
# told "No document uses the word “yrs”". Not "hr" (HR) nor "min" (minimum).
_SHORT = dict(pair.split(":") for pair in """
yr:year yrs:years hrs:hours mins:minutes wk:week wks:weeks mth:month mths:months appt:appointment appts:appointments
info:information govt:government dept:department tmrw:tomorrow ppl:people msg:message msgs:messages bday:birthday
approx:approximately pls:please plz:please
""".split())


def tokenize(text: str) -> list[str]:
    """Lower-case, drop accents, fold initialisms ("U.S." → "us") and spelled-out acronyms, drop
    stopwords, stem. Words in any alphabet are kept; Chinese, Japanese and Korean characters are one token each."""
    text = _INITIALISM.sub(lambda m: "".join(g for g in m.groups() if g), uncontract(fold(_ACRONYM_PLURAL.sub(r"\1", text))))
    if not text.isascii():
        text = _CJK.sub(r" \1 ", text)
    text = _SPELLED.sub(lambda m: _ACRONYM[m.group(0)], text)
    text = _SPELLED_OUT.sub(lambda m: m.group(0).replace("-", ""), text)
    stop = stopwords()
    words = [_SHORT.get(w) or (w[:-1] if _CONSONANTS_S.fullmatch(w) else w) for w in _TOKEN.findall(text) if w not in stop]
    return _stemmer().stemWords(words)


class Lexical:
    """A BM25 index whose ``scores`` returns one score per chunk."""

    def __init__(self, bm25) -> None:
        self._bm25 = bm25
        self.num_docs = int(bm25.scores["num_docs"])
        self._vocab: Spellings | None = None  # built on first use of ``near``

    @classmethod
    def build(cls, texts: list[str]) -> "Lexical":
        return cls.from_tokens([tokenize(t) for t in texts])

    @classmethod
    def from_tokens(cls, tokens: list[list[str]]) -> "Lexical":
        """From already tokenized chunks: an update re-tokenizes only the chunks it adds."""
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs each build at DEBUG

        bm25 = bm25s.BM25()
        bm25.index([t or [""] for t in tokens] or [[""]], show_progress=False)
        return cls(bm25)

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> "Lexical":
        import bm25s

        return cls(bm25s.BM25.load(str(folder), show_progress=False, verbosity=0))

    def known(self, tokens: list[str]) -> list[str]:
        vocab = self._bm25.vocab_dict
        return [t for t in tokens if t and t in vocab]

    def scores(self, tokens: list[str]) -> np.ndarray:
        known = self.known(tokens)
        if not known:
            return np.zeros(self.num_docs, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)

    def near(self, token: str, cutoff: float = 0.86) -> str | None:
        """A vocabulary term spelt nearly like ``token`` ("parisien" → "parisian"), if any."""
        if self._vocab is None:
            self._vocab = Spellings(self._bm25.vocab_dict)
        return near_term(token, self._vocab, cutoff)

    def idf(self, tokens: list[str]) -> dict[str, float]:
        """BM25's (Lucene's) IDF of each distinct token; a token no chunk has gets the highest."""
        return bm25_idf(self.num_docs, self.doc_freq(sorted(set(tokens))))

    def doc_freq(self, tokens: list[str]) -> dict[str, int]:
        """How many chunks contain each token (0 when unseen)."""
        indptr = self._bm25.scores["indptr"]
        vocab = self._bm25.vocab_dict
        return {t: int(indptr[vocab[t] + 1] - indptr[vocab[t]]) if t in vocab else 0 for t in tokens}


def bm25_idf(num_docs: int, doc_freq: dict[str, int]) -> dict[str, float]:
    """Lucene's BM25 IDF (bm25s's default method) of each term."""
    n = max(1, num_docs)
    return {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in doc_freq.items()}


K1, B = 1.5, 0.75  # bm25s's defaults (method "lucene"), which the index uses


def bm25_score(query: list[str], terms: list[str], idf: dict[str, float], avgdl: float) -> float:
    """BM25 (Lucene's form, as bm25s computes it) of one tokenized passage; ``idf`` holds the
    query terms the collection has (the others score nothing)."""
    tf: dict[str, int] = {}
    for t in terms:
        tf[t] = tf.get(t, 0) + 1
    norm = K1 * (1 - B + B * len(terms) / max(avgdl, 1e-9))
    return sum(idf[t] * tf[t] / (tf[t] + norm) for t in query if t in idf and t in tf)


class Spellings:
    """A vocabulary by word length. Two words of lengths a and b can be no more similar (difflib's
    ratio) than 2·min(a, b)/(a + b), so a near spelling is looked for among the words whose length
    allows it: the same answer as searching them all, a fraction of the time in a large collection."""

    def __init__(self, words) -> None:
        self.by_length: dict[int, list[str]] = {}
        for w in words:
            if w:
                self.by_length.setdefault(len(w), []).append(w)

    def within(self, n: int, cutoff: float) -> list[str]:
        lo, hi = math.floor(n * cutoff / (2 - cutoff)), math.ceil(n * (2 - cutoff) / cutoff)
        return [w for length in range(lo, hi + 1) for w in self.by_length.get(length, ())]


def near_term(token: str, vocabulary: "list[str] | Spellings", cutoff: float = 0.86) -> str | None:
    """A vocabulary term spelt nearly like ``token`` ("parisien" → "parisian"), if any.

    Words of six or seven letters get one letter of slack whatever ``cutoff`` says ("ascend" →
    "ascent": one changed letter in six is a similarity of only 0.83); shorter ones get none, or
    every acronym would be a typo of another ("tsmc" → "smic").
    """
    import difflib

    if len(token) < 4:
        return None
    slack = 1 - 1 / len(token) - 0.01 if len(token) >= 6 else 1.0
    cutoff = min(cutoff, slack)
    if isinstance(vocabulary, Spellings):
        vocabulary = vocabulary.within(len(token), cutoff)
    close = difflib.get_close_matches(token, vocabulary, n=1, cutoff=cutoff)
    return close[0] if close else None


class TermStats:
    """A collection's term statistics without a BM25 index: what highlighting and abstention read
    (IDF, document frequency, near spellings) when the ranking itself is done elsewhere (Milvus),
    and BM25 of a few given passages, by the same formula as ``Lexical``."""

    def __init__(self, df: dict[str, int], num_docs: int, avgdl: float) -> None:
        self.df, self.num_docs, self.avgdl = df, num_docs, avgdl
        self._vocab: Spellings | None = None

    def to_dict(self) -> dict:
        return {"num_docs": self.num_docs, "avgdl": self.avgdl, "df": self.df}

    @classmethod
    def from_dict(cls, d: dict) -> "TermStats":
        return cls(dict(d["df"]), int(d["num_docs"]), float(d["avgdl"]))

    @classmethod
    def from_tokens(cls, tokens: list[list[str]]) -> "TermStats":
        df: dict[str, int] = {}
        for t in tokens:
            for term in set(t):
                df[term] = df.get(term, 0) + 1
        df.pop("", None)
        return cls(df, len(tokens), sum(map(len, tokens)) / max(1, len(tokens)))

    def known(self, tokens: list[str]) -> list[str]:
        return [t for t in tokens if t and t in self.df]

    def doc_freq(self, tokens: list[str]) -> dict[str, int]:
        return {t: self.df.get(t, 0) for t in tokens}

    def idf(self, tokens: list[str]) -> dict[str, float]:
        return bm25_idf(self.num_docs, self.doc_freq(sorted(set(tokens))))

    def near(self, token: str, cutoff: float = 0.86) -> str | None:
        if self._vocab is None:
            self._vocab = Spellings(self.df)
        return near_term(token, self._vocab, cutoff)

    def bm25(self, query: list[str], passages: list[list[str]]) -> np.ndarray:
        """BM25 of each tokenized passage for the query, as ``Lexical.scores`` gives it."""
        idf = self.idf(self.known(query))
        return np.fromiter((bm25_score(query, terms, idf, self.avgdl) for terms in passages), dtype=np.float32, count=len(passages))
