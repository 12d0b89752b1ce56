"""Date and time functions: timeadd, timecmp and formatdate on RFC 3339 timestamps, with Go's
durations and formatdate's verbs, and timestamp and plantimestamp (unknown here).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction

from templater.engine.functions.library import Failure, FunctionContext, Param, as_string, register
from templater.engine.values import Unknown, Value, render

_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:Z|([+-])([0-9]{2}):([0-9]{2}))"
)
_DURATION_PART = re.compile(r"([0-9]*\.?[0-9]*)(ns|us|µs|μs|ms|s|m|h)")
_NANOSECONDS = {
    "ns": 1,
    "us": 10**3,
    "µs": 10**3,
    "μs": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _parse_timestamp(text: str, arg: int) -> tuple[datetime, int]:
    """An RFC 3339 timestamp as a datetime to the second and the nanoseconds past it."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise Failure(f"not a valid RFC3339 timestamp: {render(text)}", arg=arg)
    year, month, day, hour, minute, second, fraction, sign, zone_hours, zone_minutes = (
        match.groups()
    )
    offset = timedelta(0)
    if sign:
        offset = timedelta(hours=int(zone_hours), minutes=int(zone_minutes))
        offset = -offset if sign == "-" else offset
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=timezone(offset),
        )
    except ValueError as err:
        raise Failure(f"not a valid RFC3339 timestamp: {err}", arg=arg) from None
    return moment, int((fraction or "").ljust(9, "0")[:9])


def _parse_duration(text: str) -> int:
    """A Go duration ("1h30m", "-1.5h", "300ms") in nanoseconds."""
    sign = -1 if text.startswith("-") else 1
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body:
        raise Failure(f'time: invalid duration "{text}"', arg=1)
    if body == "0":
        return 0
    total = Fraction(0)
    position = 0
    while position < len(body):
        part = _DURATION_PART.match(body, position)
        if part is None or part.group(1) in ("", "."):
            raise Failure(f'time: invalid duration "{text}"', arg=1)
        total += Fraction(part.group(1)) * _NANOSECONDS[part.group(2)]
        position = part.end()
    return sign * int(total)


def _offset_text(moment: datetime, colon: bool) -> str:
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{':' if colon else ''}{minutes:02d}"


def _rfc3339(moment: datetime) -> str:
    zone = "Z" if not moment.utcoffset() else _offset_text(moment, colon=True)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}{zone}"
    )


@register("timeadd", Param("timestamp", as_string), Param("duration", as_string))
def _timeadd(ctx: FunctionContext, timestamp: str, duration: str) -> str:
    moment, nanoseconds = _parse_timestamp(timestamp, arg=0)
    seconds = (nanoseconds + _parse_duration(duration)) // 10**9
    try:
        return _rfc3339(moment + timedelta(seconds=seconds))
    except OverflowError:
        raise Failure("the resulting time is out of range") from None


_DATE_TOKENS = re.compile(r"''|'((?:[^']|'')*)'|'.*|([A-Za-z])\2*|[^A-Za-z']+", re.DOTALL)


def _date_verb(token: str, moment: datetime) -> str:
    """One formatdate verb, such as YYYY or hh, for ``moment``."""
    letter, size = token[0], len(token)
    hour12 = moment.hour % 12 or 12
    forms: dict[str, dict[int, str]] = {
        "Y": {2: f"{moment.year % 100:02d}", 4: f"{moment.year:04d}"},
        "M": {
            1: str(moment.month),
            2: f"{moment.month:02d}",
            3: _MONTHS[moment.month - 1][:3],
            4: _MONTHS[moment.month - 1],
        },
        "D": {1: str(moment.day), 2: f"{moment.day:02d}"},
        "E": {3: _WEEKDAYS[moment.weekday()][:3], 4: _WEEKDAYS[moment.weekday()]},
        "h": {1: str(moment.hour), 2: f"{moment.hour:02d}"},
        "H": {1: str(hour12), 2: f"{hour12:02d}"},
        "A": {2: "AM" if moment.hour < 12 else "PM"},
        "a": {2: "am" if moment.hour < 12 else "pm"},
        "m": {1: str(moment.minute), 2: f"{moment.minute:02d}"},
        "s": {1: str(moment.second), 2: f"{moment.second:02d}"},
        "Z": {
            1: "Z" if not moment.utcoffset() else _offset_text(moment, colon=True),
            3: "UTC" if not moment.utcoffset() else _offset_text(moment, colon=False),
            4: _offset_text(moment, colon=False),
            5: _offset_text(moment, colon=True),
        },
    }
    text = forms.get(letter, {}).get(size)
    if text is None:
        raise Failure(f"invalid date format verb {render(token)}", arg=0)
    return text


@register("formatdate", Param("format", as_string), Param("time", as_string))
def _formatdate(ctx: FunctionContext, spec: str, timestamp: str) -> str:
    moment, _ = _parse_timestamp(timestamp, arg=1)
    out = []
    for token in _DATE_TOKENS.finditer(spec):
        text = token.group(0)
        if text == "''":
            out.append("'")
        elif token.group(1) is not None:
            out.append(token.group(1).replace("''", "'"))
        elif text.startswith("'"):
            raise Failure("unterminated literal '", arg=0)
        elif token.group(2):
            out.append(_date_verb(text, moment))
        else:
            out.append(text)
    return "".join(out)


# Not known before apply: Terraform itself leaves it unknown during planning.
@register("timestamp", unknowns="handles")
def _timestamp(ctx: FunctionContext) -> Value:
    return Unknown()


@register("timecmp", Param("timestamp_a", as_string), Param("timestamp_b", as_string))
def _timecmp(ctx: FunctionContext, first: str, second: str) -> int:
    moments = []
    for arg, text in enumerate((first, second)):
        moment, nanoseconds = _parse_timestamp(text, arg=arg)
        moments.append((moment.astimezone(UTC), nanoseconds))
    return (moments[0] > moments[1]) - (moments[0] < moments[1])


# Known while Terraform plans, but a new time on every run: a linter that took one time would
# report on values that the next plan changes, so here it is unknown, like timestamp().
@register("plantimestamp", unknowns="handles")
def _plantimestamp(ctx: FunctionContext) -> Value:
    return Unknown()
