"""The foreach function of analysisFlow: one ScanFile per file of the package."""

from typing import Any


def files_of(storage_pool: Any, node_args: Any) -> list[str]:
    """The files FetchMetadata found (read from its stored result)."""
    metadata = storage_pool.get("FetchMetadata")
    return list(metadata.get("files", []))
