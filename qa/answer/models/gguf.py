"""A local GGUF model run by llama-cpp-python (``pip install "qa[llm]"``)."""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Iterator

from qa.answer.models.base import LLMError, LLMSettings


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


