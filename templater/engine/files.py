"""The file system as the engine sees it.

Every read the core makes (module listings, sources, variables files, the module manifest,
``file()`` and the other file functions) goes through a :class:`Files`, so that a
:class:`RecordingFiles` can note what a result depends on, and :func:`unchanged` can tell later
whether all of it still holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

MODULE_FILE_SUFFIXES = (".tf", ".tf.json")
"""The files that make a Terraform module: those directly in its directory."""


def holds_module(directory: Path) -> bool:
    """Whether ``directory`` has Terraform files of its own."""
    try:
        with os.scandir(directory) as entries:
            return any(
                entry.name.endswith(MODULE_FILE_SUFFIXES) and entry.is_file() for entry in entries
            )
    except OSError:
        return False


def modules_below(root: Path) -> list[Path]:
    """Every module directory under ``root``, itself included, in order, as ``tflint
    --recursive`` finds them: ``.terraform/`` (modules that ``terraform init`` laid out) and
    hidden directories are skipped."""
    found: list[Path] = []
    for directory, subdirectories, _ in os.walk(root):
        subdirectories[:] = sorted(name for name in subdirectories if not name.startswith("."))
        if holds_module(Path(directory)):
            found.append(Path(directory))
    return found


StrPath = str | os.PathLike[str]

Observation = tuple[str, str, str]
"""(what was asked, of which path, a digest of the answer)."""


class Files:
    """Plain reads of the real file system."""

    def list_dir(self, directory: StrPath) -> list[str]:
        """The names in a directory, sorted; none when it cannot be listed."""
        try:
            return sorted(os.listdir(directory))
        except OSError:
            return []

    def is_file(self, path: StrPath) -> bool:
        return os.path.isfile(path)

    def is_dir(self, path: StrPath) -> bool:
        return os.path.isdir(path)

    def read_bytes(self, path: StrPath) -> bytes:
        """A file's bytes; raises OSError (FileNotFoundError when it is not there)."""
        with open(path, "rb") as handle:
            return handle.read()

    def walk_files(self, root: StrPath) -> list[str]:
        """Every regular file under ``root``, as sorted paths relative to it with ``/``."""
        found: list[str] = []
        for directory, _, names in os.walk(root):
            relative = Path(os.path.relpath(directory, root)).as_posix()
            prefix = "" if relative == "." else relative + "/"
            found.extend(
                prefix + name for name in names if os.path.isfile(os.path.join(directory, name))
            )
        return sorted(found)


def _digest(answer: object) -> str:
    if isinstance(answer, bytes):
        return hashlib.blake2b(answer, digest_size=16).hexdigest()
    return hashlib.blake2b(repr(answer).encode(), digest_size=16).hexdigest()


class RecordingFiles(Files):
    """Reads the real file system and notes every question and a digest of its answer."""

    def __init__(self) -> None:
        self.observations: list[Observation] = []

    def _note(self, kind: str, path: StrPath, answer: object) -> None:
        self.observations.append((kind, str(path), _digest(answer)))

    def list_dir(self, directory: StrPath) -> list[str]:
        names = super().list_dir(directory)
        self._note("list_dir", directory, names)
        return names

    def is_file(self, path: StrPath) -> bool:
        answer = super().is_file(path)
        self._note("is_file", path, answer)
        return answer

    def is_dir(self, path: StrPath) -> bool:
        answer = super().is_dir(path)
        self._note("is_dir", path, answer)
        return answer

    def read_bytes(self, path: StrPath) -> bytes:
        try:
            data = super().read_bytes(path)
        except OSError as problem:
            self._note("read_bytes", path, f"{type(problem).__name__} {problem.errno}")
            raise
        self._note("read_bytes", path, data)
        return data

    def walk_files(self, root: StrPath) -> list[str]:
        found = super().walk_files(root)
        self._note("walk_files", root, found)
        return found


def unchanged(observations: list[Observation]) -> bool:
    """Whether every recorded question still gets the same answer."""
    recorder = RecordingFiles()
    for kind, path, _ in observations:
        with contextlib.suppress(OSError):  # the error is recorded as the answer
            getattr(recorder, kind)(path)
    return recorder.observations == observations
