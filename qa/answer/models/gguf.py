"""A local GGUF model (``pip install "qa[llm]"``), run in a child process that qa starts and owns.

llama.cpp is native code: an illegal instruction, an out-of-memory kill or a hang inside it would take the
whole chat down with it if it ran in the server's process. So the model runs in llama-cpp-python's
OpenAI-compatible server (``gguf_server``), on 127.0.0.1 behind a random key, and is reached through the
same client as any other server (``openai.OpenAICompatible``). When that process dies or stops answering,
the question gets one line and the quoted answer; the next question starts the model again, once: if it
fails again before answering anything, it stays off until the server restarts (no restart loop).
"""
from __future__ import annotations

import importlib.util
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Iterator

from qa.answer.models.base import LLMError, LLMSettings
from qa.answer.models.openai import OpenAICompatible

log = logging.getLogger(__name__)

START_WITHIN = 120.0  # seconds for the model's process to load the file and answer its first request
# What llama-cpp-python's server needs beside llama_cpp itself: its `[server]` extra.
SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context", "pydantic_settings")
INSTALL = 'pip install "qa[llm]"'
# Environment variables llama-cpp-python's server would read in place of the options qa gives it.
SERVER_ENV = {"HOST", "PORT", "CONFIG_FILE", "SSL_KEYFILE", "SSL_CERTFILE", "API_KEY", "ROOT_PATH", "MODEL", "N_CTX",
              "N_THREADS", "DISABLE_PING_EVENTS", "INTERRUPT_REQUESTS", "VERBOSE"}


class _PortTaken(Exception):
    """The port chosen for the model was taken before it could bind it."""


class LocalGGUF:
    """A GGUF file served by a child process of ours; ``stream`` as every ``LanguageModel``."""

    def __init__(self, settings: LLMSettings) -> None:
        path = Path(settings.target).expanduser()
        if not path.is_file():
            raise LLMError(f"No language model at {path}: give the path of a .gguf file, or the URL of an "
                           "OpenAI-compatible server (http://…).")
        missing = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
        if missing:
            raise LLMError(f"A local GGUF model needs llama-cpp-python with its server ({', '.join(missing)} missing): "
                           f"run `{INSTALL}`, or point --llm at an OpenAI-compatible server.")
        self.settings, self.path = settings, path
        self.name = settings.model or path.stem
        self._lock = threading.Lock()  # one request at a time: the process answers one anyway
        self._proc: subprocess.Popen | None = None
        self._log = Path(tempfile.mkdtemp(prefix="qa-llm-")) / "model.log"
        self._restarted = False  # the process was started again since it last answered
        self._off: str | None = None  # why the model stays off until the server restarts
        self._client: OpenAICompatible | None = None
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int | None:
        """The model process's id (tests stop it to check what a crash does)."""
        return self._proc.pid if self._proc is not None else None

    def stream(self, messages: list[dict], max_tokens: int) -> Iterator[str]:
        # One answer at a time; a question that would wait longer than a hung answer may take is told so.
        if not self._lock.acquire(timeout=2 * self.settings.timeout + START_WITHIN):
            raise LLMError(f"The language model {self.name} is busy with other answers; try again in a moment.")
        try:
            if self._off:
                raise LLMError(self._off)
            if self._proc is None or self._proc.poll() is not None:
                self._restart()
            try:
                for piece in self._client.stream(messages, max_tokens):
                    self._restarted = False  # it answers: a later death may restart it again
                    yield piece
            except LLMError as err:
                raise self._failed(err) from err
        finally:
            self._lock.release()

    def close(self) -> None:
        """Stop the model's process and delete its log (the server stopping, or tests). Final: a question
        still being answered gets the quoted answer, and no process is started again."""
        self._off = self._closed
        self._stop()
        shutil.rmtree(self._log.parent, ignore_errors=True)

    def kill(self) -> None:
        """Stop the model's process now, waiting for nothing (the server's last second)."""
        self._off = self._closed
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()

    @property
    def _closed(self) -> str:
        return f"The language model {self.name} was stopped with the server."

    # ---------------------------------------------------------------- the child process

    def _stop(self, kill: bool = False) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            if kill:  # a hung process may be stopped or deaf to SIGTERM
                proc.kill()
            else:
                proc.terminate()
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=3)

    def _start(self) -> None:
        for _ in range(3):
            try:
                return self._start_on(_free_port())
            except _PortTaken:
                continue  # another process took the port between our choosing it and the model binding it
        raise LLMError(f"The language model {self.path} could not get a local port; try again.")

    def _start_on(self, port: int) -> None:
        s = self.settings
        # Only we may use it, not every local user of 127.0.0.1; given in the environment, which other users
        # cannot read, not on the command line, which they can.
        key = secrets.token_urlsafe(24)
        threads = max(1, (os.cpu_count() or 2) // 2 + 1)
        # llama-cpp-python's server also reads its settings from the environment (HOST, PORT, …): a hosting
        # platform's PORT must not move it off the address chosen here.
        env = {k: v for k, v in os.environ.items() if k.upper() not in SERVER_ENV}
        env["API_KEY"] = key
        try:
            with open(self._log, "ab") as out:
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", "qa.answer.models.gguf_server", str(os.getpid()), "--model", str(self.path),
                     "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(s.context), "--n_threads", str(threads),
                     # No keep-alive comments while it writes: a model stuck mid-answer must look silent.
                     "--disable_ping_events", "True", "--verbose", "False"],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                    start_new_session=True)  # Ctrl-C in a terminal stops the server, which stops the model
        except OSError as err:
            raise LLMError(f"Cannot start the language model {self.path}: {err.strerror or err}.") from err
        url = f"http://127.0.0.1:{port}"
        log.info("Starting the language model %s (process %d)", self.name, self._proc.pid)
        deadline = time.monotonic() + START_WITHIN
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through an HTTP proxy
        while True:
            code = self._proc.poll()
            if code is not None:
                if "address already in use" in self._last_line().lower():
                    raise _PortTaken
                raise LLMError(f"Cannot load the language model {self.path}: its process {_exit_words(code)}"
                               f"{self._last_line()}. Is it a complete GGUF file?")
            try:
                req = urllib.request.Request(url + "/v1/models", headers={"Authorization": f"Bearer {key}"})
                with direct.open(req, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self._stop(kill=True)
                raise LLMError(f"The language model {self.path} did not start within {START_WITHIN:.0f} s"
                               f"{self._last_line()}.")
            time.sleep(0.2)
        self._client = OpenAICompatible(replace(s, target=url, api_key=key, model=""), local=True)
        self._client.name = self.name

    def _restart(self) -> None:
        if self._restarted:
            # Started again, and gone again before a single answer: it would only fail once more.
            self._stop()
            self._off = (f"The language model {self.name} stopped again after a restart; answers are quoted from "
                         "the documents until the server restarts (see its log).")
            raise LLMError(self._off)
        self._restarted = True
        self._stop()
        try:
            self._start()
        except LLMError as err:
            self._off = str(err)
            self._stop()
            raise

    def _failed(self, err: LLMError) -> LLMError:
        """The one line for a request that failed: the process died, hung, or the request itself failed."""
        time.sleep(0.1)  # a process that just closed its socket is about to be reaped
        code = self._proc.poll() if self._proc is not None else None
        if code is not None:
            hint = {signal.SIGILL: " (its library was built for another CPU: see docs/written-answers.md)",
                    signal.SIGKILL: " (often the machine running out of memory)"}.get(-code if code < 0 else 0, "")
            log.error("The language model's process %s", _exit_words(code))
            return LLMError(f"The language model {self.name} stopped: its process {_exit_words(code)}{hint}; "
                            "it starts again with the next question.")
        if "sent nothing for" in str(err):
            # A hung model holds its process (one request at a time): stop it; the next question starts it again.
            log.error("The language model's process hung; stopping it")
            self._stop(kill=True)
            return LLMError(f"The language model {self.name} sent nothing for {self.settings.timeout:g} s and was "
                            "stopped; it starts again with the next question.")
        return err

    def _last_line(self) -> str:
        try:
            lines = [ln for ln in self._log.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return ""
        return f" ({lines[-1].strip()[:200]})" if lines else ""


def _exit_words(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code)
            return f"ended on signal {name.name} ({signal.strsignal(name) or ''})".replace(" ()", "")
        except ValueError:
            return f"ended on signal {-code}"
    return f"exited with code {code}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
