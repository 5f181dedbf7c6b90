"""Distributed runtime benchmark: Kombu workers on RabbitMQ and Redis, side by side with Celery.

Run ``python benchmarks/distributed.py`` (``--quick`` for a short smoke run, ``--brokers redis``
for one broker, ``--runtimes ours`` for our runtime alone, ``--runtimes ours,celery,selinon`` to
add Selinon 1.4.0, ``--runtimes shim,selinon`` for this engine through the Celery shim against
Selinon 1.4.0 on the same Celery).  For each broker and runtime it starts the workers
(``--processes`` (2) ``selinon-cli worker`` subprocesses; one ``celery worker --pool prefork -c
<processes>`` for the Celery canvas, for Selinon and for the shim), runs every case, stops them
with SIGTERM (killed after 15 s), then prints a table and writes JSON to
``benchmarks/results/distributed.json``.

Runtimes: ``ours`` (the Kombu workers), ``celery`` (a plain Celery canvas), ``selinon``
(Selinon 1.4.0 with its default sampling, in a venv of its own, :func:`selinon_python`) and
``shim`` (``selinon_backends.celery``: the Celery app module :mod:`distbench_shim_app` as a
Selinon deployment writes it, on this directory's YAML, with Selinon's worker settings:
:func:`selinon_worker`).  Selinon runs a short chain (``--selinon-chain``, 3) and the foreach +
join at most 1,000 wide; when it runs, the shim runs those sizes too, so that every Selinon
figure has a shim figure beside it, and a closing table puts the two side by side for every
broker.

Cases (the YAML is ``benchmarks/dist_app/``; the Celery canvas is the same shape):

* ``chain N`` (10 and 1,000): N trivial tasks one after the other.  Latency is task end to
  next task start, each task noting ``time.time()`` at its start and end in a Redis list
  (:mod:`distbench_tasks`); p50 and p99 over every hop of ``--chain-runs`` runs of the small
  chain and one run of the long one.  Ours: a Counter task cycling on a condition over its
  stored result (Redis storage); Celery: ``chain(noop.si(...) * N)``.
* ``fanout N`` (1,000): one task, then a foreach of N tasks (Celery: the task, then a group);
  tasks/s = (N + 1) / wall time from starting the flow to the wait returning.
* ``fanjoin N`` (10,000): one task, a foreach of N tasks in a sub-flow, then a join task
  (Celery: the task, then a chord).  Reports the wall time, the time per 1,000 completions in
  each tenth of the foreach (flat = a constant cost per event) and the lag from the last
  foreach task's end to the join's start.
* Both fan-outs also report ``start_lag_ms`` (starting the flow to its first task's start),
  ``finish_lag_ms`` (its last task's end to the wait returning) and ``running_tasks_per_s``
  (tasks / first task's start to last task's end).  Selinon's ``start_lag_ms`` includes its
  client's start-up (a subprocess in Selinon's venv; its ``wall_s`` does not).

Isolation: every queue name carries a per-run id (``{DISTBENCH_ID}`` in the YAML), and every
Redis key (state store, journal, results, Kombu's Redis transport, Celery results) lives in
the private database ``--redis-db`` (12), which must be empty when the run starts and is
flushed when it ends; the run's RabbitMQ queues and exchanges are deleted.

Ratios in the table ("A vs B") are > 1 when A is faster.  ``duplicates`` counts task
runs that repeated a task id (the task ran more than once); latencies and trends use each
task's first run.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import venv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
APP = HERE / "dist_app"
sys.path.insert(0, str(APP))

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
STOP_GRACE = 15.0
"""Seconds a worker has to exit after SIGTERM before it is killed."""
SHIM_ID = "{run_id}.shim"
"""The shim's ``DISTBENCH_ID``: its queues and storage keys apart from ours (a Kombu message
left in a shared queue would be a poison message to a Celery worker, and the other way)."""
QUEUE_SUFFIXES = (
    *("tasks", "flows", "celery", "selinon", "selinon_tasks", "selinon_flows"),
    *("shim.tasks", "shim.flows", "shim.celery"),
)
"""Queues of a run: ``<run id>.<suffix>`` (ours, Celery's, Selinon's, the shim's)."""
WARMUP_TIMEOUT = 60.0
"""Seconds the warm-up flows may take (more means the workers are not working)."""
FlowRunner = Callable[[str, int, float], Callable[[str], float]]
"""``flow(name, n, timeout)``: a function that runs flow ``name`` once with a record key."""


@dataclass
class Settings:
    """What to run (from the command line)."""

    brokers: list[str]
    chains: list[int]
    fanout: int
    fanjoin: int
    chain_runs: int
    processes: int
    concurrency: int
    runtimes: list[str]
    selinon_chain: int
    redis_db: int
    timeout: float


@dataclass
class Target:
    """One broker's URLs and the run's private names."""

    broker: str
    name: str
    run_id: str
    redis_url: str

    def env(self) -> dict[str, str]:
        """The environment of the workers (and of the YAML's ``{NAME}`` expansion)."""
        db = self.redis_url.rsplit("/", 1)[1]
        return {
            **os.environ,
            "DISTBENCH_ID": self.run_id,
            "DISTBENCH_REDIS_PORT": str(REDIS_PORT),
            "DISTBENCH_REDIS_DB": db,
            "DISTBENCH_RECORD_URL": self.redis_url,
            "DISTBENCH_BROKER": self.broker,
            "DISTBENCH_RESULT_BACKEND": self.redis_url,
            "PYTHONPATH": os.pathsep.join([str(APP), os.environ.get("PYTHONPATH", "")]),
        }


# --------------------------------------------------------------------------- measurements


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q`` percentile (0..100) of ``values``."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


Record = tuple[float, float, str]
"""A task run as the task noted it: start, end (``time.time()``) and task id."""


def read_runs(redis_client: Any, key: str) -> tuple[list[Record], int]:
    """The first run of every task that pushed to ``key`` (by start time) and how many runs
    repeated a task id already seen (a task run more than once)."""
    first: dict[str, Record] = {}
    total = 0
    for raw in redis_client.lrange(key, 0, -1):
        start, end, ident = raw.split()
        total += 1
        record = (float(start), float(end), ident)
        if ident not in first or record < first[ident]:
            first[ident] = record
    return sorted(first.values()), total - len(first)


def hops(records: list[Record]) -> list[float]:
    """Seconds from each task's end to the next task's start (a chain's tasks, by start)."""
    return [nxt[0] - prev[1] for prev, nxt in itertools.pairwise(records)]


def completion_trend(records: list[Record], parts: int = 10) -> list[float]:
    """Milliseconds per 1,000 completions in each of ``parts`` slices of the end times."""
    ends = sorted(end for _, end, _ in records)
    size = len(ends) // parts
    if size < 2:
        return []
    slices = [ends[i * size : (i + 1) * size] for i in range(parts)]
    return [round((s[-1] - s[0]) / (len(s) - 1) * 1e6, 1) for s in slices]


@dataclass
class Case:
    """One measured case on one runtime (``tasks``: distinct tasks that ran)."""

    case: str
    n: int
    runtime: str
    wall_s: float = 0.0
    tasks: int = 0
    duplicates: int = 0
    ok: bool = True
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON row."""
        row = {k: v for k, v in vars(self).items() if k != "extra"}
        row["wall_s"] = round(self.wall_s, 4)
        return {**row, **self.extra}


def collect(rc: Any, keys: list[str]) -> tuple[list[list[Record]], int, int]:
    """:func:`read_runs` of every key; total distinct tasks and total duplicates."""
    found = [read_runs(rc, key) for key in keys]
    return [runs for runs, _ in found], sum(len(r) for r, _ in found), sum(d for _, d in found)


def chain_case(runtime: str, n: int, runs: int, run_one: Callable[[str], float], rc: Any) -> Case:
    """Run a chain of ``n`` tasks ``runs`` times; latency percentiles over every hop."""
    latencies: list[float] = []
    walls = []
    result = Case("chain", n, runtime)
    for index in range(runs):
        key = f"chain:{n}:{index}:{uuid.uuid4().hex[:6]}"
        walls.append(run_one(key))
        (records,), tasks, dups = collect(rc, [key])
        result.tasks += tasks
        result.duplicates += dups
        latencies.extend(hops(records))
    result.wall_s = min(walls)
    result.ok = result.tasks == n * runs
    if latencies:
        result.extra = {
            "runs": runs,
            "latency_p50_ms": round(percentile(latencies, 50) * 1000, 3),
            "latency_p99_ms": round(percentile(latencies, 99) * 1000, 3),
            "latency_max_ms": round(max(latencies) * 1000, 3),
            "samples": len(latencies),
        }
    return result


def timed(run_one: Callable[[str], float], key: str) -> tuple[float, float, float]:
    """``run_one(key)``'s wall time, and the epoch times just before and just after it."""
    submitted = time.time()
    wall = run_one(key)
    return wall, submitted, time.time()


def lags(records: list[Record], submitted: float, returned: float) -> dict[str, float]:
    """Milliseconds from starting the flow to its first task's start, and from its last task's
    end to the wait returning (``records``: every task of the flow); and tasks/s while tasks
    ran (first task's start to last task's end: the workers' rate, without the time a flow
    takes to start and to be seen finished)."""
    first = min(start for start, _, _ in records)
    last = max(end for _, end, _ in records)
    return {
        "start_lag_ms": round((first - submitted) * 1000, 2),
        "finish_lag_ms": round((returned - last) * 1000, 2),
        "running_tasks_per_s": round(len(records) / (last - first), 1) if last > first else 0.0,
    }


def fanout_case(runtime: str, n: int, run_one: Callable[[str], float], rc: Any) -> Case:
    """Run the ``n``-way foreach once; tasks/s over the whole flow."""
    key = f"fanout:{n}:{uuid.uuid4().hex[:6]}"
    wall, submitted, returned = timed(run_one, key)
    (head, workers), tasks, dups = collect(rc, [f"{key}:Task1", f"{key}:Worker"])
    result = Case("fanout", n, runtime, wall, tasks, dups, ok=tasks == n + 1)
    result.extra = {"tasks_per_s": round(tasks / wall, 1)}
    if head and workers:
        result.extra.update(lags(head + workers, submitted, returned))
    return result


def fanjoin_case(runtime: str, n: int, run_one: Callable[[str], float], rc: Any) -> Case:
    """Run the ``n``-way foreach + join once; wall time, completion trend and join lag."""
    key = f"fanjoin:{n}:{uuid.uuid4().hex[:6]}"
    wall, submitted, returned = timed(run_one, key)
    (head, workers, joins), tasks, dups = collect(
        rc, [f"{key}:Task1", f"{key}:Worker", f"{key}:Join"]
    )
    result = Case("fanjoin", n, runtime, wall, tasks, dups, ok=tasks == n + 2)
    trend = completion_trend(workers)
    result.extra = {
        "tasks_per_s": round(tasks / wall, 1),
        "ms_per_1000_completions": trend,
        "trend_last_over_first": round(trend[-1] / trend[0], 2) if trend and trend[0] else None,
    }
    if head and workers and joins:
        last_end = max(end for _, end, _ in workers)
        result.extra["join_lag_ms"] = round((joins[0][0] - last_end) * 1000, 2)
        result.extra.update(lags(head + workers + joins, submitted, returned))
    return result


# --------------------------------------------------------------------------- processes


class Processes:
    """Worker subprocesses, each in its own session; stopped with SIGTERM, then killed."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self, args: list[str], env: dict[str, str], label: str) -> None:
        """Start ``args`` with its output in a log file of ``logdir``."""
        log = self.logdir / f"{label}-{len(self.procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs.append((proc, log))

    def check_alive(self) -> None:
        """Raise with the log's tail when a worker exited."""
        for proc, log in self.procs:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace").splitlines()[-15:]
                raise RuntimeError(f"worker exited ({proc.returncode}):\n" + "\n".join(tail))

    def stop(self) -> list[int | None]:
        """SIGTERM every worker's process group, wait, kill the stragglers; exit codes."""
        for proc, _ in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        codes = []
        for proc, _ in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            codes.append(proc.returncode)
        self.procs.clear()
        return codes


@contextlib.contextmanager
def running(args_list: list[list[str]], env: dict[str, str], label: str) -> Iterator[Processes]:
    """Run the worker subprocesses for the ``with`` body; always stop them."""
    logdir = Path(tempfile.mkdtemp(prefix=f"distbench-{label}-"))
    procs = Processes(logdir)
    try:
        for args in args_list:
            procs.start(args, env, label)
        yield procs
    finally:
        codes = procs.stop()
        if any(code not in (0, -signal.SIGTERM) for code in codes):
            print(f"  {label} workers exited with {codes}; logs in {logdir}", file=sys.stderr)
        else:
            shutil.rmtree(logdir, ignore_errors=True)


# --------------------------------------------------------------------------- our runtime


def ours(target: Target, settings: Settings, rc: Any, rows: list[Case]) -> None:
    """Every case on ``--processes`` ``selinon-cli worker`` processes."""
    from selinon_backends.kombu import Client
    from selinon_core.config.loader import load_system

    env = target.env()
    system = load_system(APP / "nodes.yaml", [APP / "flows.yaml"], environ=env)
    cli = shutil.which("selinon-cli") or "selinon-cli"
    command = [cli, "worker", "-n", str(APP / "nodes.yaml"), "-f", str(APP / "flows.yaml")]
    command += ["--broker", target.broker, "--state-store", target.redis_url]
    command += ["-c", str(settings.concurrency)]
    with (
        running([command] * settings.processes, env, f"ours-{target.name}") as procs,
        Client(system, broker=target.broker, state_store=target.redis_url) as client,
    ):

        def flow(name: str, n: int, timeout: float) -> Callable[[str], float]:
            def run_one(key: str) -> float:
                procs.check_alive()
                started = time.perf_counter()
                flow_id = client.run_flow(name, {"n": n, "key": key})
                report = client.wait(flow_id, timeout=timeout)
                wall = time.perf_counter() - started
                if not report.succeeded:
                    raise RuntimeError(f"flow {name} n={n} {flow_id}: {report.status}")
                return wall

            return run_one

        warm_up(flow, settings)
        cases("ours", target, settings, flow=flow, rc=rc, rows=rows)


def warm_up(flow: FlowRunner, settings: Settings) -> None:
    """A small fan-out and chain first: workers consuming, connections and imports warm."""
    timeout = min(WARMUP_TIMEOUT, settings.timeout)
    flow("fanout", 4 * settings.processes, timeout)("warmup:fanout")
    flow("chain", 3, timeout)("warmup:chain")


def cases(
    runtime: str,
    target: Target,
    settings: Settings,
    *,
    flow: FlowRunner,
    rc: Any,
    rows: list[Case],
) -> None:
    """The chain, fan-out and fan-out + join cases with ``flow(name, n, timeout)`` runners
    (each measured case is appended to ``rows`` at once, so a later failure keeps it)."""
    timeout = settings.timeout
    for n in settings.chains:
        runs = settings.chain_runs if n <= 100 else 1
        rows.append(chain_case(runtime, n, runs, flow("chain", n, timeout), rc))
        print_case(target.name, rows[-1])
    rows.append(fanout_case(runtime, settings.fanout, flow("fanout", settings.fanout, timeout), rc))
    print_case(target.name, rows[-1])
    rows.append(
        fanjoin_case(runtime, settings.fanjoin, flow("fanjoin", settings.fanjoin, timeout), rc)
    )
    print_case(target.name, rows[-1])


# --------------------------------------------------------------------------- Celery


def celery_side(target: Target, settings: Settings, rc: Any, rows: list[Case]) -> None:
    """The same cases as a Celery canvas on one prefork worker (``-c --processes``)."""
    env = target.env()
    from celery import chain, chord, group
    from celery.result import GroupResult
    from distbench_celery import make_app

    app = make_app(target.broker, target.redis_url, target.run_id)

    def noop(key: str) -> Any:
        return app.signature("distbench.noop", args=(key,), immutable=True)

    command = [sys.executable, "-m", "celery", "-A", "distbench_celery", "worker"]
    command += ["--pool", "prefork", "-c", str(settings.processes), "-Q", f"{target.run_id}.celery"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"]

    def canvas(name: str, n: int, key: str) -> Any:
        if name == "chain":
            return chain(*(noop(key) for _ in range(n)))
        head = noop(f"{key}:Task1")
        fan = group(noop(f"{key}:Worker") for _ in range(n))
        if name == "fanout":
            return chain(head, fan)
        return chain(head, chord(fan, noop(f"{key}:Join")))

    with running([command], env, f"celery-{target.name}") as procs:

        def flow(name: str, n: int, timeout: float) -> Callable[[str], float]:
            def run_one(key: str) -> float:
                procs.check_alive()
                started = time.perf_counter()
                result = canvas(name, n, key).apply_async()
                # follow_parents=False: without it, get() reads the state of every task of a
                # chord's header, one by one, after the callback finished (minutes at 10,000).
                kwargs = {} if isinstance(result, GroupResult) else {"follow_parents": False}
                result.get(timeout=timeout, disable_sync_subtasks=False, **kwargs)
                wall = time.perf_counter() - started
                del result
                return wall

            return run_one

        try:
            warm_up(flow, settings)
            cases("celery", target, settings, flow=flow, rc=rc, rows=rows)
        finally:
            gc.collect()  # pending results unsubscribe while the app can still connect
            app.close()


# --------------------------------------------------------------------------- Selinon 1.4.0

SELINON_VENV = Path("/tmp/selinon-dist-venv")
SELINON_REQUIREMENTS = ["selinon[celery,redis]==1.4.0", "redis>=6.1", "packaging"]
"""Kombu's Redis transport needs ``packaging`` and redis-py >= 6.1 (see ``Results``)."""
SELINON_NODES = """\
tasks:
  - {{name: Counter, import: distbench_selinon, storage: Results}}
  - {{name: Task1, import: distbench_selinon}}
  - {{name: Worker, import: distbench_selinon}}
  - {{name: Join, import: distbench_selinon}}
storages:
  - name: Results
    import: distbench_selinon
    classname: Results
    configuration: {{host: {host}, port: {port}, db: {db}}}
global:
  predicates_module: distbench_selinon
  default_task_queue: {run_id}.selinon_tasks
  default_dispatcher_queue: {run_id}.selinon_flows
flows: [chain, fanout, fanjoin, fanFlow]
"""
SELINON_MAX_FANJOIN = 1000
"""Selinon runs the foreach + join at most this wide (its dispatcher samples slowly)."""


def selinon_sizes(settings: Settings) -> tuple[int, int]:
    """The chain length and foreach + join width Selinon runs (the shim runs them too)."""
    return settings.selinon_chain, min(settings.fanjoin, SELINON_MAX_FANJOIN)


def selinon_worker(
    python: Path | str, module: str, settings: Settings, queues: list[str]
) -> list[str]:
    """``celery -A module worker`` as Selinon's and the shim's workers run: one prefork worker
    of ``--processes`` processes on ``queues``, Celery's default prefetch, no gossip, mingle or
    heartbeat (the same settings for both, so that only what runs inside differs)."""
    command = [str(python), "-m", "celery", "-A", module, "worker", "--pool", "prefork"]
    command += ["-c", str(settings.processes), "-Q", ",".join(queues)]
    command += ["-n", f"{module}-{uuid.uuid4().hex[:8]}@%h"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"]
    return command


def selinon_python() -> Path:
    """The Python of a venv with Selinon 1.4.0 on Celery (created and filled once)."""
    python = SELINON_VENV / "bin" / "python"
    if not python.exists():
        print(f"  creating {SELINON_VENV} with {SELINON_REQUIREMENTS} ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(SELINON_VENV)
    probe = [
        str(python),
        "-c",
        "import selinon, celery, packaging, redis; assert redis.VERSION >= (6, 1)",
    ]
    if subprocess.run(probe, capture_output=True, check=False).returncode != 0:
        install = [str(python), "-m", "pip", "install", "-q", *SELINON_REQUIREMENTS]
        subprocess.run(install, check=True, timeout=600)
    return python


def selinon_side(target: Target, settings: Settings, rc: Any, rows: list[Case]) -> None:
    """Selinon 1.4.0 with its default sampling on a prefork Celery worker: a chain of
    ``--selinon-chain`` tasks, the fan-out and the fan-out + join (at most
    :data:`SELINON_MAX_FANJOIN` wide).

    Selinon's default sampling (``biexponential_increase``, 2 s to 120 s) doubles the
    dispatcher's wait each time it started a node, so a chain's n-th hop waits about
    ``2**n`` seconds: a chain of 10 takes ten minutes, hence the short chain."""
    python = selinon_python()
    workdir = Path(tempfile.mkdtemp(prefix="distbench-selinon-"))
    db = settings.redis_db
    nodes = SELINON_NODES.format(host=REDIS_HOST, port=REDIS_PORT, db=db, run_id=target.run_id)
    (workdir / "nodes.yaml").write_text(nodes, encoding="utf-8")
    flows = (APP / "flows.yaml").read_text(encoding="utf-8")  # our YAML, Selinon's module
    (workdir / "flows.yaml").write_text(flows.replace("distbench_tasks", "distbench_selinon"))
    env = {**target.env(), "DISTBENCH_SELINON_DIR": str(workdir)}
    queues = [f"{target.run_id}.selinon_tasks", f"{target.run_id}.selinon_flows"]
    command = selinon_worker(python, "distbench_selinon_app", settings, queues)
    client = [str(python), str(APP / "distbench_selinon_app.py")]
    try:
        with running([command], env, f"selinon-{target.name}") as procs:

            def flow(name: str, n: int, timeout: float) -> Callable[[str], float]:
                def run_one(key: str) -> float:
                    procs.check_alive()
                    return selinon_flow_once([*client, name, str(n), key, str(timeout)], env)

                return run_one

            selinon_cases(target, settings, flow=flow, rc=rc, rows=rows)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def selinon_flow_once(args: list[str], env: dict[str, str]) -> float:
    """Run Selinon's client (:mod:`distbench_selinon_app`) once; the seconds it reports."""
    timeout = float(args[-1]) + 60
    done = subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"Selinon {' '.join(args[2:])}: {done.stderr[-500:]}")
    return float(json.loads(done.stdout.splitlines()[-1])["seconds"])


def selinon_cases(
    target: Target, settings: Settings, *, flow: FlowRunner, rc: Any, rows: list[Case]
) -> None:
    """The cases Selinon's sampling lets finish in reasonable time (see :func:`selinon_side`)."""
    timeout = settings.timeout
    chain_n, fanjoin_n = selinon_sizes(settings)
    rows.append(chain_case("selinon", chain_n, 1, flow("chain", chain_n, timeout), rc))
    print_case(target.name, rows[-1])
    rows.append(
        fanout_case("selinon", settings.fanout, flow("fanout", settings.fanout, timeout), rc)
    )
    print_case(target.name, rows[-1])
    rows.append(fanjoin_case("selinon", fanjoin_n, flow("fanjoin", fanjoin_n, timeout), rc))
    print_case(target.name, rows[-1])


# --------------------------------------------------------------------------- the Celery shim


def shim_side(target: Target, settings: Settings, rc: Any, rows: list[Case]) -> None:
    """This engine through the Celery shim: one ``celery -A distbench_shim_app worker`` with
    Selinon's worker settings (:func:`selinon_worker`), every case of ours and, when Selinon is
    measured too, Selinon's chain length and foreach + join width (the chain ``--chain-runs``
    times: its hops do not grow with the chain, so more runs only add samples).

    Flows are started and waited for in this process by a ``CeleryRuntime`` on a client app
    of the same broker and default queue (the report comes from the flow-state store)."""
    from celery import Celery

    from selinon_backends.celery import CeleryRuntime
    from selinon_core.config.loader import load_system

    env = {**target.env(), "DISTBENCH_ID": SHIM_ID.format(run_id=target.run_id)}
    system = load_system(APP / "nodes.yaml", [APP / "flows.yaml"], environ=env)
    app = Celery("distbench_shim_client", broker=target.broker, set_as_current=False)
    app.conf.update(
        task_default_queue=f"{env['DISTBENCH_ID']}.celery", broker_connection_retry_on_startup=True
    )
    runtime = CeleryRuntime(app, system, state_store=target.redis_url)
    command = selinon_worker(sys.executable, "distbench_shim_app", settings, runtime.queues())
    try:
        with running([command], env, f"shim-{target.name}") as procs:

            def flow(name: str, n: int, timeout: float) -> Callable[[str], float]:
                def run_one(key: str) -> float:
                    procs.check_alive()
                    started = time.perf_counter()
                    runtime.run_flow(name, {"n": n, "key": key}).get(timeout=timeout)
                    return time.perf_counter() - started  # get() raises when the flow failed

                return run_one

            warm_up(flow, settings)
            cases("shim", target, settings, flow=flow, rc=rc, rows=rows)
            if "selinon" in settings.runtimes:
                shim_selinon_sizes(target, settings, flow=flow, rc=rc, rows=rows)
    finally:
        runtime.close()
        app.close()


def shim_selinon_sizes(
    target: Target, settings: Settings, *, flow: FlowRunner, rc: Any, rows: list[Case]
) -> None:
    """The shim's runs of Selinon's chain length and foreach + join width (those that
    :func:`cases` did not run already)."""
    chain_n, fanjoin_n = selinon_sizes(settings)
    if chain_n not in settings.chains:
        runs = settings.chain_runs
        rows.append(chain_case("shim", chain_n, runs, flow("chain", chain_n, settings.timeout), rc))
        print_case(target.name, rows[-1])
    if fanjoin_n != settings.fanjoin:
        run = flow("fanjoin", fanjoin_n, settings.timeout)
        rows.append(fanjoin_case("shim", fanjoin_n, run, rc))
        print_case(target.name, rows[-1])


# --------------------------------------------------------------------------- isolation


def private_redis(db: int) -> Any:
    """A client of the private database; refuses a database that holds keys."""
    import redis

    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=db, decode_responses=True)
    client.ping()
    if client.dbsize():
        raise SystemExit(
            f"Redis database {db} is not empty: pick an unused one with --redis-db "
            "(the benchmark flushes its database when it ends)"
        )
    return client


def drop_rabbitmq_entities(run_id: str) -> None:
    """Delete the run's queues and exchanges from RabbitMQ (nothing else is touched)."""
    from kombu import Connection

    with Connection(RABBITMQ, connect_timeout=5) as conn:  # type: ignore[no-untyped-call]
        for suffix in QUEUE_SUFFIXES:
            for delete in ("queue_delete", "exchange_delete"):  # Celery's queues have one each
                with contextlib.suppress(Exception), conn.channel() as channel:
                    getattr(channel, delete)(f"{run_id}.{suffix}")


def measure_broker(name: str, settings: Settings) -> list[Case]:
    """Every case of one broker, ours then Celery; cleans up whatever happens."""
    rc = private_redis(settings.redis_db)
    redis_url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{settings.redis_db}"
    broker = RABBITMQ if name == "rabbitmq" else redis_url
    target = Target(broker, name, f"distbench_{uuid.uuid4().hex[:10]}", redis_url)
    rows: list[Case] = []
    try:
        for runtime in settings.runtimes:
            rows += guarded(runtime, target, settings, rc, RUNTIMES[runtime])
    finally:
        if name == "rabbitmq":
            drop_rabbitmq_entities(target.run_id)
        rc.flushdb()
        rc.close()
    return rows


RUNTIMES: dict[str, Callable[[Target, Settings, Any, list[Case]], None]] = {
    "ours": ours,
    "celery": celery_side,
    "shim": shim_side,
    "selinon": selinon_side,
}
"""The runtimes, in the table's column order (each broker runs them in ``--runtimes`` order)."""


def guarded(
    runtime: str,
    target: Target,
    settings: Settings,
    rc: Any,
    measure: Callable[[Target, Settings, Any, list[Case]], None],
) -> list[Case]:
    """The rows ``measure(...)`` produced; after a failure, those measured before it and one
    failed row saying why (the other runtime still runs)."""
    rows: list[Case] = []
    try:
        measure(target, settings, rc, rows)
    except Exception as exc:
        print(f"  {target.name}/{runtime} failed: {exc}", file=sys.stderr)
        rows.append(Case("error", 0, runtime, ok=False, error=f"{type(exc).__name__}: {exc}"))
    return rows


# --------------------------------------------------------------------------- output


def print_case(broker: str, row: Case) -> None:
    """One progress line."""
    print(f"  {broker:8} {row.runtime:6} {row.case} {row.n}: {json.dumps(row.as_dict())}")


METRICS = [
    ("chain", "latency_p50_ms", "ms", "lower"),
    ("chain", "latency_p99_ms", "ms", "lower"),
    ("chain", "wall_s", "s", "lower"),
    ("fanout", "tasks_per_s", "tasks/s", "higher"),
    ("fanout", "wall_s", "s", "lower"),
    ("fanout", "running_tasks_per_s", "tasks/s", "higher"),
    ("fanout", "start_lag_ms", "ms", "lower"),
    ("fanout", "finish_lag_ms", "ms", "lower"),
    ("fanjoin", "wall_s", "s", "lower"),
    ("fanjoin", "tasks_per_s", "tasks/s", "higher"),
    ("fanjoin", "running_tasks_per_s", "tasks/s", "higher"),
    ("fanjoin", "trend_last_over_first", "x", "-"),
    ("fanjoin", "join_lag_ms", "ms", "lower"),
    ("fanjoin", "start_lag_ms", "ms", "lower"),
    ("fanjoin", "finish_lag_ms", "ms", "lower"),
    ("chain", "duplicates", "runs", "-"),
    ("fanout", "duplicates", "runs", "-"),
    ("fanjoin", "duplicates", "runs", "-"),
]
"""Rows of the table: case, metric, unit and which way is better (``-``: no ratio)."""


RATIO_PAIRS = [
    ("ours", "shim"),
    ("ours", "celery"),
    ("ours", "selinon"),
    ("shim", "celery"),
    ("shim", "selinon"),
]
"""Ratio columns ``A vs B`` of the table (those whose runtimes both ran)."""
SUMMARY = [
    ("chain", "latency_p50_ms"),
    ("chain", "latency_p99_ms"),
    ("chain", "wall_s"),
    ("fanout", "tasks_per_s"),
    ("fanout", "running_tasks_per_s"),
    ("fanout", "wall_s"),
    ("fanout", "finish_lag_ms"),
    ("fanjoin", "tasks_per_s"),
    ("fanjoin", "running_tasks_per_s"),
    ("fanjoin", "wall_s"),
    ("fanjoin", "join_lag_ms"),
]
"""Rows of the closing shim-vs-Selinon table (cases both ran)."""


def table(broker: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Print every runtime per case and metric with the ratios of :data:`RATIO_PAIRS`
    (``A vs B`` > 1: A is faster); return the rows."""
    runtimes = [name for name in RUNTIMES if any(r["runtime"] == name for r in rows)]
    pairs = [(a, b) for a, b in RATIO_PAIRS if a in runtimes and b in runtimes]
    head = "".join(f"{name:>10}" for name in runtimes)
    head += "".join(f"{a + ' vs ' + b:>17}" for a, b in pairs)
    print(f"\n{broker}: {'case':14} {'metric':34}{head}")
    found = {(r["runtime"], r["case"], r["n"]): r for r in rows}
    out = []
    for case, metric, unit, better in METRICS:
        for n in sorted({r["n"] for r in rows if r["case"] == case}):
            values = {name: found.get((name, case, n), {}).get(metric) for name in runtimes}
            ratios = {f"{a}_vs_{b}": _ratio(values[a], values[b], better) for a, b in pairs}
            line = f"{'':{len(broker) + 2}}{case + ' ' + str(n):14} {metric + f' ({unit})':34}"
            line += "".join(f"{_fmt(values[name]):>10}" for name in runtimes)
            line += "".join(f"{_fmt(ratio, 'x'):>17}" for ratio in ratios.values())
            print(line)
            out.append({"case": case, "n": n, "metric": metric, **values, **ratios})
    return out


def shim_vs_selinon(ratios: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Print the shim and Selinon side by side, every broker's figures and ratio in one row
    per case and metric both ran (> 1: the shim is faster); return the rows."""
    brokers = list(ratios)
    lines = []
    for case, metric in SUMMARY:
        found = [
            {"broker": broker, **row}
            for broker in brokers
            for row in ratios[broker]
            if (row["case"], row["metric"]) == (case, metric)
            and row.get("shim_vs_selinon") is not None
        ]
        for n in sorted({row["n"] for row in found}):
            cells = {row["broker"]: row for row in found if row["n"] == n}
            lines.append((case, n, metric, cells))
    if not lines:
        return []
    head = "".join(f"{b + ': shim':>17}{'selinon':>12}{'ratio':>11}" for b in brokers)
    print(f"\nshim vs selinon (ratio > 1: the shim is faster)\n{'case':14} {'metric':20}{head}")
    out = []
    for case, n, metric, cells in lines:
        line = f"{case + ' ' + str(n):14} {metric:20}"
        for broker in brokers:
            row = cells.get(broker, {})
            line += f"{_fmt(row.get('shim')):>17}{_fmt(row.get('selinon')):>12}"
            line += f"{_fmt(row.get('shim_vs_selinon'), 'x'):>11}"
            out.append(
                {
                    "broker": broker,
                    "case": case,
                    "n": n,
                    "metric": metric,
                    **{k: row.get(k) for k in ("shim", "selinon", "shim_vs_selinon")},
                }
            )
        print(line)
    return out


def _ratio(mine: Any, theirs: Any, better: str) -> float | None:
    """How many times ``mine`` is better than ``theirs`` (``None`` without both or a
    direction)."""
    if not isinstance(mine, int | float) or not isinstance(theirs, int | float) or better == "-":
        return None
    num, den = (theirs, mine) if better == "lower" else (mine, theirs)
    return round(num / den, 2) if den else None


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    return (f"{value:.3f}" if isinstance(value, float) else str(value)) + unit


# --------------------------------------------------------------------------- main


def parse(argv: list[str] | None) -> tuple[Settings, Path]:
    """Settings and the output path from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brokers", default="rabbitmq,redis", help="rabbitmq and/or redis")
    parser.add_argument("--chains", default="10,1000", help="chain lengths")
    parser.add_argument("--fanout", type=int, default=1000, help="foreach width")
    parser.add_argument("--fanjoin", type=int, default=10_000, help="foreach + join width")
    parser.add_argument("--chain-runs", type=int, default=20, help="runs of chains <= 100")
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    parser.add_argument("-c", "--concurrency", type=int, default=1, help="threads per worker")
    parser.add_argument(
        "--runtimes",
        default="ours,celery",
        help="ours, celery (the canvas), shim (this engine through the Celery shim) and/or "
        "selinon (1.4.0 on Celery, in its own venv)",
    )
    parser.add_argument(
        "--selinon-chain",
        type=int,
        default=3,
        help="Selinon's chain length (its default sampling doubles the wait after every hop)",
    )
    parser.add_argument("--redis-db", type=int, default=12, help="private, empty Redis db")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per flow")
    parser.add_argument("--quick", action="store_true", help="chains 10,100, fan-outs 100/500")
    parser.add_argument("--output", type=Path, default=HERE / "results" / "distributed.json")
    args = parser.parse_args(argv)
    settings = Settings(
        brokers=[b.strip() for b in args.brokers.split(",") if b.strip()],
        chains=[10, 100] if args.quick else [int(s) for s in args.chains.split(",")],
        fanout=100 if args.quick else args.fanout,
        fanjoin=500 if args.quick else args.fanjoin,
        chain_runs=3 if args.quick else args.chain_runs,
        processes=args.processes,
        concurrency=args.concurrency,
        runtimes=[r.strip() for r in args.runtimes.split(",") if r.strip()],
        selinon_chain=args.selinon_chain,
        redis_db=args.redis_db,
        timeout=min(args.timeout, 60.0) if args.quick else args.timeout,
    )
    unknown = set(settings.brokers) - {"rabbitmq", "redis"}
    unknown |= set(settings.runtimes) - set(RUNTIMES)
    if unknown:
        parser.error(f"unknown broker(s) or runtime(s): {', '.join(sorted(unknown))}")
    return settings, args.output


def main(argv: list[str] | None = None) -> int:
    """Run every broker; print the tables; write the JSON."""
    settings, output = parse(argv)
    signal.signal(signal.SIGTERM, _terminate)  # a SIGTERM still stops the workers
    report: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "settings": vars(settings),
        "results": [],
        "ratios": {},
        "shim_vs_selinon": [],
    }
    for broker in settings.brokers:
        print(f"{broker}:", flush=True)
        rows = [row.as_dict() for row in measure_broker(broker, settings)]
        report["results"] += [{"broker": broker, **row} for row in rows]
        report["ratios"][broker] = table(broker, rows)
    report["shim_vs_selinon"] = shim_vs_selinon(report["ratios"])
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwritten to {output}")
    failed = [r for r in report["results"] if not r["ok"]]
    return 1 if failed else 0


def _terminate(signum: int, frame: Any) -> None:
    del frame
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    raise SystemExit(main())
