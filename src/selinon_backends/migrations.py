"""Reading a migration directory: ``1.json``, ``2.json``, ... into a migration chain.

The directory is ``global.migration_dir`` of the configuration (a relative path is relative to
the worker's working directory, as in Selinon) or one given explicitly.  Hidden files and files
not ending in ``.json`` are skipped; a ``.json`` file whose name is not a number is an error, as
is a gap in the numbering: a worker must not guess which migrations it has.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from selinon_core.config.system import System
from selinon_core.dispatch.migrations import Migration, MigrationChain, MigrationError

__all__ = ["load_migrations", "migration_chain", "migration_files"]


def migration_files(directory: str | Path) -> dict[int, Path]:
    """The migration files of ``directory`` by version number.

    Raises:
        MigrationError: the directory does not exist, or a ``.json`` file is not named by a
            number (``3.json``).
    """
    path = Path(directory)
    if not path.is_dir():
        raise MigrationError(
            f"migration directory {str(path)!r} does not exist or is not a directory "
            f"(working directory {str(Path.cwd())!r}); check global.migration_dir"
        )
    files: dict[int, Path] = {}
    for entry in sorted(path.iterdir()):
        if entry.name.startswith(".") or entry.suffix != ".json" or not entry.is_file():
            continue
        stem = entry.name[: -len(".json")]
        if not (stem.isascii() and stem.isdigit()) or int(stem) < 1:
            raise MigrationError(
                f"{entry}: migration files are named by their number (1.json, 2.json, ...); "
                "rename or remove this file"
            )
        files[int(stem)] = entry
    return files


def _read(version: int, file: Path) -> Migration:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise MigrationError(f"{file}: cannot read the migration file: {exc}") from None
    except ValueError as exc:
        raise MigrationError(f"{file}: not valid JSON: {exc}") from None
    return Migration.from_dict(data, version=version, source=str(file))


def load_migrations(directory: str | Path) -> MigrationChain:
    """The migrations of ``directory``, in order (an empty directory: no migrations).

    Raises:
        MigrationError: see :func:`migration_files`; a file is not a valid migration; the
            numbering has a gap.
    """
    files = migration_files(directory)
    chain = [_read(version, file) for version, file in sorted(files.items())]
    return MigrationChain(tuple(chain))


@functools.lru_cache(maxsize=16)
def migration_chain(system: System) -> MigrationChain:
    """The migrations of ``system``'s ``global.migration_dir`` (read once per System).

    Without a ``migration_dir`` there are no migrations (version 0).

    Raises:
        MigrationError: as :func:`load_migrations` (not cached: the next call reads again).
    """
    directory = system.spec.global_.migration_dir
    if directory is None:
        return MigrationChain()
    return load_migrations(directory)
