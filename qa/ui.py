"""The Gradio face: a chat whose answers show their sources, and an ``ask`` API endpoint.

The page appears at once; the model loads in the background while a status line
says so. Logic lives in plain functions (``render_answer``, ``BotHolder``) so it
can be tested without a browser.
"""
from __future__ import annotations

import html
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

import gradio as gr  # this module is the Gradio face; `import qa` never imports it

from .errors import QAError
from .types import Answer, Citation

log = logging.getLogger(__name__)

EXAMPLES = [
    "How many industrial robots did China install in 2023?",
    "How much private money went into AI in the US in 2024?",
    "What is the Big Fund?",
    "Why does energy matter in the AI race?",
]
FILE_ROUTE = "/qa/file"  # the original of a cited document: corpus files and the visitor's own uploads only
UPLOAD_TYPES = [".pdf", ".html", ".htm", ".docx", ".md", ".txt"]
EXPIRED_LIBRARY = "Unknown or expired library: upload the files again with /upload."
ATTACHED = "📎 "  # opens the chat turn that lists a message's attachments
# Requests served at once, and waiting at most (QA_CONCURRENCY, QA_QUEUE_SIZE; bench/load.py measured these).
CONCURRENCY = int(os.environ.get("QA_CONCURRENCY") or 16)
QUEUE_SIZE = int(os.environ.get("QA_QUEUE_SIZE") or 256)
STATUS_EVERY = 1.0  # seconds between queue-position updates to waiting visitors
FRIENDLY_ERROR = "Sorry, something went wrong while answering. The error was logged; please try again."

CSS = """
.qa-answer { font-size: 1.02rem; line-height: 1.55; }
.qa-unsupported { text-decoration: underline wavy #dc2626; text-decoration-skip-ink: none; }
.qa-flag { color: #dc2626; font-size: .8rem; margin-left: .2rem; }
.qa-notice { font-size: .85rem; opacity: .8; margin-top: .3rem; }
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

    if answer.abstained:
        cards = "".join(_card(c, uid) for c in answer.citations)
        return (f'<div class="qa-notfound"><b>Not found in the corpus.</b> None of the documents answers this question.</div>'
                f'<details><summary>Closest passages ({len(answer.citations)})</summary><div class="qa-cards">{cards}</div></details>')
    # The passages the answer cites stay open; the rest wait behind one click.
    numbers = cited_numbers(answer)
    cited = [c for c in answer.citations if c.number in numbers]
    more = [c for c in answer.citations if c not in cited]
    notice = f'<div class="qa-notice">{as_text(answer.notice)}</div>' if answer.notice else ""
    html_ = (f'<div class="qa-answer">{render_text(answer, uid)}</div>{notice}'
             f'<div class="qa-cards">{"".join(_card(c, uid) for c in cited)}</div>')
    if more:
        html_ += (f'<details class="qa-more"><summary>{len(more)} more passage{"s" if len(more) > 1 else ""}</summary>'
                  f'<div class="qa-cards">{"".join(_card(c, uid) for c in more)}</div></details>')
    return html_


# ---------------------------------------------------------------- the bot, loaded in the background

class BotHolder:
    """Loads the Bot on a thread so the page can show a status meanwhile."""

    def __init__(self, **load_kwargs: Any) -> None:
        self.status = "Loading the embedding model and index…"
        self.error: str | None = None
        self.bot = None
        self._ready = threading.Event()
        self._kwargs = load_kwargs
        from .bot import default_paths, is_shipped_corpus

        self.shipped_corpus = is_shipped_corpus(default_paths(load_kwargs.get("corpus"), None)[0])
        threading.Thread(target=self._load, name="qa-load", daemon=True).start()

    def _load(self) -> None:
        from .bot import Bot

        t0 = time.perf_counter()
        try:
            # A shared Milvus index is served as it is: a server never drops what others may be serving.
            self.bot = Bot.load(on_status=self._set_status, replace_stale=False, **self._kwargs)
            self.bot.embedder.prepare_questions()  # the faster question encoder, ready before most visitors
            c = self.bot.index.manifest.get("counts", {})
            rerank = f" · re-ranker {self.bot.reranker.name}" if self.bot.reranker else ""
            writer = f" · answers written by {self.bot.writer.name}, every sentence checked" if self.bot.writer else ""
            self.status = (f"Ready · {c.get('documents')} documents, {c.get('chunks')} passages · "
                           f"model {self.bot.index.settings.model}{rerank}{writer} · loaded in {time.perf_counter() - t0:.1f}s")
        except QAError as err:
            self.error = self.status = f"Cannot start: {err}"
        except Exception:  # noqa: BLE001 - shown as one line, logged in full
            log.exception("Loading the bot failed")
            self.error = self.status = "Cannot start: loading the bot failed (see the server log)."
        finally:
            self._ready.set()

    @classmethod
    def of(cls, bot) -> "BotHolder":
        """A holder for a bot already loaded (tests, embedding the chat in another app)."""
        holder = cls.__new__(cls)
        holder.bot, holder.error, holder._kwargs = bot, None, {}
        holder.status = f"Ready · {len(bot.index.docs)} documents"
        holder._ready = threading.Event()
        holder._ready.set()
        from .bot import is_shipped_corpus

        holder.shipped_corpus = bot.corpus is not None and is_shipped_corpus(bot.corpus)
        return holder

    def _set_status(self, message: str) -> None:
        self.status = message

    def wait(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()


# ---------------------------------------------------------------- event handlers

def _message_parts(message: Any) -> tuple[str, list[str]]:
    """The text and attached file paths of a chat message (a string, or the multimodal box's dict)."""
    if isinstance(message, dict):
        files = []
        for f in message.get("files") or []:
            path = f.get("path") if isinstance(f, dict) else getattr(f, "path", f)
            if isinstance(path, str):
                files.append(path)
        text = message.get("text")
        return (text if isinstance(text, str) else "").strip(), files
    return (message if isinstance(message, str) else "").strip(), []


def conversation(history: list[dict]) -> list[dict]:
    """The chat without its upload turns ("📎 report.pdf" and the receipt): a follow-up is about
    the last question, not the last attachment."""
    out: list[dict] = []
    skip_reply = False
    for m in history:
        content = m.get("content") if isinstance(m, dict) else None
        if isinstance(content, str) and m.get("role") == "user" and content.startswith(ATTACHED):
            skip_reply = True
            continue
        if skip_reply and m.get("role") == "assistant":
            continue
        skip_reply = False
        out.append(m)
    return out


def _library_bot(holder: "BotHolder", libraries, token: str | None):
    """The bot that serves a request: the shared one without a library token, the visitor's with a
    known one, None for a token that is unknown or expired (never silently the shared one)."""
    if not token:
        return holder.bot
    lib = libraries.get(token) if libraries is not None else None
    return lib.bot if lib is not None else None


def _wait_for_bot(holder: "BotHolder", history: list[dict]) -> Iterator[list[dict]]:
    """Says so while the model loads; returns whether there is a bot (else the reason was shown)."""
    if not holder.ready:
        yield history + [{"role": "assistant", "content": "Loading the model, one moment…"}]
        holder.wait()
    if holder.bot is None:
        yield history + [{"role": "assistant", "content": holder.error or FRIENDLY_ERROR}]
        return False
    return True


def chat_reply(holder: BotHolder, message: Any, history: list[dict], libraries=None,
               visitor: dict | None = None) -> Iterator[list[dict]]:
    """Yields the growing chat: attachments indexed (with a progress line), the user turn, a
    searching note, the streamed answer, then the cards.

    ``visitor`` is this browser session's state: ``{"library": token}`` once it has uploaded files.
    """
    from .bot import check_question

    visitor = visitor if visitor is not None else {}
    text, files = _message_parts(message)
    if not text and not files:
        yield history
        return
    history = list(history or [])
    if files:
        names = ", ".join(Path(f).name for f in files)
        history.append({"role": "user", "content": f"{ATTACHED}{as_text(names)}"})
        if libraries is None:
            yield history + [{"role": "assistant", "content": "This chat does not take uploads."}]
            return
        if not (yield from _wait_for_bot(holder, history)):
            return
        progress: list[str] = []
        done = threading.Event()
        result: dict[str, Any] = {}

        def work() -> None:
            try:
                result["out"] = libraries.add(visitor.get("library"), holder.bot, files, on_status=progress.append)
            except QAError as err:
                result["refused"] = str(err)
            except Exception as err:  # noqa: BLE001 - shown as one line below
                log.exception("Indexing uploads failed")
                result["error"] = err
            finally:
                done.set()

        shown = f"Indexing {len(files)} file{'s' if len(files) > 1 else ''} …"
        yield history + [{"role": "assistant", "content": f"⏳ {as_text(shown)}"}]
        threading.Thread(target=work, name="qa-upload", daemon=True).start()
        while not done.wait(0.25):
            line = progress[-1] if progress else f"Receiving {len(files)} file{'s' if len(files) > 1 else ''} …"
            if line != shown:
                shown = line
                yield history + [{"role": "assistant", "content": f"⏳ {as_text(line)}"}]
        if "refused" in result:
            visitor.pop("library", None)  # expired: the next attachment starts a new library
            history.append({"role": "assistant", "content": as_text(result["refused"])})
            yield history
            return
        if "error" in result:
            history.append({"role": "assistant", "content": "Sorry, indexing the files failed; nothing you had added before was lost. Please try again."})
            yield history
            return
        lib, added, warnings = result["out"]
        visitor["library"] = lib.token
        lines = []
        if added:
            lines.append(f"Added {', '.join(as_text(a.removeprefix('uploads/')) for a in added)}: ask away. "
                         "Only you can see your files; they are deleted when you leave.")
        lines += [as_text(w) for w in warnings]
        history.append({"role": "assistant", "content": "<br>".join(lines) or "Nothing was added."})
        yield history
        if not text:
            return
    history.append({"role": "user", "content": text})
    try:
        check_question(text)
    except QAError as err:
        yield history + [{"role": "assistant", "content": str(err)}]
        return
    if not (yield from _wait_for_bot(holder, history)):
        return
    bot = _library_bot(holder, libraries, visitor.get("library"))
    if bot is None:
        bot = holder.bot
        visitor.pop("library", None)
        history.append({"role": "assistant", "content": "Your uploaded files have expired or were deleted when the page "
                        "disconnected; this answer comes from the shared documents only. Attach them again to ask about them."})
    yield history + [{"role": "assistant", "content": "Searching the documents…"}]
    answer, written = None, ""
    try:
        for part in bot.ask_stream(text, history=conversation(history[:-1])):
            if isinstance(part, str):  # a language model writing: its words as they come
                written += part
                yield history + [{"role": "assistant", "content": f"✍️ {as_text(bot.writer.name)} is writing from the "
                                  f"passages…<br>{as_text(written)} …"}]
            else:
                answer = part
    except QAError as err:
        yield history + [{"role": "assistant", "content": str(err)}]
        return
    except Exception:  # noqa: BLE001
        log.exception("Answering %r failed", text)
        yield history + [{"role": "assistant", "content": FRIENDLY_ERROR}]
        return
    uid = f"qa{len(history)}"
    if not answer.abstained and not written:
        words = answer.text.split(" ")
        step = max(1, len(words) // 6)
        for i in range(step, len(words), step):  # stream the answer sentence, then the evidence
            yield history + [{"role": "assistant", "content": as_text(" ".join(words[:i])) + " …"}]
            time.sleep(0.02)
    yield history + [{"role": "assistant", "content": render_answer(answer, uid, visitor.get("library"),
                                                                     links=libraries is not None)}]


def _gr_error(err: Exception):

    return gr.Error(str(err), print_exception=False)


def api_ask(holder: BotHolder, question: str, history: list[dict] | None = None, k: int = 5,
            library: str = "", libraries=None) -> dict:
    holder.wait()
    if holder.bot is None:
        raise gr.Error(holder.error or FRIENDLY_ERROR, print_exception=False)
    if isinstance(k, float) and k.is_integer():  # JSON clients may send 5.0
        k = int(k)
    bot = _library_bot(holder, libraries, library)
    if bot is None:
        raise gr.Error(EXPIRED_LIBRARY, print_exception=False)
    try:
        return bot.ask(question, history=history or None, k=k).to_dict()
    except QAError as err:
        raise _gr_error(err) from None
    except Exception:  # noqa: BLE001
        log.exception("API ask failed")
        raise gr.Error(FRIENDLY_ERROR) from None


def api_document(holder: BotHolder, source: str, library: str = "", libraries=None) -> dict:
    holder.wait()
    if holder.bot is None:
        raise gr.Error(holder.error or FRIENDLY_ERROR, print_exception=False)
    bot = _library_bot(holder, libraries, library)
    if bot is None:
        raise gr.Error(EXPIRED_LIBRARY, print_exception=False)
    doc = bot.index.document(source) if isinstance(source, str) else None
    if doc is None:
        raise gr.Error(f"No document {source!r} in this collection: use a citation's source.", print_exception=False)
    return {"source": doc.source, "title": doc.title, "kind": doc.kind, "text": doc.text, "pages": list(doc.pages)}


def api_upload(holder: BotHolder, libraries, files: list | None, library: str = "") -> dict:
    """Index files into a private library; ask about them with ``/ask`` and the returned ``library``."""

    paths = [f if isinstance(f, str) else getattr(f, "path", None) or (f.get("path") if isinstance(f, dict) else None)
             for f in (files or [])]
    paths = [p for p in paths if p]
    if not paths:
        raise gr.Error("No files received: pass one or more files (PDF, HTML, DOCX, Markdown or text).", print_exception=False)
    holder.wait()
    if holder.bot is None:
        raise gr.Error(holder.error or FRIENDLY_ERROR, print_exception=False)
    try:
        lib, added, warnings = libraries.add(library or None, holder.bot, paths)
    except QAError as err:
        raise _gr_error(err) from None
    except Exception:  # noqa: BLE001
        log.exception("API upload failed")
        raise gr.Error(FRIENDLY_ERROR) from None
    return {"library": lib.token, "added": added, "warnings": warnings, "documents": lib.uploads}


# ---------------------------------------------------------------- the original files, for the cards' links

def serve_file(holder: BotHolder, libraries, source: str, library: str = ""):
    """A cited document's original, or 404: only sources of the collection (or of the visitor's
    own library, by its token) are served, and only from inside their folder; ``..``, absolute
    paths and links out of the folder are refused by resolving and checking containment."""
    from fastapi import HTTPException
    from fastapi.responses import FileResponse

    bot = _library_bot(holder, libraries, library)
    path = bot.file_path(source) if bot is not None and isinstance(source, str) else None
    if path is None:
        raise HTTPException(status_code=404, detail="No such document in this collection.")
    kind = bot.index.document(source).kind
    media = {"pdf": "application/pdf", "html": "text/plain; charset=utf-8", "docx":
             "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}.get(kind, "text/plain; charset=utf-8")
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store", "Referrer-Policy": "no-referrer"}
    if kind != "pdf":  # a page saved from the web is shown as its source text, never run here
        headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    disposition = "attachment" if kind == "docx" else "inline"
    return FileResponse(path, media_type=media, headers=headers, content_disposition_type=disposition,
                        filename=Path(source).name)


# ---------------------------------------------------------------- the app

def build_app(holder: BotHolder | None = None, libraries=None, **load_kwargs: Any):
    from .sessions import Libraries

    holder = holder or BotHolder(**load_kwargs)
    libraries = libraries if libraries is not None else Libraries()

    with gr.Blocks(title="qa · ask the documents", fill_height=True, delete_cache=(600, int(libraries.limits.ttl))) as demo:
        gr.Markdown("## Ask the documents\nAnswers are quoted from the documents; every sentence cites its source, "
                    "with the answering sentence highlighted. Attach your own PDF, HTML, DOCX, Markdown or text files "
                    "with the paperclip or by dropping them here: only you can see them.")
        status = gr.Markdown(holder.status, elem_id="qa-status")
        chatbot = gr.Chatbot(elem_id="qa-chat", show_label=False, height="62vh", sanitize_html=True,
                             placeholder="Ask a question about the documents, or pick an example below.")
        with gr.Row(equal_height=True):
            box = gr.MultimodalTextbox(placeholder="Ask a question, or attach documents…", show_label=False, scale=8,
                                       elem_id="qa-input", autofocus=True, max_lines=4, submit_btn=False,
                                       file_count="multiple", file_types=UPLOAD_TYPES, sources=["upload"])
            send = gr.Button("Ask", variant="primary", scale=1, min_width=70, elem_id="qa-send")
            clear = gr.Button("Clear", variant="secondary", scale=1, min_width=70, elem_id="qa-clear")
        if holder.shipped_corpus:  # the examples are about the shipped articles
            gr.Examples(EXAMPLES, inputs=box, label="Examples")
        # This browser session's library token; its files are deleted when the session ends.
        visitor = gr.State({}, time_to_live=libraries.limits.ttl,
                           delete_callback=lambda v: libraries.drop((v or {}).get("library")))

        def reply(message, history, state, request: gr.Request):
            state = dict(state or {})
            for h in chat_reply(holder, message, history, libraries, state):
                if state.get("library"):
                    libraries.bind(getattr(request, "session_hash", None), state["library"])
                yield h, None, state

        def leave(request: gr.Request):
            libraries.end_session(getattr(request, "session_hash", None))

        demo.unload(leave)

        # One queue for the chat and the API. Up to CONCURRENCY requests are served at a time: questions
        # that arrive together share one pass of the model (Embedder.encode_queries), so more in flight
        # means fewer passes, not more threads fighting over the cores.
        gr.on([box.submit, send.click], reply, [box, chatbot, visitor], [chatbot, box, visitor], api_visibility="private",
              concurrency_limit=CONCURRENCY, concurrency_id="qa")
        clear.click(lambda: ([], None), None, [chatbot, box], api_visibility="private")

        timer = gr.Timer(0.5)

        def poll():
            return holder.status, gr.Timer(active=not holder.ready)

        timer.tick(poll, None, [status, timer], api_visibility="private", show_progress="hidden")
        demo.load(poll, None, [status, timer], api_visibility="private", show_progress="hidden")

        def ask(question: str, history: list[dict] | None = None, k: int = 5, library: str = "") -> dict:
            """Answer a question from the documents (and, with ``library``, the files uploaded to it);
            returns the Answer as JSON (text, abstained, citations with page and section)."""
            return api_ask(holder, question, history, k, library, libraries)

        gr.api(ask, api_name="ask", concurrency_limit=CONCURRENCY, concurrency_id="qa")

        def document(source: str, library: str = "") -> dict:
            """One indexed document as the index holds it: for a PDF, HTML or DOCX file the extracted text
            that citations' start/end point into, with its title, format and PDF page offsets."""
            return api_document(holder, source, library, libraries)

        gr.api(document, api_name="document", concurrency_limit=CONCURRENCY, concurrency_id="qa")

        # /upload: files in, a private library token out. Components hidden: this is for API clients.
        up_files = gr.File(file_count="multiple", visible=False)
        up_library = gr.Textbox(visible=False)
        up_result = gr.JSON(visible=False)
        up_button = gr.Button(visible=False)
        up_button.click(lambda files, library: api_upload(holder, libraries, files, library or ""),
                        [up_files, up_library], up_result, api_name="upload", concurrency_limit=CONCURRENCY, concurrency_id="qa")
    demo.holder = holder
    demo.libraries = libraries
    return demo


def make_server(demo, max_file_mb: float | None = None):
    """The FastAPI app: the chat at /, the cited files at FILE_ROUTE."""
    from fastapi import FastAPI, Query

    app = FastAPI()

    @app.get(FILE_ROUTE + "/{source:path}")
    def original(source: str, library: str = Query(default="")):
        return serve_file(demo.holder, demo.libraries, source, library)

    # Queue positions are sent to waiting visitors once a second, not after every answer: with
    # Gradio's "auto", each finished answer sends one message to every waiting visitor, which under
    # load makes the event loop's work grow with the square of the queue (bench/load.py).
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE, status_update_rate=STATUS_EVERY)
    limit = demo.libraries.limits.files.max_file_bytes if max_file_mb is None else int(max_file_mb * 1e6)
    return gr.mount_gradio_app(app, demo, path="", css=CSS, theme=gr.themes.Soft(), show_error=False,
                               max_file_size=limit)


def tune_for_serving() -> None:
    """At most two malloc arenas (glibc; elsewhere nothing): with one per thread, the server's memory grew
    by a third over a minute of fifty users (bench/load.py) and did not come back; with two, by a tenth.

    Gradio summarises its last 10,000 events in a pandas DataFrame after every event (for its analytics
    view, which this app does not show): a cost that grows with uptime. Once per 1,000 events, over the
    last 1,000, unless the environment says otherwise."""
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def launch(host: str | None = None, port: int | None = None, **load_kwargs: Any) -> None:
    import uvicorn

    on_space = bool(os.environ.get("SPACE_ID"))
    host = host or os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if on_space else "127.0.0.1")
    port = int(port or os.environ.get("GRADIO_SERVER_PORT") or 7860)
    tune_for_serving()
    demo = build_app(**load_kwargs)
    app = make_server(demo)
    log.info("Serving the chat on http://%s:%d/", host, port)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        demo.libraries.close()
