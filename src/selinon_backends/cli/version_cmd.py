"""``selinon-cli version``: our version, the Selinon level we are compatible with, Celery."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

__all__ = [
    "DISTRIBUTION",
    "SELINON_COMPATIBILITY",
    "VersionInfo",
    "register",
    "version",
    "version_info",
]

DISTRIBUTION = "selinon-ng"
SELINON_COMPATIBILITY = "1.4.0"
"""The Selinon release whose YAML language and task API we load unchanged."""


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """What ``selinon-cli version`` reports.

    Attributes:
        version: the installed version of the ``selinon-ng`` distribution.
        selinon_compatibility: the Selinon release whose configurations we accept.
        celery: the installed Celery version, or ``None`` when Celery is not installed.
    """

    version: str
    selinon_compatibility: str
    celery: str | None

    def lines(self) -> list[str]:
        """The report as text lines."""
        return [
            f"selinon-ng version: {self.version}",
            f"Selinon compatibility: {self.selinon_compatibility} (YAML language and task API)",
            f"Celery version: {self.celery or 'not installed'}",
        ]


def version_info() -> VersionInfo:
    """Collect the versions from the installed distributions."""
    return VersionInfo(
        version=_distribution_version(DISTRIBUTION) or "unknown (not installed)",
        selinon_compatibility=SELINON_COMPATIBILITY,
        celery=_installed_celery(),
    )


def register(app: typer.Typer) -> None:
    """Attach the ``version`` command to ``app``."""
    app.command(name="version")(version)


def version() -> None:
    """Print the version of selinon-ng, its Selinon compatibility level and Celery's version."""
    sys.stdout.write("".join(f"{line}\n" for line in version_info().lines()))


def _distribution_version(name: str) -> str | None:
    import importlib.metadata  # noqa: PLC0415 - only the version command reads it

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _installed_celery() -> str | None:
    import importlib.util  # noqa: PLC0415

    if importlib.util.find_spec("celery") is None:
        return None
    return _distribution_version("celery") or "installed (version unknown)"
