"""Language models that write answers: a local GGUF file (``gguf``), or any OpenAI-compatible server
(``openai``), both behind one interface (``base.LanguageModel``).

Optional: no model library is imported unless ``llm=`` / ``--llm`` / ``QA_LLM`` is set. A new backend is
one file here with a class that has ``name`` and ``stream(messages, max_tokens)``, and one line in
``connect``.
"""
from __future__ import annotations

from qa.answer.models.base import LanguageModel, LLMError, LLMSettings
from qa.answer.models.gguf import LocalGGUF
from qa.answer.models.openai import OpenAICompatible


def connect(settings: LLMSettings) -> LanguageModel:
    """The model ``settings.target`` names: a URL is a server, anything else a local GGUF file."""
    if settings.target.startswith(("http://", "https://")):
        return OpenAICompatible(settings)
    return LocalGGUF(settings)


__all__ = ["LLMError", "LLMSettings", "LanguageModel", "LocalGGUF", "OpenAICompatible", "connect"]
