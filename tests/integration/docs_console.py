"""Run the shell sessions that the documentation shows, and compare what they print.

A page is read as a sequence of fenced blocks:

* a block whose info string has ``title="PATH"`` is a file of the reader's project: it is
  written to PATH (or appended to it with ``mode=append``);
* a ``console`` block holds commands (lines starting with ``$ ``, continued by a trailing
  backslash) each followed by the output it prints, stdout and stderr together as a terminal
  shows them;
* a ``text`` block is an illustration and is not run.

In the expected output a line ``...`` stands for any number of lines, and durations
(``0.004s``, ``"duration_s": 0.0041``) are compared as placeholders.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(?P<info>[^\n]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
TITLE = re.compile(r'title="(?P<path>[^"]+)"')
ELLIPSIS = "..."
COMMAND_TIMEOUT_S = 60


@dataclass(frozen=True)
class FileBlock:
    """A file of the reader's project, written or appended to."""

    path: str
    text: str
    append: bool


@dataclass(frozen=True)
class Command:
    """One shell command and the output the page shows for it."""

    line: str
    expected: tuple[str, ...]


@dataclass(frozen=True)
class ConsoleBlock:
    """The commands of one console block, with the files written before it."""

    page: str
    number: int
    line: int
    files: tuple[FileBlock, ...]
    commands: tuple[Command, ...]

    @property
    def id(self) -> str:
        """A test id: the page and the block's line."""
        return f"{self.page}:{self.line}"


def parse_commands(body: str) -> tuple[Command, ...]:
    """The ``$ `` commands of a console block and the output shown after each."""
    commands: list[Command] = []
    lines = body.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.startswith("$ "):
            raise AssertionError(f"console block: output without a command: {line!r}")
        command = line[2:]
        while command.endswith("\\"):
            index += 1
            command += "\n" + lines[index]  # bash joins the lines
        index += 1
        output: list[str] = []
        while index < len(lines) and not lines[index].startswith("$ "):
            output.append(lines[index])
            index += 1
        commands.append(Command(command, tuple(output)))
    return tuple(commands)


def parse_page(page: Path, root: Path) -> list[ConsoleBlock]:
    """Every console block of ``page``, each with the file writes that precede it.

    Raises:
        AssertionError: a fenced block that is neither a file, a console session nor text.
    """
    text = page.read_text(encoding="utf-8")
    name = str(page.relative_to(root))
    files: list[FileBlock] = []
    blocks: list[ConsoleBlock] = []
    for match in FENCE.finditer(text):
        info, body = match["info"].strip(), match["body"]
        line = text.count("\n", 0, match.start()) + 1
        title = TITLE.search(info)
        if title is not None:
            files.append(FileBlock(title["path"], body, append="mode=append" in info.split()))
        elif info == "console":
            commands = parse_commands(body)
            blocks.append(ConsoleBlock(name, len(blocks) + 1, line, tuple(files), commands))
        elif info != "text":
            raise AssertionError(f"{name}:{line}: a block that is neither run nor a file")
    return blocks


def normalise(line: str) -> str:
    """``line`` with durations replaced by placeholders and trailing blanks removed."""
    line = re.sub(r"\b\d+\.\d+s\b", "<seconds>s", line)
    line = re.sub(r'("duration_s": )[0-9.e-]+', r"\1<seconds>", line)
    return line.rstrip()


def matches(expected: tuple[str, ...], actual: list[str]) -> bool:
    """Whether ``actual`` is ``expected`` with each ``...`` line standing for any lines."""
    pattern = []
    for line in expected:
        if line.strip() == ELLIPSIS:
            pattern.append(r"(?:[^\n]*\n)*?")
        else:
            pattern.append(re.escape(normalise(line) + "\n"))
    text = "".join(normalise(line) + "\n" for line in actual)
    return re.fullmatch("".join(pattern), text) is not None


def environment() -> dict[str, str]:
    """The environment of a reader's shell: this project's ``selinon-cli`` on PATH, nothing
    configured through ``SELINON_*`` variables, output unbuffered so streams keep their order."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SELINON_", "PYTHON"))}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    env["COLUMNS"] = "100"
    env["NO_COLOR"] = "1"
    return env


def write_files(root: Path, files: tuple[FileBlock, ...]) -> None:
    """Write (or append) the page's files under ``root`` in order."""
    for block in files:
        path = root / block.path
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a" if block.append else "w", encoding="utf-8") as handle:
            handle.write(block.text)


def run_block(block: ConsoleBlock, cwd: Path) -> None:
    """Run the block's commands in ``cwd`` with bash; fail on an exit status other than 0 or
    on an output other than the one shown."""
    for command in block.commands:
        done = subprocess.run(
            ["bash", "-c", command.line],
            cwd=cwd,
            env=environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
        where = f"{block.id}: $ {command.line}"
        assert done.returncode == 0, f"{where}\nexit status {done.returncode}:\n{done.stdout}"
        shown = "\n".join(command.expected)
        assert matches(command.expected, done.stdout.splitlines()), (
            f"{where}\n--- the page shows:\n{shown}\n--- it printed:\n{done.stdout}"
        )


def heading_anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the headings of ``page`` (lower case, punctuation dropped)."""
    anchors = set()
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return anchors


def broken_links(page: Path) -> list[str]:
    """The relative links of ``page`` whose file, or heading anchor, does not exist."""
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
        if "://" in target:
            continue
        path_part, _, anchor = target.partition("#")
        linked = (page.parent / path_part).resolve() if path_part else page
        missing_anchor = anchor and linked.suffix == ".md" and linked.exists()
        if not linked.exists() or (missing_anchor and anchor not in heading_anchors(linked)):
            broken.append(target)
    return broken
