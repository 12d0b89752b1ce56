"""The lint result cache: what linting a directory found, kept with everything it read.

An entry is keyed by the directory, the working directory (paths in diagnostics are relative to
it), the options that can change a result and the code that produced it. It holds the
file-system observations the run made (listings, file contents, existence checks, each as a
digest) and is used only while every one of them still holds, so it is never stale: editing,
adding or removing a file the template uses, a module it calls or a file it reads makes it miss.
A hit costs reading and hashing those files: no parsing, evaluation or schema loading.

This module stays light: it is what a warm run imports instead of the engine.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from functools import cache
from pathlib import Path

from templater.engine.files import Observation, unchanged
from templater.engine.options import LintOptions, cache_key_material
from templater.lint.cache import code_digest, write_entry
from templater.lint.report import ModuleLint

_FORMAT = "1"


@cache
def _code_version() -> bytes:
    """A digest of templater's own code and schemas: another version makes other entries."""
    import templater

    package = Path(templater.__file__).parent
    return code_digest(
        sorted([*package.rglob("*.py"), *package.joinpath("schemas").glob("*.json")]), _FORMAT
    )


class ResultCache:
    def __init__(self, directory: Path) -> None:
        self.directory = directory / f"lint-v{_FORMAT}"
        self._common: tuple[LintOptions, hashlib.blake2b] | None = None

    def _entry(self, module: Path, options: LintOptions) -> Path:
        # What every module's key shares is digested once per options, not once per module.
        if self._common is None or self._common[0] is not options:
            common = hashlib.blake2b(_code_version(), digest_size=20)
            for part in (os.getcwd(), cache_key_material(options)):
                common.update(part.encode("utf-8", "surrogatepass") + b"\0")
            self._common = (options, common)
        digest = self._common[1].copy()
        for part in (os.path.abspath(module), str(module)):
            digest.update(part.encode("utf-8", "surrogatepass") + b"\0")
        key = digest.hexdigest()
        return self.directory / key[:2] / key

    def lookup(self, module: Path, options: LintOptions) -> ModuleLint | None:
        try:
            with open(self._entry(module, options), "rb") as handle:
                observations, result = pickle.load(handle)
        except FileNotFoundError:
            return None
        except Exception:
            return None
        if not isinstance(result, ModuleLint) or not unchanged(observations):
            return None
        return result

    def store(
        self,
        module: Path,
        options: LintOptions,
        observations: list[Observation],
        result: ModuleLint,
    ) -> None:
        write_entry(self._entry(module, options), (observations, result))
