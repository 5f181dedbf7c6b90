"""``selinon-cli migrate``: write the migration between an old and a new configuration.

The old configuration comes from ``-N``/``-F`` or, with ``-g [REV]``, from git (the files'
version at ``REV``, ``HEAD`` by default).  The edge changes are computed by
:func:`selinon_core.config.migration_diff.diff_systems` and written as the next numbered
``N.json`` of the migration directory, in Selinon's format (see ``docs/migrations.md``).

Exit codes: 0 a migration was written, 1 it was not written because the last migration already
says the same (``--allow-repeat`` writes it anyway) or the file cannot be written, 2 a usage or
configuration error, 3 no migration is needed.
"""

from __future__ import annotations

import getpass
import json
import os
import platform
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from selinon_backends.cli.app import (
    EXIT_INVALID,
    FlowDefinitionsOption,
    NodesDefinitionOption,
    flow_paths,
    report_spec_error,
)

if TYPE_CHECKING:
    from selinon_core.config.migration_diff import MigrationDiff, TaintedFlowStrategy
    from selinon_core.config.system import System

__all__ = [
    "EXIT_NOT_WRITTEN",
    "EXIT_NO_MIGRATION",
    "MigrationDirectory",
    "Strategy",
    "migrate",
    "migration_meta",
    "register",
]

EXIT_NOT_WRITTEN = 1
"""The migration was computed but not written (same as the last one, or an I/O error)."""
EXIT_NO_MIGRATION = 3
"""No flow present in both configurations changed its edges."""

_MIGRATION_NAME = re.compile(r"^(0|[1-9][0-9]*)\.json$")


class Strategy(StrEnum):
    """What workers do with a flow that a migration taints."""

    IGNORE = "IGNORE"
    RETRY = "RETRY"
    FAIL = "FAIL"


def register(app: typer.Typer) -> None:
    """Attach the ``migrate`` command to ``app``."""
    app.command(name="migrate")(migrate)


def migrate(
    *,
    nodes_definition: NodesDefinitionOption = None,
    flow_definitions: FlowDefinitionsOption = None,
    old_nodes_definition: Annotated[
        Path | None,
        typer.Option(
            "-N",
            "--old-nodes-definition",
            metavar="PATH",
            help="The nodes file of the old configuration (the one running flows started with).",
        ),
    ] = None,
    old_flow_definitions: Annotated[
        list[str] | None,
        typer.Option(
            "-F",
            "--old-flow-definitions",
            metavar="PATH",
            help="A flow file or directory of the old configuration (repeatable).",
        ),
    ] = None,
    git: Annotated[
        bool,
        typer.Option(
            "-g",
            "--git",
            help="Take the old configuration from git: the given files as committed at REV "
            "(default HEAD), instead of -N/-F. Written '-g [REV]'.",
        ),
    ] = False,
    rev: Annotated[
        str | None,
        typer.Argument(
            metavar="REV",
            show_default=False,
            help="The git revision of the old configuration, with -g (default HEAD).",
        ),
    ] = None,
    migration_dir: Annotated[
        Path | None,
        typer.Option(
            "-m",
            "--migration-dir",
            metavar="DIR",
            help="The migration directory (default: global.migration_dir of the new "
            "configuration, relative to the current directory).",
        ),
    ] = None,
    no_meta: Annotated[
        bool, typer.Option("--no-meta", help="Leave out _meta (version, host, time, user).")
    ] = False,
    no_check: Annotated[
        bool,
        typer.Option(
            "--no-check",
            help="Do not import the modules the new configuration names (its structure is "
            "always checked).",
        ),
    ] = False,
    tainted_flows: Annotated[
        Strategy,
        typer.Option(
            "-t",
            "--tainted-flows",
            "--tainted-flow-strategy",  # the spelling of Selinon's documentation
            case_sensitive=False,
            metavar="IGNORE|RETRY|FAIL",
            help="What workers do with a flow the migration taints.",
        ),
    ] = Strategy.IGNORE,
    allow_repeat: Annotated[
        bool,
        typer.Option(
            "--allow-repeat",
            help="Write the migration even when the last one in the directory is the same.",
        ),
    ] = False,
) -> None:
    """Write the migration of running flows from an old configuration to a new one."""
    nodes = _required_nodes(nodes_definition)
    git_rev = _git_revision(git=git, rev=rev)
    _check_sources(old_nodes_definition, old_flow_definitions, git_rev)
    new = _load(nodes, flow_paths(flow_definitions), check_imports=not no_check, label="new")
    if git_rev is None:
        assert old_nodes_definition is not None  # checked by _check_sources
        old = _load(
            old_nodes_definition, flow_paths(old_flow_definitions), check_imports=False, label="old"
        )
    else:
        old = _from_git(git_rev, nodes, flow_paths(flow_definitions))
    from selinon_core.config.migration_diff import diff_systems  # noqa: PLC0415

    diff = diff_systems(old.spec, new.spec)
    if not diff.needed:
        typer.echo(
            "No migration needed: no flow present in both configurations changed its edges "
            "(condition and fallback changes need none).",
            err=True,
        )
        raise typer.Exit(EXIT_NO_MIGRATION)
    directory = MigrationDirectory(_migration_dir(migration_dir, new, old))
    written = _write(directory, diff, tainted_flows.value, meta=not no_meta, force=allow_repeat)
    typer.echo(str(written))
    for line in diff.summary_lines():
        typer.echo(f"  {line}")


def _required_nodes(nodes: Path | None) -> Path:
    if nodes is None:
        raise typer.BadParameter(
            "a nodes definition file is required (or set SELINON_NODES_DEFINITION)",
            param_hint="'-n' / '--nodes-definition'",
        )
    return nodes


def _git_revision(*, git: bool, rev: str | None) -> str | None:
    """The revision of ``-g [REV]`` (``HEAD`` when omitted), or ``None`` without ``-g``."""
    if rev is not None and Path(rev).exists():  # `-f flows/*.yaml` expanded by the shell
        raise typer.BadParameter(
            f"unexpected argument {rev!r}, a path: give each flow file its own -f, or give "
            "their directory",
            param_hint="'[REV]'",
        )
    if rev is not None and not git:
        raise typer.BadParameter(
            f"unexpected argument {rev!r}: a revision is given only after -g/--git",
            param_hint="'[REV]'",
        )
    if not git:
        return None
    if rev is not None and (not rev.strip() or rev.startswith("-")):
        raise typer.BadParameter(f"{rev!r} is not a git revision", param_hint="'-g' / '--git'")
    return rev or "HEAD"


def _check_sources(old_nodes: Path | None, old_flows: list[str] | None, git: str | None) -> None:
    """Exactly one source of the old configuration: ``-N`` (with any ``-F``) or ``-g``."""
    if git is not None and (old_nodes is not None or old_flows):
        raise typer.BadParameter(
            "give either --git or -N/-F, not both", param_hint="'-g' / '--git'"
        )
    if git is None and old_nodes is None:
        hint = "'-N' / '--old-nodes-definition'"
        if old_flows:
            raise typer.BadParameter("-F needs the old nodes file as well", param_hint=hint)
        raise typer.BadParameter(
            "say where the old configuration is: -N OLD_NODES [-F OLD_FLOWS ...], or --git "
            "[REV] for the committed version of the given files",
            param_hint=hint,
        )


def _load(
    nodes: Path,
    flows: Sequence[Path],
    *,
    check_imports: bool,
    label: str,
    names: Mapping[str, str] | None = None,
) -> System:
    """Load the ``label`` configuration; on error list its problems, files renamed by ``names``.

    Raises:
        typer.Exit: (code 2) the configuration is invalid.
    """
    from selinon_core.config.loader import load_system  # noqa: PLC0415 - pydantic on demand
    from selinon_core.errors import SpecError  # noqa: PLC0415

    try:
        return load_system(nodes, flows, check_imports=check_imports)
    except SpecError as exc:
        typer.echo(f"Error: the {label} configuration is invalid:", err=True)
        if names:
            exc = SpecError([replace(p, file=_renamed(p.file, names)) for p in exc.problems])
        report_spec_error(exc)
        raise typer.Exit(EXIT_INVALID) from None


def _renamed(file: str | None, names: Mapping[str, str]) -> str | None:
    if file is None:
        return None
    for temporary, shown in names.items():
        if file == temporary or file.startswith(temporary + os.sep):
            return shown + file[len(temporary) :].replace(os.sep, "/")
    return file


def _from_git(rev: str, nodes: Path, flows: Sequence[Path]) -> System:
    """The old configuration: the given files as committed at ``rev`` (structure checked only).

    Raises:
        typer.Exit: (code 2) git cannot give the files, or they are invalid.
    """
    from selinon_backends.cli.migrate_git import GitCheckout, GitError  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="selinon-migrate-") as scratch:
        checkout = GitCheckout(rev, Path(scratch))
        try:
            old_nodes = checkout.materialise(nodes)
            old_flows = [checkout.materialise(path) for path in flows]
        except GitError as exc:
            raise _fail(f"-g: {exc}") from None
        return _load(old_nodes, old_flows, check_imports=False, label="old", names=checkout.names)


def _fail(message: str) -> typer.Exit:
    """Write ``Error: message`` to stderr; the exit (code 2) to raise."""
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(EXIT_INVALID)


def _migration_dir(option: Path | None, new: System, old: System) -> Path:
    """The ``-m`` directory, else the new configuration's ``global.migration_dir``."""
    configured = new.spec.global_.migration_dir
    previous = old.spec.global_.migration_dir
    if previous is not None and configured is not None and previous != configured:
        _warn(
            f"the old configuration's migration_dir is {previous!r}, the new one's "
            f"{configured!r}: move the old migrations to {configured!r} before deploying"
        )
    if option is not None:
        if configured is not None and Path(configured).resolve() != option.resolve():
            _warn(
                f"-m {str(option)!r} is not the new configuration's migration_dir "
                f"({configured!r}): make sure workers read this migration"
            )
        return option
    if configured is None:
        raise _fail(
            "no migration directory: give -m DIR, or set global.migration_dir in the new nodes file"
        )
    return Path(configured)


def _warn(message: str) -> None:
    typer.echo(f"warning: {message}", err=True)


@dataclass(frozen=True)
class MigrationDirectory:
    """A directory of numbered migration files ``1.json``, ``2.json``, ..."""

    path: Path

    def versions(self) -> list[int]:
        """The numbers of the migrations present, sorted (hidden files are skipped).

        Raises:
            typer.Exit: (code 2) a ``*.json`` file whose name is not a number.
        """
        if not self.path.exists():
            return []
        if not self.path.is_dir():
            raise _fail(f"the migration directory {str(self.path)!r} is not a directory")
        found = []
        for entry in self.path.iterdir():
            if entry.name.startswith(".") or not entry.name.endswith(".json"):
                continue
            match = _MIGRATION_NAME.match(entry.name)
            if match is None:
                raise _fail(
                    f"{str(entry)!r} is not a migration file: their names are numbers "
                    "(1.json, 2.json, ...); move it out of the migration directory"
                )
            found.append(int(match.group(1)))
        return sorted(found)

    def file(self, version: int) -> Path:
        """The path of migration ``version``."""
        return self.path / f"{version}.json"

    def last_migration(self, versions: Sequence[int]) -> Mapping[str, Any] | None:
        """The ``migration`` entry of the last file, or ``None`` if absent or unreadable."""
        if not versions:
            return None
        last = self.file(versions[-1])
        try:
            content = json.loads(last.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            _warn(f"cannot read the last migration {str(last)!r}: {exc}")
            return None
        migration = content.get("migration") if isinstance(content, dict) else None
        return migration if isinstance(migration, dict) else None


def _write(
    directory: MigrationDirectory,
    diff: MigrationDiff,
    strategy: TaintedFlowStrategy,
    *,
    meta: bool,
    force: bool,
) -> Path:
    """Write the migration as the next numbered file; its path."""
    from selinon_core.config.migration_diff import (  # noqa: PLC0415
        migration_document,
        render_migration,
        same_migration,
    )

    versions = directory.versions()
    _warn_on_gaps(directory, versions)
    document = migration_document(diff, strategy, migration_meta() if meta else None)
    previous = directory.last_migration(versions)
    if previous is not None and same_migration(previous, document["migration"]):
        last = directory.file(versions[-1])
        if not force:
            typer.echo(
                f"Not written: the last migration {str(last)!r} makes the same changes, and "
                "applying them twice breaks running flows. If it was never deployed, delete it "
                "and run again; to add this one anyway, use --allow-repeat.",
                err=True,
            )
            raise typer.Exit(EXIT_NOT_WRITTEN)
        _warn(f"the last migration {str(last)!r} makes the same changes (--allow-repeat)")
    target = directory.file(versions[-1] + 1 if versions else 1)
    try:
        if not directory.path.exists():
            directory.path.mkdir()
            _warn(f"created the migration directory {str(directory.path)!r}")
        with target.open("x", encoding="utf-8") as stream:
            stream.write(render_migration(document))
    except OSError as exc:
        typer.echo(f"Error: cannot write {str(target)!r}: {exc.strerror or exc}", err=True)
        raise typer.Exit(EXIT_NOT_WRITTEN) from None
    return target


def _warn_on_gaps(directory: MigrationDirectory, versions: Sequence[int]) -> None:
    missing = sorted(set(range(1, versions[-1] + 1)) - set(versions)) if versions else []
    if missing:
        names = ", ".join(directory.file(version).name for version in missing[:5])
        _warn(f"{str(directory.path)!r} has no {names}: workers cannot apply later migrations")


def migration_meta() -> dict[str, Any]:
    """The ``_meta`` entry of a migration file: who wrote it, where, when, with what.

    Selinon's ``selinon_version`` key is not used: ``selinon_ng_version`` is ours and
    ``selinon_compatibility`` the Selinon release whose format the file follows.
    """
    from selinon_backends.cli.version_cmd import version_info  # noqa: PLC0415

    info = version_info()
    return {
        "selinon_ng_version": info.version,
        "selinon_compatibility": info.selinon_compatibility,
        "host": platform.node(),
        "datetime": datetime.now(UTC).isoformat(timespec="seconds"),
        "user": _user(),
    }


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment nor the password database
        return None
