"""The old configuration of ``selinon-cli migrate -g [REV]``: files as committed in git.

:class:`GitCheckout` writes the version at a revision of the files and directories given on
the command line into a scratch directory, running ``git`` in each path's own repository
(``git show REV:path``; ``git ls-tree`` for a directory, so that flow files added or removed
since are handled).  Every git call is bounded by a timeout.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["GitCheckout", "GitError"]

_GIT_TIMEOUT = 60.0
_YAML_SUFFIXES = (".yaml", ".yml")


class GitError(Exception):
    """The old configuration cannot be taken from git (the message says why and what to do)."""


class GitCheckout:
    """Writes the version at ``rev`` of given files and directories under ``scratch``.

    Attributes:
        rev: the revision.
        scratch: an empty directory, owned by the caller, to write the files under.
        names: each written path -> ``REV:path in its repository`` (for error messages).
    """

    def __init__(self, rev: str, scratch: Path) -> None:
        self.rev = rev
        self.scratch = scratch
        self.names: dict[str, str] = {}
        self._done: dict[Path, Path] = {}
        self._repositories: dict[Path, Path] = {}

    def materialise(self, path: Path) -> Path:
        """The temporary copy of ``path`` (a file or a directory) as committed at the revision.

        Raises:
            GitError: ``path`` is missing, not in a git repository or not committed at the
                revision, the revision does not exist, or git failed.
        """
        absolute = path.resolve()
        if absolute not in self._done:
            self._done[absolute] = self._copy(path, absolute)
        return self._done[absolute]

    def _copy(self, path: Path, absolute: Path) -> Path:
        if not absolute.exists():
            raise GitError(f"{str(path)!r} does not exist")
        top = self._toplevel(absolute if absolute.is_dir() else absolute.parent, path)
        relative = absolute.relative_to(top).as_posix()
        target = self._repositories[top] / (relative if relative != "." else "")
        self.names[str(target)] = f"{self.rev}:{relative}"
        if absolute.is_dir():
            self._copy_directory(top, relative, target)
        else:
            text = self._git(top, "show", f"{self.rev}:{relative}", check=False)
            if text is None:
                raise GitError(
                    f"{str(path)!r} has no committed version at {self.rev!r} in {str(top)!r} "
                    "(commit it first, or give the old files with -N/-F)"
                )
            _write_text(target, text)
        return target

    def _copy_directory(self, top: Path, relative: str, target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        listing = self._git(top, "ls-tree", "-r", "-z", "--name-only", self.rev, "--", relative)
        prefix = "" if relative == "." else relative + "/"
        for name in filter(None, (listing or "").split("\0")):
            if name.endswith(_YAML_SUFFIXES):
                inner = name[len(prefix) :]
                _write_text(target / inner, self._git(top, "show", f"{self.rev}:{name}") or "")

    def _toplevel(self, directory: Path, shown: Path) -> Path:
        found = self._git(directory, "rev-parse", "--show-toplevel", check=False)
        if found is None:
            raise GitError(f"{str(shown)!r} is not in a git repository (give -N/-F instead)")
        top = Path(found.strip()).resolve()
        if top not in self._repositories:
            commit = f"{self.rev}^{{commit}}"
            if self._git(top, "rev-parse", "--verify", "--quiet", commit, check=False) is None:
                raise GitError(f"no revision {self.rev!r} in the git repository {str(top)!r}")
            self._repositories[top] = self.scratch / str(len(self._repositories))
        return top

    def _git(self, cwd: Path, *args: str, check: bool = True) -> str | None:
        """Run git in ``cwd``: its stdout; on failure ``None``, or GitError when ``check``."""
        try:
            done = subprocess.run(
                ["git", "-C", str(cwd), *args],
                capture_output=True,
                text=True,
                timeout=_GIT_TIMEOUT,
                check=False,
            )
        except FileNotFoundError:
            raise GitError("the git program is not installed (give -N/-F instead)") from None
        except subprocess.TimeoutExpired:
            raise GitError(f"git {' '.join(args)} took more than {_GIT_TIMEOUT:.0f}s") from None
        if done.returncode == 0:
            return done.stdout
        if not check:
            return None
        raise GitError(f"git {' '.join(args)} failed: {done.stderr.strip()}")


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
