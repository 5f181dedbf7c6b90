"""``httpStatus`` through the shell's HTTP port, against a loopback server started here."""

from __future__ import annotations

import http.server
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from selinon_backends.http_probe import http_status
from selinon_backends.runtime.engine import Engine
from selinon_backends.selinon_alias import install_as_selinon, uninstall_selinon_alias
from selinon_backends.storage.pool import StoragePool
from selinon_core.config.loader import load_system_from_texts
from selinon_core.dispatch.dispatcher import Dispatcher
from selinon_core.predicates import httpStatus
from selinon_core.testing import DictResults, run_to_completion
from selinon_core.trace import TraceName

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DINNER = (FIXTURES / "selinon_real" / "dinner" / "nodes.yaml").read_text(encoding="utf-8")
RECIPE = "/recipes/how-to-bake-pie.html"


class _Handler(http.server.BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_HEAD(self) -> None:
        self.seen.append(self.path)
        self.send_response(200 if self.path == RECIPE else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        del format, args


@pytest.fixture
def server() -> Iterator[str]:
    """``127.0.0.1:<port>`` of an HTTP server answering HEAD: 200 for the recipe, else 404."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    _Handler.seen = []
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def closed_port() -> str:
    """A loopback address nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def realapps(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(FIXTURES / "pymods"))
    install_as_selinon()
    yield
    uninstall_selinon_alias()
    for name in [n for n in sys.modules if n == "realapps" or n.startswith("realapps.")]:
        del sys.modules[name]


def test_http_status_reports_the_status_code(server: str, closed_port: str) -> None:
    assert http_status(host=server, path=RECIPE) == 200
    assert http_status(host=server, path=RECIPE.lstrip("/")) == 200  # as dinner.yaml writes it
    assert http_status(host=server, path="/nope") == 404
    assert http_status(host=closed_port, path="/", timeout=1.0) is None
    assert _Handler.seen == [RECIPE, RECIPE, "/nope"]


def test_predicate_uses_the_port_it_is_given(server: str) -> None:
    assert httpStatus(server, RECIPE, 200, http_probe=http_status) is True
    assert httpStatus(server, "/nope", 200, http_probe=http_status) is False
    assert httpStatus(server, "/nope", "404", http_probe=http_status) is True
    with pytest.raises(RuntimeError, match="HTTP port"):
        httpStatus(server, RECIPE, 200)


def _dinner(host: str, path: str = "recipes/how-to-bake-pie.html") -> str:
    return DINNER.replace("recipes.lan", host).replace("recipes/how-to-bake-pie.html", path)


def test_dinner_warns_that_the_dispatcher_makes_a_network_call(server: str) -> None:
    system = load_system_from_texts(_dinner(server), environ={})
    (warning,) = [w for w in system.warnings if "httpStatus" in w.message]
    assert "network call from the dispatcher" in warning.message
    assert warning.line == 28  # the line naming httpStatus
    assert _Handler.seen == []  # loading makes no request


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("recipes/how-to-bake-pie.html", ["MakeDoughTask", "WarmUpOvenTask", "BakeTask"]),
        ("recipes/missing.html", []),
    ],
)
def test_dinner_prepare_flow_in_the_engine(server: str, path: str, expected: list[str]) -> None:
    system = load_system_from_texts(_dinner(server, path), environ={})
    run = Engine(system).run_flow("prepareFlow")
    assert run.succeeded
    names = [r.node_name for r in run.runs]
    assert sorted(names[:2]) == sorted(expected[:2])
    assert names[2:] == expected[2:]
    assert len(_Handler.seen) == 1


def test_without_a_port_the_condition_is_false_and_traced(server: str) -> None:
    system = load_system_from_texts(_dinner(server), environ={})
    sim = run_to_completion(Dispatcher(system), "prepareFlow", results=DictResults())
    assert sim.runs == []
    (error,) = [t.details for t in sim.trace if t.name is TraceName.CONDITION_ERROR]
    assert "HTTP port" in error["what"]
    assert _Handler.seen == []


def test_the_pool_port_can_be_replaced_or_removed(server: str) -> None:
    system = load_system_from_texts(_dinner(server), environ={})
    asked: list[tuple[str, str]] = []

    def fake_ok(*, host: str, path: str) -> int:
        asked.append((host, path))
        return 200

    run = Engine(system, storage_pool=StoragePool(system, http_probe=fake_ok)).run_flow(
        "prepareFlow"
    )
    assert len(run.runs) == 3
    assert asked == [(server, "recipes/how-to-bake-pie.html")]
    run = Engine(system, storage_pool=StoragePool(system, http_probe=None)).run_flow("prepareFlow")
    assert run.runs == []
    assert _Handler.seen == []
