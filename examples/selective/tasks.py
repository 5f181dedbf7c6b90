"""Tasks of the selective-run example (they only say what they did)."""

from typing import Any

from selinon_core import SelinonTask


class Fetch(SelinonTask):
    """Fetch the page."""

    def run(self, node_args: Any) -> Any:
        return {"url": (node_args or {}).get("url", ""), "html": "<p>hello</p>"}


class Parse(SelinonTask):
    """Parse the fetched page."""

    def run(self, node_args: Any) -> Any:
        return {"text": self.parent_task_result("Fetch")["html"].strip("<p/>")}


class Index(SelinonTask):
    """Index the parsed text."""

    def run(self, node_args: Any) -> Any:
        return None


class Notify(SelinonTask):
    """Tell someone the page is indexed."""

    def run(self, node_args: Any) -> Any:
        return None


class Thumbnail(SelinonTask):
    """Render a thumbnail."""

    def run(self, node_args: Any) -> Any:
        return None


class Enrich(SelinonTask):
    """Enrich the page (in a sub-flow)."""

    def run(self, node_args: Any) -> Any:
        return None
