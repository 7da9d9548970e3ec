"""The store: where an index lives, and how it is built, changed, saved and searched.

An index (``Index``, in ``record``) is a row of per-document segments (``segments``): passages and their
sentences, their vectors (``vectors``), BM25 terms (``lexical``), compact records (``records``) and
near-duplicate groups (``duplicates``). It is saved atomically and loaded by ``persist``; ``freshness``
says whether it still matches its folder. A large index takes changes without being rebuilt: a small
delta beside its saved files, and tombstones (``layers``, ``layered_bm25``, ``delta``).

Two backends keep it behind one ``Store`` interface (``base``): ``FaissStore`` (a folder on disk,
searched in memory with FAISS; the default) and ``MilvusStore`` (Milvus Lite or a Milvus server).
"""
from qa.store.base import OpenRequest, Search, Store
from qa.store.faiss import FaissStore
from qa.store.freshness import (
                                SAMPLED,
                                changes,
                                file_digest,
                                file_hashes,
                                file_sha,
                                note_skipped,
                                only_tokenizer_changed,
                                settings_changed,
                                staleness,
                                text_hash,
)
from qa.store.persist import (
                                compact,
                                document_record,
                                layout_outdated,
                                load,
                                read_manifest,
                                recover,
                                save,
)
from qa.store.record import FORMAT_VERSION, MANIFEST, Index, IndexSettings
from qa.store.segments import (
                                Segment,
                                build,
                                build_from_folder,
                                embed_text,
                                lexical_text,
                                refresh,
                                retokenized,
                                sample,
                                update,
)

__all__ = [
    "FaissStore", "OpenRequest", "Search", "Store",
    "FORMAT_VERSION", "MANIFEST", "SAMPLED", "Index", "IndexSettings", "Segment", "build", "build_from_folder", "changes", "compact",
    "document_record", "embed_text", "file_digest", "file_hashes", "file_sha", "layout_outdated", "lexical_text", "load",
    "note_skipped", "only_tokenizer_changed", "read_manifest", "recover", "refresh", "retokenized", "sample", "save",
    "settings_changed", "staleness", "text_hash", "update",
]
