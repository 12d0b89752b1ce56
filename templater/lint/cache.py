"""The parse cache: parsed files kept in the user cache directory, keyed by their content.

A key covers the file's text, the path it is shown under (spans carry it) and the code that
produced the tree, so an entry is never stale: a changed file, a moved file or another templater
or python-hcl2 makes a new key. Entries are written to a private file and renamed into place,
so concurrent runs never see half an entry; one that cannot be read is parsed again.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from functools import cache
from pathlib import Path

from templater.engine.memory import paused_gc
from templater.engine.syntax import ParsedFile

_FORMAT = "1"


@cache
def _code_version() -> bytes:
    """What a parse depends on: the parser's own source and the versions of its libraries."""
    from importlib import metadata

    import templater.engine

    engine = Path(templater.engine.__file__).parent
    versions = []
    for distribution in ("python-hcl2", "lark"):
        try:
            versions.append(metadata.version(distribution))
        except metadata.PackageNotFoundError:
            versions.append(distribution)
    sources = [
        engine / name
        for name in ("grammar.py", "parser.py", "templates.py", "syntax.py", "values.py")
    ]
    return code_digest(sources, f"{_FORMAT} {' '.join(versions)}")


def default_cache_directory() -> Path:
    """The user cache directory (honours XDG_CACHE_HOME)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("templater"))


class ParseCache:
    """Parses through the cache in ``directory``; use :meth:`parse` as the loader's parser."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory / f"parse-v{_FORMAT}"

    def _entry(self, path: str, text: str) -> Path:
        digest = hashlib.blake2b(_code_version(), digest_size=20)
        digest.update(path.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
        digest.update(text.encode("utf-8", "surrogatepass"))
        key = digest.hexdigest()
        return self.directory / key[:2] / key

    def parse(self, path: str, text: str) -> ParsedFile:
        entry = self._entry(path, text)
        parsed = read_entry(entry)
        if isinstance(parsed, ParsedFile):
            return parsed
        from templater.engine.parser import parse_file  # only when the cache misses

        parsed = parse_file(path, text)
        write_entry(entry, parsed)
        return parsed


def read_entry(entry: Path) -> object:
    """What a cache entry holds; None when there is none or it is damaged (then it is redone)."""
    try:
        with open(entry, "rb") as handle, paused_gc():
            return pickle.load(handle)
    except Exception:  # missing, truncated, or written by an incompatible version
        return None


def write_entry(entry: Path, value: object) -> None:
    """Write an entry to a private file and rename it into place, so that a concurrent run
    never reads half of one. A read-only or full cache directory only costs speed."""
    temporary = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, entry)
    except OSError:
        temporary.unlink(missing_ok=True)


def code_digest(paths: list[Path], salt: str) -> bytes:
    """A digest of source files, so that a cache entry made by other code is never used."""
    digest = hashlib.blake2b(salt.encode(), digest_size=16)
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.digest()
