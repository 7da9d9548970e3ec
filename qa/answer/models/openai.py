"""Any server that speaks OpenAI's chat completions (llama.cpp's server, vLLM, Ollama, TGI, LM Studio,
OpenAI): the client is httpx, which Gradio already brings."""
from __future__ import annotations

import json
import time
from typing import Iterator

from qa.answer.models.base import LLMError, LLMSettings


class OpenAICompatible:
    """Any server that speaks OpenAI's chat completions (llama.cpp, vLLM, Ollama, TGI, LM Studio, OpenAI)."""

    def __init__(self, settings: LLMSettings, local: bool = False) -> None:
        """``local``: a server qa started on 127.0.0.1, reached directly whatever proxy the environment names."""
        self.settings, self.local = settings, local
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
        last = time.monotonic()
        try:
            with httpx.stream("POST", self.url, json=body, headers=headers, trust_env=not self.local,
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
                        # Keep-alive comments (": ping") come from the server's loop even while the model is
                        # stuck: silence is measured between data lines.
                        if time.monotonic() - last > s.timeout:
                            raise httpx.ReadTimeout("no data")
                        continue
                    last = time.monotonic()
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
