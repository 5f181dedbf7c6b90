"""Start a flow on the Celery deployment and print its report when it ends.

python -m celery_project.start FLOW_NAME NODE_ARGS_JSON [--only TASK,...] [--follow-subflows]
"""

import argparse
import json

from celery_project.app import app  # noqa: F401  (configures Config)


def main() -> None:
    """Parse the arguments, start the flow, wait for it and print a one-line summary."""
    from selinon import run_flow, run_flow_selective  # noqa: PLC0415  (the app installed it)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("flow_name")
    parser.add_argument("node_args", type=json.loads)
    parser.add_argument("--only", help="comma-separated task names: a selective run")
    parser.add_argument("--follow-subflows", action="store_true", help="selective: enter sub-flows")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args()
    if args.only:
        result = run_flow_selective(
            args.flow_name,
            args.only.split(","),
            args.node_args,
            follow_subflows=args.follow_subflows,
        )
    else:
        result = run_flow(args.flow_name, args.node_args)
    report = result.get(timeout=args.timeout, propagate=False)
    nodes = ", ".join(sorted(f"{r['node_name']}:{r['status']}" for r in report["runs"]))
    print(f"flow {result.id} {report['status']}: {nodes}")


if __name__ == "__main__":
    main()
