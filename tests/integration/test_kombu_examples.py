"""Every example's README command gives the same report on two Kombu worker processes.

Each example runs in a copy of ``examples/`` whose in-memory storages become Redis storages
(results must reach every worker process: see ``docs/distributed.md``) and whose queues are
private to the test.  The report of ``selinon-cli run --wait --report -`` must equal the one of
``selinon-cli execute --report -`` on the same copy, ids and order aside.  The examples rotate
over the broker and state-store combinations.
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
from kombu_support import normalized
from ruamel.yaml import YAML
from test_kombu_services import COMBOS, ROOT, Deployment, _from_report, _urls

pytestmark = [pytest.mark.service, pytest.mark.slow]


def _commands() -> list[tuple[str, list[str]]]:
    found = []
    for readme in sorted((ROOT / "examples").glob("*/README.md")):
        for line in readme.read_text(encoding="utf-8").splitlines():
            if line.startswith("$ selinon-cli") and " execute " in line:
                words = shlex.split(line[2:])
                args = words[words.index("execute") + 1 :]
                args = [a for a in args if a not in ("--report", "-", "--fast-forward")]
                found.append((readme.parent.name, args))
    return found


COMMANDS = _commands()


def _private_copy(tmp: Path, queue: str) -> Path:
    apps = tmp / "examples"
    shutil.copytree(ROOT / "examples", apps, ignore=shutil.ignore_patterns("__pycache__"))
    yaml = YAML()
    for nodes in apps.glob("*/nodes.yaml"):
        doc: Any = yaml.load(nodes)
        for storage in doc.get("storages") or []:
            if storage.get("classname") == "InMemoryStorage":
                storage["import"] = "selinon.storages.redis"
                storage["classname"] = "Redis"
                storage["configuration"] = {"host": "127.0.0.1", "port": 6379, "db": 0}
        for task in doc["tasks"]:
            task["queue"] = f"{queue}.tasks"
        doc.setdefault("global", {})["default_dispatcher_queue"] = f"{queue}.flows"
        doc["global"]["default_task_queue"] = f"{queue}.tasks"
        yaml.dump(doc, nodes)
    for flows in apps.glob("*/flows*"):
        files = [flows] if flows.is_file() else list(flows.rglob("*.y*ml"))
        for path in files:
            doc = yaml.load(path)
            for flow in doc["flow-definitions"]:
                flow.pop("queue", None)
            yaml.dump(doc, path)
    return apps


def test_every_example_has_a_command() -> None:
    assert {name for name, _ in COMMANDS} >= {"quickstart", "dinner", "cyclic", "selective"}


@pytest.mark.parametrize(("index", "example"), [(i, c[0]) for i, c in enumerate(COMMANDS)])
def test_example_on_two_workers(tmp_path: Path, index: int, example: str) -> None:
    combo = sorted(COMBOS)[index % len(COMBOS)]
    broker, store = _urls(combo)
    dep = Deployment(tmp_path, broker, store)
    apps = _private_copy(tmp_path, dep.queue)
    _, args = COMMANDS[index]
    args = [str(tmp_path / a) if a.startswith("examples/") else a for a in args]
    nodes = args[args.index("-n") + 1]
    flows = args[args.index("-f") + 1]
    rest = [
        a for i, a in enumerate(args) if a not in ("-n", "-f") and args[i - 1] not in ("-n", "-f")
    ]
    app = ["--app-dir", str(apps)]
    try:
        for _ in range(2):
            worker = dep.cli(*app, "worker", "-n", nodes, "-f", flows, "--broker", broker,
                             "--state-store", store)  # fmt: skip
            dep.start_worker_command(worker)
        expected = dep.call(*app, "execute", "-n", nodes, "-f", flows, *rest,
                            "--report", "-", "--hide-progressbar")  # fmt: skip
        got = dep.call(*app, "run", "-n", nodes, "-f", flows, *rest, "--broker", broker,
                       "--state-store", store, "--wait", "--timeout", "90",
                       "--report", "-")  # fmt: skip
        assert got.returncode == expected.returncode, got.stderr + dep.logs()
        mine, theirs = json.loads(got.stdout), json.loads(expected.stdout)
        assert mine["status"] == theirs["status"]
        assert normalized(_from_report(mine)) == normalized(_from_report(theirs)), dep.logs()
    finally:
        dep.stop()
        dep.delete_queues()
