"""Serving the chat: the web server around the Gradio app (its file route, queue and limits), tuned for
many visitors, and stopped on our terms when told (SIGTERM, Ctrl-C). ``python app.py`` calls ``launch``."""
from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from typing import Any

import gradio as gr
import uvicorn  # Gradio serves with it

from qa.serve.chat import CONCURRENCY, QUEUE_SIZE, STATUS_EVERY, build_app, serve_file
from qa.serve.render import CSS, FILE_ROUTE

log = logging.getLogger(__name__)


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


# Stopping (SIGTERM from a Space restart or a container runtime, which kills about 10 s later; Ctrl-C):
# questions are told the server is restarting at once; it listens DRAIN seconds more, then gives what is
# still open GRACE seconds; then the visitors' files are deleted and the process exits, within EXIT_WITHIN
# seconds whatever still runs.
DRAIN = 1.0
GRACE = 2.0
EXIT_WITHIN = 4.0


def launch(host: str | None = None, port: int | None = None, **load_kwargs: Any) -> None:
    on_space = bool(os.environ.get("SPACE_ID"))
    host = host or os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if on_space else "127.0.0.1")
    port = int(port or os.environ.get("GRADIO_SERVER_PORT") or 7860)
    tune_for_serving()
    demo = build_app(**load_kwargs)
    app = make_server(demo)
    log.info("Serving the chat on http://%s:%d/", host, port)
    server = _StoppableServer(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                             timeout_graceful_shutdown=GRACE), demo)
    logging.getLogger("uvicorn.error").addFilter(_connections_cut_at_shutdown)
    try:
        server.run()
    finally:
        stop(demo)
    # The interpreter's own finalization then waits seconds for native thread pools to wind down, with
    # nothing left to save: run the exit handlers and go.
    log.info("Stopped.")
    _exit_now()


class _StoppableServer(uvicorn.Server):
    """uvicorn's server, stopped on our terms: on SIGTERM or SIGINT it stops taking work at once and the
    process is gone within EXIT_WITHIN seconds, even with visitors' connections open (uvicorn alone waits
    for every open connection, and a chat page keeps one open) or a question still being answered."""

    def __init__(self, config: "uvicorn.Config", demo) -> None:
        super().__init__(config)
        self._demo = demo

    def handle_exit(self, sig, frame) -> None:
        # Not recorded for uvicorn to raise again after its shutdown, as it does: that would kill the
        # process before the visitors' files are deleted.
        if self._demo.holder.stopping:  # a second signal: stop taking connections now
            self.should_exit = True
            return
        self._demo.holder.stopping = True  # from now on, questions are told the server is restarting
        threading.Thread(target=_exit_by_deadline, args=(self._demo,), name="qa-stop", daemon=True).start()
        # Still listening for DRAIN seconds: a question already sent may need a new connection to fetch its
        # answer (Gradio's queue answers over a second request), and new ones get the "restarting" line
        # rather than a refused connection. Then uvicorn stops listening and gives GRACE to what is open.
        threading.Timer(DRAIN, lambda: setattr(self, "should_exit", True)).start()


def _connections_cut_at_shutdown(record: logging.LogRecord) -> bool:
    """A chat page's open connection, cut when the grace period ends, is one line in the log, not a traceback."""
    import asyncio

    if record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError):
        record.msg, record.args, record.exc_info, record.exc_text = "An open connection was closed at shutdown.", (), None, None
        record.levelno, record.levelname = logging.INFO, "INFO"
    return True


def _exit_by_deadline(demo) -> None:
    """The last resort: what the orderly stop has not finished by then is cut short, waiting for nothing
    (an upload being indexed holds its library's lock; the model may be mid-answer)."""
    time.sleep(EXIT_WITHIN)
    log.warning("Still stopping after %.0f s: exiting now.", EXIT_WITHIN)
    try:
        kill = getattr(_model(demo), "kill", None)
        if kill is not None:
            kill()
        shutil.rmtree(demo.libraries.root, ignore_errors=True)
        logging.shutdown()
    finally:
        os._exit(0)


def _model(demo):
    """The local language model the chat's bot writes with, if any."""
    return getattr(getattr(demo.holder.bot, "writer", None), "model", None)


def _exit_now() -> None:
    import atexit

    try:
        atexit._run_exitfuncs()
        logging.shutdown()
    finally:
        os._exit(0)


def stop(demo) -> None:
    """Refuse new questions, delete the visitors' files, stop the language model's process. Safe to call
    twice (the deadline and the normal exit may both get here); the index is never written."""
    demo.holder.stopping = True
    demo.libraries.close()
    close = getattr(_model(demo), "close", None)
    if close is not None:
        close()
