"""What the server logs, and how: one line per request, per apply, per destroy and per change of
an app's health, on stderr, as text or as JSON (``--log-format``).

A line is a ``logging`` record whose message is a template such as ``"apply owner=%s
workspace=%s"``: the words before the ``key=%…`` fields are the message, the arguments are the
fields' values. ``LogFormatter`` writes it as ``TIME LEVEL message key=value …`` or as one JSON
object with the same fields; records from elsewhere (uvicorn, the health monitor) are written
with their message alone. Request lines are on the hot path of the proxy: the call passes a
tuple of values, and a text line is built without a dict or ``json``.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

LOG_FORMATS = ("text", "json")

request_log = logging.getLogger("templater.requests")
"""One line per request, wherever it was answered."""
event_log = logging.getLogger("templater.events")
"""Applies, destroys and changes of health."""
server_log = logging.getLogger("templater.server")
"""The server starting, stopping, and what went wrong."""

REQUEST = "request method=%s host=%s path=%s status=%d duration_ms=%.1f user=%s"
"""The fields of a request's line. Never the query string (a sign-in ticket travels there), nor
a token or cookie."""

_FIELD = re.compile(r"(\w+)=(%[-#0 +]?\d*(?:\.\d+)?[sdfr])")
_LOGGING_STARTED: float = getattr(logging, "_startTime", time.time())
_MILLISECONDS = tuple(f".{millisecond:03d}Z" for millisecond in range(1000))


@dataclass(frozen=True, slots=True)
class _Template:
    """A message template with fields: its message, its fields' (key, conversion), and how to
    take its text (``%s``) values from the arguments."""

    message: str
    fields: tuple[tuple[str, str], ...]
    texts: Callable[[tuple[Any, ...]], tuple[Any, ...]]


class _RequestRecord(logging.LogRecord):
    """A request's record, made with less work than ``LogRecord``'s own (which looks up the
    caller's file, the thread and the process): what no line shows keeps a default."""

    name = request_log.name
    msg = REQUEST
    levelno = logging.INFO
    levelname = "INFO"
    pathname = filename = module = funcName = ""
    lineno = 0
    exc_info = exc_text = stack_info = None
    thread = threadName = process = processName = taskName = None

    def __init__(self, values: tuple[Any, ...]) -> None:
        # Not LogRecord.__init__: these are all its lines show.
        self.args = values
        self.created = created = time.time()
        self.msecs = (created - int(created)) * 1000
        self.relativeCreated = (created - _LOGGING_STARTED) * 1000


def log_request(
    method: str, host: str, path: str, status: int, seconds: float, user: str | None
) -> None:
    """The line of one request: ``path`` without its query."""
    if request_log.isEnabledFor(logging.INFO):
        values = (method, host, path, status, seconds * 1000, user or "-")
        request_log.handle(_RequestRecord(values))


class LogFormatter(logging.Formatter):
    """Records as ``TIME LEVEL message key=value …`` (``text``) or as JSON objects with the keys
    ``time``, ``level``, ``message`` and the fields (``json``); times in UTC, to the
    millisecond. A text value is quoted when it has spaces, quotes, backslashes, control or
    non-ASCII characters."""

    def __init__(self, log_format: str = "text") -> None:
        super().__init__()
        self._json = log_format == "json"
        self._templates: dict[str, _Template | None] = {}
        self._second = -1
        self._stamp = ""

    def format(self, record: logging.LogRecord) -> str:
        created = record.created
        second = int(created)
        if second != self._second:  # strftime once a second, not once a line
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        stamp = self._stamp + _MILLISECONDS[int((created - second) * 1000)]
        problem = self.formatException(record.exc_info) if record.exc_info else None
        msg, values = record.msg, record.args
        parsed = self._template(msg) if isinstance(msg, str) else None
        if parsed is None or not isinstance(values, tuple) or len(values) != len(parsed.fields):
            line = record.getMessage()
            if self._json:
                line = self._json_line(stamp, record.levelname, line, (), (), problem)
        elif self._json:
            line = self._json_line(
                stamp, record.levelname, parsed.message, parsed.fields, values, problem
            )
        else:
            # The template is the line as it is, unless a text value needs quotes: one check
            # of all of them together, then (rarely) one by one.
            try:
                plain = _plain("".join(parsed.texts(values)))
            except TypeError:  # a value that is not a str
                plain = False
            if not plain:
                values = tuple(
                    _quoted(text)
                    if conversion == "%s" and not _plain(text := str(value))
                    else value
                    for (_, conversion), value in zip(parsed.fields, values, strict=True)
                )
            line = msg % values
        if self._json:
            return line
        line = f"{stamp} {record.levelname} {line}"
        return line if problem is None else f"{line}\n{problem}"

    @staticmethod
    def _json_line(
        stamp: str,
        level: str,
        message: str,
        fields: tuple[tuple[str, str], ...],
        values: tuple[Any, ...],
        problem: str | None,
    ) -> str:
        entry: dict[str, Any] = {"time": stamp, "level": level, "message": message}
        for (key, conversion), value in zip(fields, values, strict=True):
            entry[key] = _typed(conversion, value)
        if problem is not None:
            entry["exception"] = problem
        return json.dumps(entry, ensure_ascii=False, default=str)

    def _template(self, template: str) -> _Template | None:
        """``template`` parsed; None when it has no fields (a message of its own, formatted as
        ``logging`` does)."""
        try:
            return self._templates[template]
        except KeyError:
            pass
        words = template.split(" ")
        fields: list[tuple[str, str]] = []
        while len(words) > 1 and (field := _FIELD.fullmatch(words[-1])) is not None:
            fields.insert(0, (field[1], field[2]))
            words.pop()
        message = " ".join(words)
        parsed = None
        if fields and "%" not in message:
            texts = [index for index, (_, conversion) in enumerate(fields) if conversion == "%s"]
            getter: Callable[[tuple[Any, ...]], tuple[Any, ...]]
            if len(texts) > 1:
                getter = itemgetter(*texts)
            else:
                getter = lambda values: tuple(values[index] for index in texts)  # noqa: E731
            parsed = _Template(message, tuple(fields), getter)
        if len(self._templates) < 1024:
            self._templates[template] = parsed
        return parsed


def _typed(conversion: str, value: Any) -> Any:
    """A field's value for JSON: numbers stay numbers (rounded as the template says)."""
    if conversion == "%d":
        return int(value)
    if conversion.endswith("f"):
        return float(conversion % (value,))
    return value if type(value) is str else conversion % (value,)


def _plain(text: str) -> bool:
    """Whether a text value goes without quotes: no spaces, quotes, backslashes, control or
    non-ASCII characters (quicker to tell than with a regular expression)."""
    return (
        text.isascii()
        and text.isprintable()
        and " " not in text
        and '"' not in text
        and "\\" not in text
    )


def _quoted(text: str) -> str:
    """``text`` in double quotes, with quotes, backslashes and what is not printable ASCII
    escaped."""
    escaped = text.encode("unicode_escape").decode("ascii").replace('"', '\\"')
    return f'"{escaped}"'


def configure(log_format: str) -> None:
    """Send every record of this process at INFO and above to stderr, as ``log_format`` says.
    Once per process: the server's own and each of its workers."""
    # What a record would otherwise look up each time and no line shows.
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogFormatter(log_format))
    root = logging.getLogger()
    for old in root.handlers:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)


def note_user(connection: HTTPConnection, name: str) -> None:
    """Who sent this API request, for its line in the log."""
    connection.state.log_user = name


_Scope = MutableMapping[str, Any]
_Message = MutableMapping[str, Any]
_Receive = Callable[[], Awaitable[_Message]]
_Send = Callable[[_Message], Awaitable[None]]
_ASGIApp = Callable[[_Scope, _Receive, _Send], Awaitable[None]]


class AccessLog:
    """ASGI middleware: the line of each HTTP request the API answers, once its response is
    over (a stream of events, when it ends)."""

    def __init__(self, app: _ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app answers: an exception becomes a 500
        state: dict[str, Any] = scope.setdefault("state", {})

        async def sending(message: _Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            host = next((value for name, value in scope["headers"] if name == b"host"), b"")
            log_request(
                scope["method"],
                host.decode("latin-1"),
                scope.get("raw_path", b"").decode("latin-1") or scope["path"],
                status,
                time.perf_counter() - started,
                state.get("log_user"),
            )
