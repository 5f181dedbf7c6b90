"""Selinon 1.4.0 on Celery for the distributed benchmark (run in Selinon's own venv).

``celery -A distbench_selinon_app worker ...`` runs Selinon's dispatcher and task envelope;
``python distbench_selinon_app.py FLOW N KEY TIMEOUT`` starts one flow, waits for its
dispatcher to finish and prints ``{"seconds": ...}``.  Configured by the environment the
benchmark sets: ``DISTBENCH_BROKER``, ``DISTBENCH_RESULT_BACKEND``, ``DISTBENCH_ID`` (the
private queues) and ``DISTBENCH_SELINON_DIR`` (where it wrote ``nodes.yaml``/``flows.yaml``).
"""

import json
import os
import sys
import time

from celery import Celery
from selinon import Config, run_flow

app = Celery(
    "distbench_selinon",
    broker=os.environ["DISTBENCH_BROKER"],
    backend=os.environ["DISTBENCH_RESULT_BACKEND"],
)
app.conf.update(
    task_default_queue=f"{os.environ['DISTBENCH_ID']}.selinon",
    worker_enable_remote_control=False,
    worker_send_task_events=False,
    broker_connection_retry_on_startup=True,
    result_expires=3600,
)
Config.set_celery_app(app)
_dir = os.environ["DISTBENCH_SELINON_DIR"]
Config.set_config_yaml(os.path.join(_dir, "nodes.yaml"), [os.path.join(_dir, "flows.yaml")])


def main(argv):
    """Run flow ``argv[0]`` with ``n``/``key`` and wait; print the seconds as JSON."""
    flow, n, key, timeout = argv[0], int(argv[1]), argv[2], float(argv[3])
    started = time.perf_counter()
    dispatcher_id = run_flow(flow, {"n": n, "key": key})
    app.AsyncResult(str(dispatcher_id)).get(timeout=timeout)
    print(json.dumps({"seconds": time.perf_counter() - started}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
