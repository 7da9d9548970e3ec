"""Language models that write answers: a local GGUF file, or any OpenAI-compatible server.

Optional: no model library is imported unless ``llm=`` / ``--llm`` / ``QA_LLM`` is set. A local model
needs ``pip install "qa[llm]"`` (llama-cpp-python); a server needs nothing more than the default
install (the client is httpx, which Gradio already brings).

Both kinds stream text and fail with one line (``LLMError``): the caller then falls back to the
extractive answer, so a model that is down, slow or refused never costs the user an answer.
"""
from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Protocol

from .errors import QAError


class LLMError(QAError):
    """The language model could not write (not loaded, not reachable, refused, too slow)."""


@dataclass
class LLMSettings:
    """How to reach the model and how much it may write."""

    target: str  # a .gguf path, or the base URL of an OpenAI-compatible server
    model: str = ""  # the server's model name (QA_LLM_MODEL); a GGUF file names itself
    api_key: str = ""  # OPENAI_API_KEY, sent as a bearer token when set
    max_tokens: int = 256
    temperature: float = 0.0  # the same passages give the same answer
    timeout: float = 60.0  # seconds without a token before the request is given up (QA_LLM_TIMEOUT)
    context: int = 4096  # a local model's context window, in tokens

    @classmethod
    def from_env(cls, target: str | None = None, **overrides) -> "LLMSettings | None":
        """``target`` or ``QA_LLM``; None when neither is set (then the bot writes nothing)."""
        target = (target if target is not None else os.environ.get("QA_LLM", "")).strip()
        if not target:
            return None
        values = dict(model=os.environ.get("QA_LLM_MODEL", ""), api_key=os.environ.get("OPENAI_API_KEY", ""))
        if os.environ.get("QA_LLM_TIMEOUT"):
            values["timeout"] = float(os.environ["QA_LLM_TIMEOUT"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(target=target, **values)


class LanguageModel(Protocol):
    name: str

    def stream(self, messages: list[dict], max_tokens: int) -> Iterator[str]:
        """The reply, piece by piece; raises LLMError."""


def connect(settings: LLMSettings) -> LanguageModel:
    """The model ``settings.target`` names: a URL is a server, anything else a local GGUF file."""
    target = settings.target
    if target.startswith(("http://", "https://")):
        return OpenAICompatible(settings)
    return LocalGGUF(settings)


class LocalGGUF:
    """A GGUF model run in this process by llama-cpp-python (one request at a time: it is not re-entrant)."""

    def __init__(self, settings: LLMSettings) -> None:
        path = Path(settings.target).expanduser()
        if not path.is_file():
            raise LLMError(f"No language model at {path}: give the path of a .gguf file, or the URL of an "
                           "OpenAI-compatible server (http://…).")
        try:
            from llama_cpp import Llama
        except ImportError as err:
            raise LLMError('A local GGUF model needs llama-cpp-python: run `pip install "qa[llm]"`, '
                           "or point --llm at an OpenAI-compatible server.") from err
        self.settings = settings
        self.name = settings.model or path.stem
        self._lock = threading.Lock()
        try:
            self._llama = Llama(model_path=str(path), n_ctx=settings.context, verbose=False,
                                n_threads=max(1, (os.cpu_count() or 2) // 2 + 1))
        except Exception as err:  # noqa: BLE001 - llama.cpp raises ValueError/RuntimeError for bad files
            raise LLMError(f"Cannot load the language model {path}: {str(err).splitlines()[0] if str(err) else type(err).__name__}. "
                           "Is it a complete GGUF file?") from err

    def stream(self, messages: list[dict], max_tokens: int) -> Iterator[str]:
        with self._lock:
            try:
                for part in self._llama.create_chat_completion(messages=messages, max_tokens=max_tokens,
                                                               temperature=self.settings.temperature, stream=True):
                    text = part["choices"][0].get("delta", {}).get("content")
                    if text:
                        yield text
            except Exception as err:  # noqa: BLE001
                raise LLMError(f"The language model {self.name} failed: {str(err).splitlines()[0] if str(err) else type(err).__name__}.") from err


class OpenAICompatible:
    """Any server that speaks OpenAI's chat completions (llama.cpp, vLLM, Ollama, TGI, LM Studio, OpenAI)."""

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        base = settings.target.rstrip("/")
        self.url = (base if base.endswith("/v1") else base + "/v1") + "/chat/completions"
        self.name = settings.model or "the model at " + base

    def stream(self, messages: list[dict], max_tokens: int) -> Iterator[str]:
        import httpx

        s = self.settings
        headers = {"Authorization": f"Bearer {s.api_key}"} if s.api_key else {}
        body = {"messages": messages, "max_tokens": max_tokens, "temperature": s.temperature, "stream": True}
        if s.model:
            body["model"] = s.model
        where = self.url.rsplit("/chat/completions", 1)[0]
        try:
            with httpx.stream("POST", self.url, json=body, headers=headers,
                              timeout=httpx.Timeout(s.timeout, connect=min(10.0, s.timeout))) as r:
                if r.status_code in (401, 403):
                    raise LLMError(f"The language model server at {where} refused the key ({r.status_code}): "
                                   "set OPENAI_API_KEY to a key it accepts.")
                if r.status_code >= 400:
                    r.read()
                    raise LLMError(f"The language model server at {where} answered {r.status_code}: "
                                   f"{_server_message(r.text)}. Check QA_LLM_MODEL and the server's log.")
                for line in r.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        choice = json.loads(data)["choices"][0]
                    except (ValueError, KeyError, IndexError, TypeError):
                        continue  # keep-alives and extensions
                    text = (choice.get("delta") or {}).get("content")
                    if text:
                        yield text
        except httpx.TimeoutException as err:
            raise LLMError(f"The language model server at {where} sent nothing for {s.timeout:g} s: "
                           "it may be overloaded; raise QA_LLM_TIMEOUT or try again.") from err
        except httpx.HTTPError as err:
            raise LLMError(f"Cannot reach the language model server at {where} ({type(err).__name__}): "
                           "is it running, and is the URL right?") from err


def _server_message(body: str) -> str:
    try:
        err = json.loads(body).get("error")
        return str(err.get("message") if isinstance(err, dict) else err or body)[:200]
    except (ValueError, AttributeError):
        return body[:200] or "no message"
