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
from importlib import metadata
from pathlib import Path

from templater.parser import parse_file
from templater.syntax import ParsedFile

_FORMAT = "1"


@cache
def _code_version() -> bytes:
    """What a parse depends on: the parser's own source and the versions of its libraries."""
    digest = hashlib.blake2b(_FORMAT.encode(), digest_size=16)
    here = Path(__file__).parent
    for name in ("parser.py", "syntax.py", "values.py"):
        digest.update((here / name).read_bytes())
    for distribution in ("python-hcl2", "lark"):
        try:
            digest.update(metadata.version(distribution).encode())
        except metadata.PackageNotFoundError:
            digest.update(distribution.encode())
    return digest.digest()


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
        try:
            with open(entry, "rb") as handle:
                parsed = pickle.load(handle)
            if isinstance(parsed, ParsedFile):
                return parsed
        except FileNotFoundError:
            pass
        except Exception:
            pass
        parsed = parse_file(path, text)
        self._store(entry, parsed)
        return parsed

    def _store(self, entry: Path, parsed: ParsedFile) -> None:
        temporary = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            with open(temporary, "wb") as handle:
                pickle.dump(parsed, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, entry)
        except OSError:
            # A read-only or full cache directory only costs speed.
            temporary.unlink(missing_ok=True)
