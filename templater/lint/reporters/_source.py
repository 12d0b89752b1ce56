"""Source lines for code frames and fingerprints, each file read once per rendering."""

from __future__ import annotations


class SourceLines:
    """The lines of source files as the parser numbered them, or None for unreadable files."""

    def __init__(self) -> None:
        self._files: dict[str, list[str] | None] = {}

    def line(self, file: str, number: int) -> str | None:
        """Line ``number`` (1-based) of ``file`` without its line ending, or None."""
        if file not in self._files:
            self._files[file] = _read_lines(file)
        lines = self._files[file]
        if lines is None or not 1 <= number <= len(lines):
            return None
        return lines[number - 1]


def _read_lines(file: str) -> list[str] | None:
    # Read as the loader does (undecodable bytes replaced, line endings kept) and split on "\n"
    # only, so that line and column numbers mean the same characters as in the parser's spans.
    try:
        with open(file, encoding="utf-8", errors="replace", newline="") as handle:
            text = handle.read()
    except (OSError, ValueError):
        return None
    if text.startswith("\ufeff"):
        text = " " + text[1:]  # the parser counts a byte-order mark as one column
    return [line.removesuffix("\r") for line in text.split("\n")]
