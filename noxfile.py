"""Developer sessions: ``nox -s lint typecheck tests``, ``nox -s tests_core``, ``nox -s bench``.

Every session installs the project into its own virtualenv (``.nox/``), so it does not depend
on the developer's environment.  Pass extra pytest arguments after ``--``:
``nox -s tests -- tests/cli -x``.
"""

from __future__ import annotations

from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
PYTHONS = ["3.11", "3.12", "3.13"]
"""Interpreters of the core matrix; missing ones are skipped locally and fail in CI."""


def install_project(session: nox.Session, extras: str = "all") -> None:
    """Install the project (editable, with ``extras``) and the ``dev`` dependency group."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "dev"))
    session.install("-e", f".[{extras}]" if extras else ".")


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff: lint rules and formatting."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on both packages."""
    install_project(session)
    session.run("mypy", "--strict", "-p", "selinon_core", "-p", "selinon_backends")


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite (service-backed tests skip when a service is down, unless CI)."""
    install_project(session)
    session.run("python", "-m", "pytest", *(session.posargs or ["-q"]))


@nox.session(python=PYTHONS)
def tests_core(session: nox.Session) -> None:
    """The pure core tests with sockets disabled (pytest-socket), on every supported Python."""
    install_project(session, extras="")
    targets = session.posargs or ["tests/core", "tests/test_boundary.py", "-q"]
    session.run("python", "-m", "pytest", "--disable-socket", *targets)


@nox.session
def bench(session: nox.Session) -> None:
    """Run every benchmark script in ``benchmarks/`` (numbers are printed, nothing asserted)."""
    install_project(session)
    scripts = sorted(ROOT.glob("benchmarks/*.py"))
    if not scripts:
        session.skip("no benchmark scripts in benchmarks/")
    for script in scripts:
        session.run("python", str(script.relative_to(ROOT)), *session.posargs)
