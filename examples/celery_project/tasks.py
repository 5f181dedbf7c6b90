"""Tasks written for Selinon: they import ``selinon`` and run unchanged on this engine.

``celery_project.app`` calls ``install_as_selinon()`` before anything imports this module, so
``from selinon import ...`` resolves to this project.
"""

from typing import Any

from selinon import FatalTaskError, SelinonTask, StoragePool

PACKAGES = {
    "requests": {"licence": "Apache-2.0", "files": ["api.py", "models.py", "sessions.py"]},
    "leftpad": {"files": ["index.js"]},
}


class FetchMetadata(SelinonTask):
    """Look the package up in the (pretend) registry; fails while the registry is down."""

    def run(self, node_args: Any) -> Any:
        if node_args.get("registry_down"):
            raise ConnectionError("the package registry does not answer")
        package = node_args["package"]
        if package not in PACKAGES:
            raise FatalTaskError(f"no package named {package!r}")  # not retried
        return {"package": package, **PACKAGES[package]}


class UseCachedMetadata(SelinonTask):
    """The fallback of FetchMetadata: what an earlier analysis cached."""

    def run(self, node_args: Any) -> Any:
        return {"package": node_args["package"], "files": [], "cached": True}


class ScanFile(SelinonTask):
    """Scan one file (the foreach hands each file name in ``node_args``)."""

    def run(self, node_args: Any) -> Any:
        return {"file": node_args, "findings": len(str(node_args)) % 3}


class CheckLicence(SelinonTask):
    """Check the licence the package declares (the sub-flow gets the flow's arguments)."""

    def run(self, node_args: Any) -> Any:
        licence = PACKAGES[node_args["package"]].get("licence")
        return {"licence": licence, "approved": licence in ("Apache-2.0", "MIT")}


class Summarize(SelinonTask):
    """Sum the analysis up, reading results through Selinon's class-level StoragePool API."""

    def run(self, node_args: Any) -> Any:
        metadata = StoragePool.retrieve(
            self.flow_name, "FetchMetadata", self.parent["FetchMetadata"]
        )
        licence = self.parent_flow_result("licenceFlow", "CheckLicence")
        storage = StoragePool.get_connected_storage("Results")
        return {
            "package": metadata["package"],
            "files": len(metadata["files"]),
            "licence_approved": licence["approved"],
            "storage": type(storage).__name__,
        }
