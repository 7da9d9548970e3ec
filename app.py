"""Web chat over the documents: `python app.py` (or `make run`), also the Hugging Face Space entry point."""
import argparse
import logging

from qa.serve.server import launch

if __name__ == "__main__":
    p = argparse.ArgumentParser(description="Serve the qa chat.")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1; GRADIO_SERVER_NAME; 0.0.0.0 on a Space)")
    p.add_argument("--port", type=int, help="port (default 7860; GRADIO_SERVER_PORT)")
    p.add_argument("--corpus", help="folder of documents: PDF, HTML, DOCX, Markdown, text (default corpus/)")
    p.add_argument("--index", help="index folder (default index/)")
    p.add_argument("--model", help="sentence-transformers model name or path (default bundled all-MiniLM-L6-v2; QA_MODEL)")
    p.add_argument("--reranker", help="optional cross-encoder that re-orders the top passages (default none; QA_RERANKER)")
    p.add_argument("--llm", help="a language model writes the answers, every sentence checked: a .gguf path or an "
                                 "OpenAI-compatible server's URL (default none; QA_LLM, QA_LLM_MODEL, OPENAI_API_KEY)")
    p.add_argument("--milvus-uri", help="keep the index in Milvus: a .db path (Milvus Lite) or a server URL "
                                        "(default none; QA_MILVUS_URI, QA_MILVUS_TOKEN)")
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("faiss.loader", "httpx", "bm25s"):  # CPU-feature probing and health checks, not news
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        launch(a.host, a.port, corpus=a.corpus, index=a.index, model=a.model, reranker=a.reranker, llm=a.llm, milvus_uri=a.milvus_uri)
    except (OSError, ValueError) as err:  # port taken, bad GRADIO_SERVER_PORT
        raise SystemExit(f"app.py: cannot serve ({err}); pick another port with --port or GRADIO_SERVER_PORT.")
