"""docs/migrating-from-selinon.md says what is true of this checkout.

* Its ``console`` blocks run from the repository root and print what the page shows (see
  ``docs_console``); a block written ```` ```console services=redis ```` needs Redis. Other
  fenced blocks (``sh``, ``python``, ``diff``, ``text``) are read, not run.
* Its relative links resolve.
* Its API tables agree with ``install_as_selinon()``, ``Config`` and ``StoragePool``: a name
  is marked "not provided" exactly when it is missing, every module path it names imports,
  and it covers every public name of Selinon 1.4.0.
* Its CLI table names only commands and options that ``selinon-cli`` accepts.
* The diff of the Celery app module matches ``examples/celery_project/app.py``.
* A real Celery worker of the example discards Selinon's messages, as the page says.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docs_console import FENCE, ConsoleBlock, broken_links, parse_commands, run_block
from tests.services import require_redis

from selinon_backends.celery import Config
from selinon_backends.selinon_alias import install_as_selinon, uninstall_selinon_alias
from selinon_backends.storage.pool import CLASS_LEVEL_METHODS, StoragePool

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "migrating-from-selinon.md"
TEXT = PAGE.read_text(encoding="utf-8")
APP_MODULE = ROOT / "examples" / "celery_project" / "app.py"
CLI = [sys.executable, "-c", "from selinon_backends.cli import main; raise SystemExit(main())"]

SELINON_PUBLIC_NAMES = frozenset(
    # What Selinon 1.4.0's selinon/__init__.py imports (its __version__ and metadata aside).
    (
        "Cache",
        "Config",
        "DataStorage",
        "Dispatcher",
        "SelinonMissingDataException",
        "CacheMissError",
        "ConfigNotInitializedError",
        "ConfigurationError",
        "FatalTaskError",
        "FlowError",
        "NoParentNodeError",
        "RequestError",
        "Retry",
        "SelectiveNoPathError",
        "StorageError",
        "UnknownError",
        "UnknownFlowError",
        "UnknownStorageError",
        "run_flow",
        "run_flow_selective",
        "SelinonTask",
        "Storage",
        "StoragePool",
        "SystemState",
        "Trace",
        "selinon_version",
        "selinon_version_codename",
    )
)
SELINON_CONFIG_METHODS = frozenset(
    (
        "set_celery_app",
        "set_config_yaml",
        "set_config_dict",
        "set_config_py",
        "init",
        "trace_by_func",
        "trace_by_logging",
        "trace_by_json",
        "trace_by_sentry",
    )
)
SELINON_POOL_CLASS_METHODS = frozenset(
    (
        "get_storage_name_by_task_name",
        "get_storage_by_task_name",
        "get_connected_storage",
        "retrieve",
        "set",
        "delete",
        "set_error",
    )
)
ROW = re.compile(r"^\|(?P<first>(?:[^|\\]|\\.)*)\|(?P<second>.*)\|$", re.MULTILINE)
DOTTED = re.compile(r"`((?:selinon_core|selinon_backends|importlib)(?:\.\w+)+)`")
OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


# ---------------------------------------------------------------------- reading the page


def section(heading: str) -> str:
    """The text under ``heading`` up to the next heading."""
    start = TEXT.index(f"\n{heading}\n") + len(heading) + 2
    following = re.compile(r"^#{1,6} ", re.MULTILINE).search(TEXT, start)
    return TEXT[start : following.start() if following else len(TEXT)]


def table_rows(text: str) -> list[tuple[str, str]]:
    """``(first cell, rest)`` of each body row of the markdown tables in ``text``."""
    rows = [
        (m["first"].strip().replace("\\|", "|"), m["second"].strip()) for m in ROW.finditer(text)
    ]
    headers = ("Selinon", "Selinon 1.4.0")
    return [(a, b) for a, b in rows if not (set(a) <= {"-"} and a) and a not in headers]


def console_blocks() -> list[tuple[ConsoleBlock, tuple[str, ...]]]:
    """Every ``console`` block with the services its info string asks for."""
    blocks: list[tuple[ConsoleBlock, tuple[str, ...]]] = []
    for match in FENCE.finditer(TEXT):
        words = match["info"].split()
        if not words or words[0] != "console":
            continue
        services = tuple(
            name for word in words[1:] if word.startswith("services=")
            for name in word.removeprefix("services=").split(",")
        )  # fmt: skip
        line = TEXT.count("\n", 0, match.start()) + 1
        page = str(PAGE.relative_to(ROOT))
        block = ConsoleBlock(page, len(blocks) + 1, line, (), parse_commands(match["body"]))
        blocks.append((block, services))
    return blocks


BLOCKS = console_blocks()
REQUIRE = {"redis": require_redis}


def resolve(dotted: str) -> Any:
    """The object ``dotted`` names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            found = getattr(found, name)
        return found
    raise AssertionError(f"{dotted}: nothing of it imports")


@pytest.fixture
def selinon_alias() -> Iterator[Any]:
    """The ``selinon`` module of ``install_as_selinon()``; uninstalled after unless it was
    already installed before the test."""
    already = getattr(sys.modules.get("selinon"), "__selinon_alias__", False) or any(
        type(finder).__name__ == "_SelinonFinder" for finder in sys.meta_path
    )
    if not install_as_selinon():
        pytest.skip("a real selinon package is importable here; the alias stays out of its way")
    try:
        yield importlib.import_module("selinon")
    finally:
        if not already:
            uninstall_selinon_alias()


# ---------------------------------------------------------------------- the commands


@pytest.mark.slow
@pytest.mark.parametrize("block", BLOCKS, ids=lambda item: f"line{item[0].line}")
def test_console_block(block: tuple[ConsoleBlock, tuple[str, ...]]) -> None:
    console, services = block
    for service in services:
        REQUIRE[service]()
    run_block(console, ROOT)


def test_the_page_shows_every_step() -> None:
    commands = [command.line for block, _ in BLOCKS for command in block.commands]
    assert any(c.startswith("selinon-cli --app-dir examples inspect") for c in commands)
    assert any(c.startswith("selinon-cli --app-dir examples execute") for c in commands)
    assert any("install_as_selinon()" in c for c in commands)
    assert all(command.expected for block, _ in BLOCKS for command in block.commands)
    for shown in (
        "pip install 'selinon-ng[celery,redis]'",
        "celery -A celery_project.app worker",
        "selinon-cli status ",
        "--state-store redis://127.0.0.1:6379/0",
        "--wait --report -",
        "inspect scheduled",
    ):
        assert shown in TEXT, shown


def test_links_resolve() -> None:
    assert broken_links(PAGE) == []


# ---------------------------------------------------------------------- the API tables


def test_api_table_covers_selinon_and_agrees_with_the_alias(selinon_alias: Any) -> None:
    rows = {
        first.strip("`"): rest
        for first, rest in table_rows(section("## Selinon's Python API, name by name"))
    }
    assert set(rows) == SELINON_PUBLIC_NAMES
    for name, text in rows.items():
        marked_missing = "not provided" in text
        try:
            found = getattr(selinon_alias, name)
        except (AttributeError, ImportError):
            assert marked_missing, f"selinon.{name} is missing but the page offers it"
            continue
        assert not marked_missing, f"selinon.{name} exists but the page says 'not provided'"
        named = DOTTED.findall(text)
        assert named, f"the row of {name} names no module path"
        assert resolve(named[0]) is found, f"selinon.{name} is not {named[0]}"


def test_every_path_the_page_names_imports() -> None:
    paths = set(DOTTED.findall(TEXT))
    assert len(paths) > 20
    for dotted in sorted(paths):
        resolve(dotted)


def test_config_table_agrees_with_the_shim() -> None:
    rows = table_rows(section("### `Config`"))
    methods = {}
    for first, rest in rows:
        match = re.fullmatch(r"`Config\.(\w+)\(.*\)`", first)
        assert match, first
        methods[match[1]] = "not provided" not in rest
    assert set(methods) >= SELINON_CONFIG_METHODS
    assert {name: hasattr(Config, name) for name in methods} == methods


def test_storage_pool_table_agrees_with_the_class_level_methods() -> None:
    rows = table_rows(section("### `StoragePool` called on the class"))
    offered = {}
    for first, rest in rows:
        match = re.fullmatch(r"`StoragePool\.(\w+)\((.*)\)`", first)
        assert match, first
        name, params = match[1], [p.split("=")[0].strip() for p in match[2].split(",")]
        offered[name] = provided = "not provided" not in rest
        if provided:
            left_out = set(re.findall(r"without `(\w+)`", rest))
            assert name in CLASS_LEVEL_METHODS, f"StoragePool.{name} is not offered on the class"
            method = StoragePool.__dict__[name].__func__
            actual = list(inspect.signature(method).parameters)[1:]  # after self
            assert actual == [p for p in params if p not in left_out], name
    assert set(offered) == SELINON_POOL_CLASS_METHODS
    assert {name for name, provided in offered.items() if provided} <= set(CLASS_LEVEL_METHODS)
    assert {name for name, provided in offered.items() if not provided}.isdisjoint(
        CLASS_LEVEL_METHODS
    )


# ---------------------------------------------------------------------- the CLI table


def help_text(*command: str) -> str:
    done = subprocess.run(
        [*CLI, *command, "--help"],
        capture_output=True, text=True, timeout=60, check=True,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )  # fmt: skip
    return done.stdout


def test_cli_table_names_what_selinon_cli_accepts() -> None:
    rows = table_rows(section("## The command line"))
    top = help_text()
    checked = 0
    for first, rest in rows:
        if not first:  # a row of what is new: its commands and global options
            for token in re.findall(r"`([^`]+)`", rest):
                word = token.split()[0]
                if word.startswith("-"):
                    assert re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", top), word
                else:
                    assert re.search(rf"^\s+{word}\s", top, re.MULTILINE), word
                checked += 1
            continue
        words = first.strip("`").split()
        command = None if words[0].startswith("-") else words[0]
        text = help_text(command) if command else top
        rejected = set(re.findall(r"`(--?[\w-]+)` is not accepted", rest))
        for option in set(OPTION.findall(first)) - rejected:
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), (command, option)
            checked += 1
        for option in rejected:
            assert option not in text, (command, option)
    assert checked > 40


# ---------------------------------------------------------------------- the app module


def test_app_module_diff_matches_the_example() -> None:
    body = next(m["body"] for m in FENCE.finditer(TEXT) if m["info"].strip() == "diff")
    app = APP_MODULE.read_text(encoding="utf-8").splitlines()
    hunks = re.split(r"^@@.*@@$\n", body, flags=re.MULTILINE)[1:]
    assert len(hunks) == 3
    for hunk in hunks:
        lines = hunk.splitlines()
        after = [line[1:] for line in lines if line[:1] in (" ", "+", "")]
        before = [line[1:] for line in lines if line[:1] in (" ", "-", "")]
        assert any(app[i : i + len(after)] == after for i in range(len(app))), after
        assert "install_as_selinon()" not in before
        assert not any("set_state_store" in line for line in before)


# ---------------------------------------------------------------------- Selinon's messages


def stop_worker(worker: subprocess.Popen[bytes]) -> None:
    """A warm shutdown (SIGTERM), then SIGKILL of whatever is left of the worker's group."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)


def wait_for_lines(log: Path, needles: list[str], timeout: float) -> str:
    """The log once it holds every needle (it fails after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if all(needle in text for needle in needles):
            return text
        time.sleep(0.2)
    raise AssertionError(f"the worker did not log {needles} in {timeout}s:\n{text}")


@pytest.mark.service
@pytest.mark.slow
def test_a_new_worker_discards_selinons_messages(tmp_path: Path) -> None:
    """The page's account of a leftover ``selinon.Dispatcher`` message, on a real worker."""
    import redis
    from celery import Celery

    url = require_redis()
    shutil.copytree(ROOT / "examples" / "celery_project", tmp_path / "celery_project")
    queue = f"selinon-migrating-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "CELERY_BROKER_URL": url,
        "CELERY_DEFAULT_QUEUE": queue,
        "SELINON_STATE_STORE": url,
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "celery_project.app", "worker", "-Q", queue,
             "-P", "solo", "--loglevel", "INFO", "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-n", f"{queue}@%h"],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    client = redis.Redis.from_url(url)
    old = Celery("selinon_1x_client", broker=url)
    try:
        flow = old.send_task(
            "selinon.Dispatcher",
            kwargs={"flow_name": "analysisFlow", "node_args": {"package": "requests"}},
            queue=queue,
        )
        old.send_task(
            "selinon.SelinonTaskEnvelope",
            kwargs={"task_name": "FetchMetadata", "flow_name": "analysisFlow", "parent": {},
                    "node_args": {"package": "requests"}, "dispatcher_id": flow.id},
            queue=queue,
        )  # fmt: skip
        text = wait_for_lines(
            log,
            [
                "Received unregistered task of type 'selinon.Dispatcher'",
                "Received unregistered task of type 'selinon.SelinonTaskEnvelope'",
            ],
            timeout=60,
        )
        assert text.count("The message has been ignored and discarded.") == 2
        assert "ERROR/MainProcess" in text
        stop_worker(worker)  # a warm shutdown requeues what is unacknowledged: nothing here
        assert worker.returncode == 0, log.read_text()
        assert client.llen(queue) == 0
        assert ". selinon.dispatch" in text  # the [tasks] banner
        assert ". selinon.run_task" in text
    finally:
        stop_worker(worker)
        old.close()
        client.delete(queue)
        client.close()
