"""Date and time functions: timeadd, timecmp and formatdate on RFC 3339 timestamps, with Go's
durations and formatdate's verbs, and timestamp and plantimestamp (unknown here).
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction

from templater.engine.functions.library import (
    Failure,
    FunctionContext,
    Param,
    as_string,
    json_string,
    register,
)
from templater.engine.values import Unknown, Value, render

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


class _TimeError(Exception):
    """Go's time.ParseError: the layout element and the rest of the value where parsing
    stopped, and a message for a value out of range."""

    def __init__(self, layout: str, value: str, message: str = "") -> None:
        super().__init__(message)
        self.layout = layout
        self.value = value
        self.message = message


def _digits(text: str, fixed: bool) -> tuple[int, str] | None:
    """Go's getnum: two digits (``fixed``) or one or two, and the rest of the text."""
    if not text[:1].isdigit() or not text[:1].isascii():
        return None
    if text[1:2].isdigit() and text[1:2].isascii():
        return int(text[:2]), text[2:]
    return None if fixed else (int(text[0]), text[1:])


_CHUNKS = (("", "2006"), ("-", "01"), ("-", "02"), ("T", "15"), (":", "04"), (":", "05"))
_LIMITS = {"01": (1, 12, "month"), "15": (0, 23, "hour"), "04": (0, 59, "minute")}
_LIMITS["05"] = (0, 59, "second")


def _go_parse(text: str) -> tuple[list[int], int, int]:
    """``text`` read as Go's time.Parse reads the RFC3339 layout: the fields (year, month,
    day, hour, minute, second), the nanoseconds and the UTC offset in seconds; it is more
    lenient than RFC 3339 (one-digit hours, a comma before fractions, offsets up to 24h)."""
    value = text
    fields: list[int] = []
    nanoseconds = 0
    for prefix, element in _CHUNKS:
        if not value.startswith(prefix):
            raise _TimeError(prefix, value)
        value = value[len(prefix) :]
        hold = value
        if element == "2006":
            if len(value) < 4 or not (value[:4].isdigit() and value[:4].isascii()):
                raise _TimeError(element, hold)
            fields.append(int(value[:4]))
            value = value[4:]
            continue
        found = _digits(value, fixed=element != "15")
        if found is None:
            raise _TimeError(element, hold)
        number, value = found
        if element in _LIMITS:
            low, high, name = _LIMITS[element]
            if not low <= number <= high:
                raise _TimeError(element, value, f": {name} out of range")
        fields.append(number)
        if element == "05" and len(value) >= 2 and value[0] in ".," and value[1].isdigit():
            end = 2
            while end < len(value) and value[end].isdigit():
                end += 1
            nanoseconds = int(value[1:end][:9].ljust(9, "0"))
            value = value[end:]
    offset = _go_offset(value)
    value = value[1:] if value.startswith("Z") else value[6:]
    if value:
        raise _TimeError("", value, f": extra text: {json_string(value)}")
    year, month, day = fields[:3]
    if day < 1 or day > calendar.monthrange(year or 2000, month)[1]:
        raise _TimeError("", "", ": day out of range")
    return fields, nanoseconds, offset


def _go_offset(value: str) -> int:
    """The UTC offset in seconds at the start of ``value``: Z, or ±hh:mm up to 24 hours."""
    if value.startswith("Z"):
        return 0
    if len(value) < 6 or value[3] != ":" or value[0] not in "+-":
        raise _TimeError("Z07:00", value)
    hours, minutes = _digits(value[1:3], fixed=True), _digits(value[4:6], fixed=True)
    if hours is None or minutes is None:
        raise _TimeError("Z07:00", value)
    if hours[0] > 24 or minutes[0] > 60:
        raise _TimeError("Z07:00", value[6:], ": time zone offset out of range")
    seconds = (hours[0] * 60 + minutes[0]) * 60
    return -seconds if value[0] == "-" else seconds


def _strict_problem(text: str, offset: int) -> _TimeError | None:
    """What cty's stricter RFC 3339 reading refuses of a timestamp Go's accepts."""
    if text[12:13] == ":":
        return _TimeError("15", text[11:12], ": hour must have two digits")
    if text[19:20] == ",":
        return _TimeError(".", ",", ": sub-second separator must be a period")
    if not text.endswith("Z") and (abs(offset) >= 24 * 3600 or int(text[-2:]) >= 60):
        return _TimeError("Z07:00", text[-6:], ": timezone out of range")
    return None


def _time_message(error: _TimeError, strict: bool) -> str:
    """Terraform's words for a timestamp that does not parse (cty's, when ``strict``)."""
    base = "not a valid RFC3339 timestamp"
    if not error.layout and not error.value and error.message:
        return base + error.message
    names = {
        "2006": "year",
        "01": "month",
        "02": "day of month",
        "15": "hour",
        "04": "minute",
        "05": "second",
        "Z07:00": "UTC offset",
    }
    if error.layout == "T":
        return f"{base}: missing required time introducer 'T'"
    if error.layout in (":", "-"):
        if not error.value:
            return f"{base}: end of string where {json_string(error.layout)} is expected"
        return (
            f"{base}: found {json_string(error.value)} where {json_string(error.layout)} is "
            "expected"
        )
    what = names.get(error.layout, "timestamp segment")
    if not error.value:
        return f"{base}: end of string before {what}"
    if strict and what == "hour" and ":" in error.value:
        return f"{base}: hour must be between 0 and 23 inclusive"
    if strict and what in ("hour", "minute") and len(error.value) != 2:
        return f"{base}: {what} must have exactly two digits"
    return f"{base}: cannot use {json_string(error.value)} as {what}"


def _parse_timestamp(text: str, arg: int | None, strict: bool = True) -> tuple[datetime, int]:
    """An RFC 3339 timestamp as a datetime to the second and the nanoseconds past it. cty's
    functions (timeadd, formatdate) read it ``strict``ly; timecmp takes what Go takes."""
    try:
        fields, nanoseconds, offset = _go_parse(text)
        problem = _strict_problem(text, offset) if strict else None
        if problem is not None:
            raise problem
    except _TimeError as error:
        raise Failure(_time_message(error, strict), arg=arg) from None
    year, month, day, hour, minute, second = fields
    try:
        if abs(offset) < 24 * 3600:
            zone = timezone(timedelta(seconds=offset))
            return datetime(year, month, day, hour, minute, second, tzinfo=zone), nanoseconds
        # An offset of a whole day, which Go takes and Python's timezone does not: the same
        # instant in UTC.
        moment = datetime(year, month, day, hour, minute, second) - timedelta(seconds=offset)
        return moment.replace(tzinfo=UTC), nanoseconds
    except (ValueError, OverflowError) as err:
        # Year 0, say, which Go has and Python's datetime does not.
        raise Failure(f"not a valid RFC3339 timestamp: {err}", arg=arg) from None


_DURATION_NUMBER = re.compile(r"([0-9]*)(?:\.([0-9]*))?")


def _parse_duration(text: str) -> int:
    """A Go duration ("1h30m", "-1.5h", "300ms") in nanoseconds, or Go's message."""
    quoted = json_string(text)
    sign = -1 if text.startswith("-") else 1
    rest = text[1:] if text[:1] in ("+", "-") else text
    if rest == "0":
        return 0
    if not rest:
        raise Failure(f"time: invalid duration {quoted}")
    total = Fraction(0)
    while rest:
        number = _DURATION_NUMBER.match(rest)
        assert number is not None  # it matches the empty string
        whole, fraction = number.groups()
        if not (whole or fraction):  # no digits before the unit, or none at all
            raise Failure(f"time: invalid duration {quoted}")
        rest = rest[number.end() :]
        unit_end = 0
        while unit_end < len(rest) and rest[unit_end] not in ".0123456789":
            unit_end += 1
        unit, rest = rest[:unit_end], rest[unit_end:]
        if not unit:
            raise Failure(f"time: missing unit in duration {quoted}")
        if unit not in _NANOSECONDS:
            raise Failure(f"time: unknown unit {json_string(unit)} in duration {quoted}")
        total += Fraction(f"{whole or 0}.{fraction or 0}") * _NANOSECONDS[unit]
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
    moment, nanoseconds = _parse_timestamp(timestamp, arg=None)
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
        moment, nanoseconds = _parse_timestamp(text, arg=arg, strict=False)
        moments.append((moment.astimezone(UTC), nanoseconds))
    return (moments[0] > moments[1]) - (moments[0] < moments[1])


# Known while Terraform plans, but a new time on every run: a linter that took one time would
# report on values that the next plan changes, so here it is unknown, like timestamp().
@register("plantimestamp", unknowns="handles")
def _plantimestamp(ctx: FunctionContext) -> Value:
    return Unknown()
