"""Ingest articles from JSON arrays or JSONL: validate each record, store the valid ones, report the rest.

- reading.py: files into (line, record) pairs; a record that cannot be parsed costs only itself;
- validate.py: one record into an ArticleData (no id yet), or an InputError naming the field;
- store.py: companies and segments found or created by name (NameStore), articles written in chunks.
"""

from .reading import BAD_BYTE, LineIndex, Rejected, bad_byte_error, decode_text, read_records
from .store import (STORAGE_ERRORS, IngestReport, NameStore, ingest_files, load_aliases, raise_if_disconnected,
                    storage_error, store_article)
from .validate import validate_article

__all__ = [
    "BAD_BYTE", "STORAGE_ERRORS", "IngestReport", "LineIndex", "NameStore", "Rejected", "bad_byte_error",
    "decode_text", "ingest_files", "load_aliases", "raise_if_disconnected", "read_records", "storage_error",
    "store_article", "validate_article",
]
