"""Answer: a question becomes an ``Answer`` with cited, highlighted passages.

``pipeline.Answerer`` runs one question top to bottom: ``query`` folds in the chat history and reads the
question's form; ``retrieval`` fuses the store's candidates (calibrated to the collection by
``calibration``); ``rerank`` optionally re-orders them; ``compose`` chooses each passage's answering
sentence (with ``evidence``), decides whether to abstain and words the answer. With a language model
(``models``: GGUF or an OpenAI-compatible server, one interface), ``writer`` writes the answer and
``checker`` checks every sentence of it against the passages it cites.
"""
