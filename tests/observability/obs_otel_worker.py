"""``selinon-cli`` with an OpenTelemetry SDK provider writing every span as a JSON line.

The spans go to ``$OBS_SPANS_DIR/spans-<pid>.jsonl`` (one file per process): what a user's
exporter (OTLP, Jaeger, ...) would receive, readable by the test.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from typing import Any

from obs_support import record
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult


class JsonLinesExporter(SpanExporter):
    """Appends each span to a file as one JSON object."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        lines = "".join(json.dumps(record(span)) + "\n" for span in spans)
        with self.lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release."""


def main() -> None:
    provider = TracerProvider()
    path = os.path.join(os.environ["OBS_SPANS_DIR"], f"spans-{os.getpid()}.jsonl")
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(path)))
    trace.set_tracer_provider(provider)
    from selinon_backends.cli import main as cli

    raise SystemExit(cli())


if __name__ == "__main__":
    main()
