"""What every language model backend offers (``LanguageModel``), how to reach one (``LLMSettings``), and the
one error all of them raise (``LLMError``): the caller then falls back to the quoted answer, so a model
that is down, slow or refused never costs the user an answer."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator, Protocol

from qa.errors import QAError


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

