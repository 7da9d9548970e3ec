"""qa: ask a folder of documents a question, get an answer with cited passages.

    from qa import Bot
    bot = Bot.load()
    print(bot.ask("How many robots did China install in 2023?").text)
"""
from __future__ import annotations

from qa.errors import QAError
from qa.types import Answer, Citation

__all__ = ["Bot", "Answer", "Citation", "QAError"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # Bot pulls in numpy and faiss; keep `import qa` (and `qa --help`) instant.
    if name == "Bot":
        from qa.bot import Bot

        return Bot
    raise AttributeError(name)
