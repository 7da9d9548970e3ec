"""The Gradio face: a chat whose answers show their sources, and an ``ask`` API endpoint.

The page appears at once; the model loads in the background while a status line
says so. Logic lives in plain functions (``render_answer``, ``BotHolder``) so it
can be tested without a browser.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import gradio as gr  # this module is the Gradio face; `import qa` never imports it

from qa.errors import QAError
from qa.serve.holder import RESTARTING, BotHolder, visitor_status
from qa.serve.render import as_text, render_answer

log = logging.getLogger(__name__)

EXAMPLES = [
    "How many industrial robots did China install in 2023?",
    "How much private money went into AI in the US in 2024?",
    "What is the Big Fund?",
    "What limits AI growth in 2026?",
]
UPLOAD_TYPES = [".pdf", ".html", ".htm", ".docx", ".md", ".txt"]
EXPIRED_LIBRARY = "Unknown or expired library: upload the files again with /upload."
ATTACHED = "📎 "  # opens the chat turn that lists a message's attachments
# Requests served at once, and waiting at most (QA_CONCURRENCY, QA_QUEUE_SIZE; bench/load.py measured these).
CONCURRENCY = int(os.environ.get("QA_CONCURRENCY") or 16)
QUEUE_SIZE = int(os.environ.get("QA_QUEUE_SIZE") or 256)
STATUS_EVERY = 1.0  # seconds between queue-position updates to waiting visitors
FRIENDLY_ERROR = "Sorry, something went wrong while answering. The error was logged; please try again."

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
    if holder.stopping:
        yield history + [{"role": "assistant", "content": RESTARTING}]
        return False
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
    from qa.bot import check_question

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


def _api_bot(holder: BotHolder, libraries=None, library: str | None = None):
    """The bot an API call uses (the visitor's library's when ``library`` is given), or the one-line error
    why there is none: the server is stopping, could not load, or the library expired."""
    if holder.stopping:
        raise gr.Error(RESTARTING, print_exception=False)
    holder.wait()
    if holder.bot is None:
        raise gr.Error(holder.error or FRIENDLY_ERROR, print_exception=False)
    if library is None:
        return holder.bot
    bot = _library_bot(holder, libraries, library)
    if bot is None:
        raise gr.Error(EXPIRED_LIBRARY, print_exception=False)
    return bot


def api_ask(holder: BotHolder, question: str, history: list[dict] | None = None, k: int = 5,
            library: str = "", libraries=None) -> dict:
    if isinstance(k, float) and k.is_integer():  # JSON clients may send 5.0
        k = int(k)
    bot = _api_bot(holder, libraries, library)
    try:
        return bot.ask(question, history=history or None, k=k).to_dict()
    except QAError as err:
        raise _gr_error(err) from None
    except Exception:  # noqa: BLE001
        log.exception("API ask failed")
        raise gr.Error(FRIENDLY_ERROR) from None


def api_document(holder: BotHolder, source: str, library: str = "", libraries=None) -> dict:
    bot = _api_bot(holder, libraries, library)
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
    _api_bot(holder)
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
    from qa.serve.sessions import Libraries

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
                yield h, None, state, visitor_status(holder, libraries, state)

        def leave(request: gr.Request):
            libraries.end_session(getattr(request, "session_hash", None))

        demo.unload(leave)

        # One queue for the chat and the API. Up to CONCURRENCY requests are served at a time: questions
        # that arrive together share one pass of the model (Embedder.encode_queries), so more in flight
        # means fewer passes, not more threads fighting over the cores.
        gr.on([box.submit, send.click], reply, [box, chatbot, visitor], [chatbot, box, visitor, status], api_visibility="private",
              concurrency_limit=CONCURRENCY, concurrency_id="qa")
        clear.click(lambda: ([], None), None, [chatbot, box], api_visibility="private")

        timer = gr.Timer(0.5)

        def poll():
            return holder.status, gr.Timer(active=not holder.ready)

        timer.tick(poll, None, [status, timer], api_visibility="private", show_progress="hidden")
        demo.load(poll, None, [status, timer], api_visibility="private", show_progress="hidden")

        def ask(question: str, history: list[dict] | None = None, k: int = 5, library: str = "") -> dict:
            """Answer a question from the documents (and, with ``library``, the files uploaded to it);
            returns the Answer as JSON: text, outcome (answered, tentative or not found), confidence, reason,
            citations with page and section."""
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
