"""Draw every flow of every example into ``docs/diagrams/`` (run from anywhere).

``python docs/gen_diagrams.py [--check]`` loads each ``examples/<name>/nodes.yaml`` with its
flows (without importing the examples' code), writes ``docs/diagrams/<name>/<flow>.svg`` for
every flow, removes SVG files of flows that no longer exist, and rewrites the list of pictures
at the end of ``docs/diagrams.md`` (between the ``gallery`` markers).  With ``--check`` nothing
is written: it exits 1 when a drawing would be added or removed or the list is out of date.
It needs graphviz's ``dot`` program (Debian package ``graphviz``) and this project installed
(``pip install -e .``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from selinon_backends.plot import render_flow
from selinon_core.config.loader import load_system
from selinon_core.config.system import System
from selinon_core.errors import SpecError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
OUTPUT = Path(__file__).resolve().parent / "diagrams"
PAGE = Path(__file__).resolve().parent / "diagrams.md"
START, END = "<!-- gallery:start -->\n", "<!-- gallery:end -->"


def example_sources(example: Path) -> tuple[Path, Path]:
    """The nodes file and the flow definitions (a ``flows`` directory or ``flows.yaml``)."""
    flows = example / "flows"
    return example / "nodes.yaml", flows if flows.is_dir() else example / "flows.yaml"


def load_example(example: Path) -> System:
    """The configuration of one example directory, its code not imported."""
    nodes, flows = example_sources(example)
    return load_system(nodes, [flows], check_imports=False)


def wanted() -> dict[Path, tuple[System, str]]:
    """Every diagram file to write: path → (configuration, flow name)."""
    found: dict[Path, tuple[System, str]] = {}
    for nodes in sorted(EXAMPLES.glob("*/nodes.yaml")):
        system = load_example(nodes.parent)
        for flow in system.spec.flows:
            found[OUTPUT / nodes.parent.name / f"{flow}.svg"] = (system, flow)
    return found


def gallery(targets: dict[Path, tuple[System, str]]) -> str:
    """The Markdown list of pictures: one section per example, one image per flow."""
    lines: list[str] = [""]
    example = None
    for path in targets:
        if path.parent.name != example:
            example = path.parent.name
            readme = f"../examples/{example}/README.md"
            link = f" ([README]({readme}))" if (EXAMPLES / example / "README.md").is_file() else ""
            lines += [f"### `examples/{example}`{link}", ""]
        flow = path.stem
        lines += [f"![{flow}]({path.relative_to(PAGE.parent).as_posix()})", ""]
    return "\n".join(lines[1:])


def page_with(text: str) -> str:
    """``docs/diagrams.md`` with ``text`` between the gallery markers."""
    page = PAGE.read_text(encoding="utf-8")
    head, rest = page.split(START, 1)
    return head + START + text + END + rest.split(END, 1)[1]


def generate() -> list[Path]:
    """Write every diagram and remove stale ones; return the files written."""
    targets = wanted()
    written = []
    for path, (system, flow) in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(render_flow(system, flow, "svg"))
        written.append(path)
    for stale in set(OUTPUT.glob("*/*.svg")) - set(targets):
        stale.unlink()
    PAGE.write_text(page_with(gallery(targets)), encoding="utf-8")
    written.append(PAGE)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare the file lists")
    args = parser.parse_args()
    try:
        return run(check=args.check)
    except SpecError as exc:
        print(f"an example's configuration is invalid, nothing written:\n{exc}", file=sys.stderr)
        return 2


def run(*, check: bool) -> int:
    """Compare (``check``) or write the diagrams; the exit status."""
    if check:
        targets = wanted()
        expected, present = set(targets), set(OUTPUT.glob("*/*.svg"))
        for path in sorted(expected ^ present):
            print(f"{'missing' if path in expected else 'stale'}: {path.relative_to(ROOT)}")
        page_ok = page_with(gallery(targets)) == PAGE.read_text(encoding="utf-8")
        if not page_ok:
            print(f"out of date: {PAGE.relative_to(ROOT)} (the list of pictures)")
        return 0 if expected == present and page_ok else 1
    for path in generate():
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
