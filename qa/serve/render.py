"""An answer as the chat shows it: the text with its [n] links, and a card per cited passage (source,
title, page, position; the answering sentence highlighted; a link to the original file)."""
from __future__ import annotations

import html
from dataclasses import replace
from urllib.parse import quote

from qa.types import Answer, Citation

FILE_ROUTE = "/qa/file"  # the original of a cited document: corpus files and the visitor's own uploads only
CSS = """
.qa-answer { font-size: 1.02rem; line-height: 1.55; }
.qa-unsupported { text-decoration: underline wavy #dc2626; text-decoration-skip-ink: none; }
.qa-flag { color: #dc2626; font-size: .8rem; margin-left: .2rem; }
.qa-notice { font-size: .85rem; opacity: .8; margin-top: .3rem; }
.qa-tentative { border-left: 4px solid #ca8a04; padding: .3rem .7rem; background: rgba(202,138,4,.08); border-radius: 6px; margin-top: .3rem; font-size: .9rem; }
.qa-notfound { border-left: 4px solid #d97706; padding: .4rem .7rem; background: rgba(217,119,6,.08); border-radius: 6px; }
.qa-cards { display: flex; flex-direction: column; gap: .5rem; margin-top: .6rem; }
.qa-card { border: 1px solid rgba(128,128,128,.35); border-radius: 8px; padding: .5rem .7rem; }
.qa-card-head { font-size: .85rem; opacity: .85; margin-bottom: .25rem; overflow-wrap: anywhere; }
.qa-card-head b { opacity: 1; }
.qa-passage { font-size: .9rem; line-height: 1.45; white-space: pre-wrap; overflow-wrap: anywhere; }
.qa-passage mark { background: #fde68a; color: #111; padding: 0 .1rem; border-radius: 3px; }
.qa-where { font-weight: 600; }
.qa-ref { font-weight: 600; text-decoration: none; }
.qa-more summary, .qa-notfound + details summary { cursor: pointer; margin-top: .5rem; font-size: .9rem; opacity: .85; }
#qa-status { font-size: .9rem; opacity: .8; }
"""


# ---------------------------------------------------------------- rendering

def locator(c: Citation) -> str:
    """"p. 3" (or "p. 3, passage pp. 3–4") and the section: where a reader finds the sentence."""
    parts = []
    if c.page is not None:
        where = f"p. {c.page}"
        if c.pages and c.pages[0] != c.pages[1]:
            where += f" (passage pp. {c.pages[0]}–{c.pages[1]})"
        parts.append(where)
    if c.section:
        parts.append(f"§ {c.section}")
    return " · ".join(parts)


# HTML's, Markdown's and LaTeX's own characters, and line breaks (a blank line would end the HTML block and
# let Markdown parse what follows), become character references: a document's text stays text.
_INERT = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'\\`*_{}[]()#+-.!|~$:\n\r"})


def as_text(s: str) -> str:
    """``s`` as inert text in the chat's Markdown-and-HTML: no tag, link, image or formula can come of it."""
    return s.translate(_INERT)


def file_link(c: Citation, library: str | None = None) -> str:
    """The app's link to the original file, at the cited page for a PDF (relative: works under any root path)."""
    url = f"{FILE_ROUTE.lstrip('/')}/{quote(c.source)}"
    if library:
        url += f"?library={quote(library)}"
    return url + (f"#page={c.page}" if c.page else "")


def card(c: Citation, uid: str, library: str | None = None, links: bool = True) -> str:
    p, a, b = c.passage, c.highlight_start, c.highlight_start + len(c.highlight)
    body = f"{as_text(p[:a])}<mark>{as_text(p[a:b])}</mark>{as_text(p[b:])}"
    where = locator(c)
    source = as_text(c.source)
    if links:
        source = f'<a class="qa-open" href="{html.escape(file_link(c, library))}" target="_blank" rel="noopener">{source}</a>'
    head = (f"<b>[{c.number}] {as_text(c.title)}</b> · <code>{source}</code> · "
            + (f'<span class="qa-where">{as_text(where)}</span> · ' if where else "")
            + f"characters {c.start:,}–{c.end:,} · score {c.score:.2f}"
            + (f" · also in {as_text(', '.join(c.also_in[:3]))}{' …' if len(c.also_in) > 3 else ''}" if c.also_in else ""))
    return f'<div class="qa-card" id="{uid}-{c.number}"><div class="qa-card-head">{head}</div><div class="qa-passage">{body}</div></div>'


def render_text(answer: Answer, uid: str) -> str:
    """The answer sentence(s), with each [n] linking to its card; a written sentence the checker could
    not back with its passages is underlined in red with the reason beside it."""
    def linked(text: str) -> str:
        text = as_text(text)
        for c in answer.citations:
            text = text.replace(as_text(f"[{c.number}]"), f'<a class="qa-ref" href="#{uid}-{c.number}">[{c.number}]</a>')
        return text

    if not (answer.generated and answer.checks):
        return linked(answer.text)
    return " ".join(linked(c.text) if c.supported else
                    f'<span class="qa-unsupported" title="{as_text(c.reason)}">{linked(c.text)}</span>'
                    f'<span class="qa-flag">⚠ not supported: {as_text(c.reason)}</span>' for c in answer.checks)


def cited_numbers(answer: Answer) -> set[int]:
    """The passages the answer text cites."""
    if answer.generated and answer.checks:
        return {n for c in answer.checks for n in c.cites}
    return {c.number for c in answer.citations if f"[{c.number}]" in answer.text}


def render_answer(answer: Answer, uid: str = "qa", library: str | None = None, links: bool = True) -> str:
    """HTML for one chat reply: the answer, then numbered source cards (collapsed when not found).

    ``library``: the visitor's upload token, so links to their own files reach them (and only them).
    """
    def _card(c: Citation, uid: str) -> str:
        return card(c, uid, library, links)

    if answer.abstained:  # nothing retrieved is on the question's topic: say what is missing
        cards = "".join(_card(c, uid) for c in answer.citations)
        reason = as_text(answer.reason or "Nothing in the documents is about this.")
        return (f'<div class="qa-notfound"><b>Not found in the documents.</b> {reason}</div>'
                f'<details><summary>Closest passages ({len(answer.citations)})</summary><div class="qa-cards">{cards}</div></details>')
    # The passages the answer cites stay open; the rest wait behind one click.
    numbers = cited_numbers(answer)
    cited = [c for c in answer.citations if c.number in numbers]
    more = [c for c in answer.citations if c not in cited]
    notice = f'<div class="qa-notice">{as_text(answer.notice)}</div>' if answer.notice else ""
    warning, shown = "", answer
    if answer.tentative:  # the best candidate, shown open, under a plain warning that says why (once)
        reason = answer.reason or "The documents may not answer this exactly."
        warning = f'<div class="qa-tentative">⚠️ {as_text(reason)}</div>'
        if answer.text.startswith(reason):
            shown = replace(answer, text=answer.text[len(reason):].lstrip())
    html_ = (f'{warning}<div class="qa-answer">{render_text(shown, uid)}</div>{notice}'
             f'<div class="qa-cards">{"".join(_card(c, uid) for c in cited)}</div>')
    if more:
        html_ += (f'<details class="qa-more"><summary>{len(more)} more passage{"s" if len(more) > 1 else ""}</summary>'
                  f'<div class="qa-cards">{"".join(_card(c, uid) for c in more)}</div></details>')
    return html_


