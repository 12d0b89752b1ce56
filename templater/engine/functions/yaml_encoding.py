"""yamlencode and yamldecode, as Terraform's YAML library (go-cty-yaml 1.1, a port of libyaml)
reads and writes YAML.

Both work on PyYAML's event stream, whose parser and emitter are libyaml itself where PyYAML has
it (its wheels do), so the syntax accepted, the messages for bad YAML and the emitted text are
libyaml's. What go-cty-yaml adds on top is here: which scalars are numbers, bools, nulls and
timestamps (its YAML 1.2-like rules, plus YAML 1.1's yes/no/on/off), one document only, merge
keys, no cyclic aliases, and where its messages say the error is (it counts lines from 0 in most
of them, and names no place on the first line: that too is kept).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import yaml
from yaml import events

from templater.engine.functions.library import (
    Failure,
    FunctionContext,
    Param,
    as_decimal,
    as_string,
    register,
)
from templater.engine.types import parse_number
from templater.engine.values import Value, is_number, normalize_number

_Emitter: Any = getattr(yaml, "CDumper", yaml.Dumper)
_Parser: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_TAG = "tag:yaml.org,2002:"
_STR, _BINARY, _BOOL, _INT, _FLOAT, _NULL, _TIMESTAMP, _MAP, _SEQ = (
    _TAG + name
    for name in ("str", "binary", "bool", "int", "float", "null", "timestamp", "map", "seq")
)
_RESOLVABLE = frozenset({"", _STR, _BINARY, _BOOL, _INT, _FLOAT, _NULL, _TIMESTAMP})


# --- yamlencode ----------------------------------------------------------------------------------


def _scalar(text: str, style: str | None) -> events.ScalarEvent:
    return events.ScalarEvent(None, None, (True, True), text, style=style)


def _value_events(value: Value, out: list[events.Event]) -> None:
    """``value`` as the events go-cty-yaml emits for it: block collections, strings double
    quoted (literal when they hold a line break), numbers in plain decimals."""
    if value is None:
        out.append(_scalar("null", None))
    elif isinstance(value, bool):
        out.append(_scalar("true" if value else "false", None))
    elif is_number(value):
        number = normalize_number(value)
        if isinstance(number, float) and number != number:
            raise Failure("cannot serialize NaN as YAML")
        text = str(number) if isinstance(number, int) else _float_text(number)
        out.append(_scalar(text, None))
    elif isinstance(value, str):
        out.append(_scalar(value, "|" if "\n" in value else '"'))
    elif isinstance(value, list):
        out.append(events.SequenceStartEvent(None, None, True, flow_style=False))
        for item in value:
            _value_events(item, out)
        out.append(events.SequenceEndEvent())
    else:
        out.append(events.MappingStartEvent(None, None, True, flow_style=False))
        for key in sorted(value):
            out.append(_scalar(key, "|" if "\n" in key else '"'))
            _value_events(value[key], out)
        out.append(events.MappingEndEvent())


def _float_text(number: float) -> str:
    if number in (float("inf"), float("-inf")):
        return "+Inf" if number > 0 else "-Inf"
    return format(as_decimal(number), "f")


@register("yamlencode", Param("value", nullable=True))
def _yamlencode(ctx: FunctionContext, value: Value) -> str:
    stream: list[events.Event] = [
        events.StreamStartEvent(encoding=None),
        events.DocumentStartEvent(explicit=False),
    ]
    _value_events(value, stream)
    stream += [events.DocumentEndEvent(explicit=False), events.StreamEndEvent()]
    text: str = yaml.emit(stream, Dumper=_Emitter, allow_unicode=True)
    # The libyaml that Terraform's emitter ports ends a document with "..." after a plain
    # scalar at the top, and never after a kept literal block ("|+"); libyaml 0.2 does the
    # reverse.
    ended = text.endswith("\n...\n")
    if isinstance(value, (str, list, dict)) and ended:
        text = text[: -len("...\n")]
    elif not isinstance(value, (str, list, dict)) and not ended:
        text += "...\n"
    return text


# --- yamldecode ----------------------------------------------------------------------------------


class _Problem(Exception):
    """A decoding error before its position is known."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _at(event: events.Event, message: str) -> Failure:
    """go-cty-yaml's message for an error at an event: its 0-based line, 1-based column, and
    no position at all on the first line."""
    mark = event.start_mark
    if mark is None or mark.line == 0:
        return Failure(message)
    return Failure(f"on line {mark.line}, column {mark.column + 1}: {message}")


def _syntax_error(error: yaml.MarkedYAMLError) -> Failure:
    """libyaml's message for bad syntax, placed as go-cty-yaml places it."""
    problem = error.problem or "invalid YAML syntax"
    mark, context = error.problem_mark, error.context_mark
    if mark is not None and mark.line != 0:
        if isinstance(error, yaml.scanner.ScannerError):
            return Failure(f"on line {mark.line + 1}, column 1: {problem}")
        return Failure(f"on line {mark.line}, column {mark.column + 1}: {problem}")
    if context is not None and context.line != 0:
        return Failure(f"on line {context.line}, column {context.column + 1}: {problem}")
    return Failure(problem)


def _quote(text: str) -> str:
    """A string quoted as Go's %q quotes it, near enough for messages."""
    return json.dumps(text, ensure_ascii=False)


_INTEGER_LITERAL = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT_LITERAL = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_TIMESTAMP_RE = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:(?:([Tt])|( ))([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})([.,][0-9]+)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?)?"
)
_CONSTANTS: dict[str, tuple[Value, str]] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"), (True, _BOOL)),
    **dict.fromkeys(("on", "On", "ON"), (True, _BOOL)),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE"), (False, _BOOL)),
    **dict.fromkeys(("off", "Off", "OFF"), (False, _BOOL)),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), (None, _NULL)),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), (float("inf"), _FLOAT)),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), (float("-inf"), _FLOAT)),
}
_MERGE = object()
"""The ``<<`` key, whose value (a mapping) merges into the mapping that holds it."""


def _timestamp(text: str) -> str | None:
    """A YAML timestamp as go-cty-yaml accepts it (Go's layouts: RFC 3339 with one-digit
    fields allowed, "date time" in UTC, a date), as an RFC 3339 string; else None."""
    match = _TIMESTAMP_RE.fullmatch(text)
    if match is None:
        return None
    year, month, day, t, space, hour, minute, second, _fraction, zone = match.groups()
    if (t and not zone) or (space and zone):
        return None
    offset = timedelta(0)
    if zone and zone != "Z":
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        offset = -offset if zone[0] == "-" else offset
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            tzinfo=timezone(offset),
        )
    except ValueError:
        return None
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if not offset:
        return stamp + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{stamp}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _resolve(tag: str, text: str, style: str) -> Value:
    """A scalar's value by go-cty-yaml's rules, from its tag (empty when it has none), its text
    and its style ("" plain, quotes, "|" or ">")."""
    if tag not in _RESOLVABLE:
        raise _Problem(f"unsupported tag {_quote(tag)}")
    hint = "N" if not text else text[0]
    if hint in "+-0123456789yYnNtTfFoO~." and tag not in (_STR, _BINARY):
        if style in ("'", '"'):
            return text
        if text in _CONSTANTS:
            return _CONSTANTS[text][0]
        if tag == "" and text in (".nan", ".NaN", ".NAN"):
            raise _Problem("floating point NaN is not supported")
        if hint == ".":
            number = parse_number(text)
            if number is not None:
                return number
        elif hint in "+-0123456789":
            if tag in ("", _TIMESTAMP):
                stamp = _timestamp(text)
                if stamp is not None:
                    return stamp
            if _INTEGER_LITERAL.fullmatch(text):
                tag = _INT
            elif _FLOAT_LITERAL.fullmatch(text):
                tag = _FLOAT
    if tag == "" and text == "<<":
        return _MERGE
    if tag in ("", _STR):
        return text
    if tag == _BINARY:
        try:
            base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
        except (binascii.Error, ValueError):
            raise _Problem(f"cannot parse {_quote(text)} as {tag}: not valid base64") from None
        return text
    if tag == _BOOL:
        if _CONSTANTS.get(text, (None, ""))[1] != _BOOL:
            raise _Problem(f"cannot parse {_quote(text)} as {tag}")
        return _CONSTANTS[text][0]
    if tag in (_INT, _FLOAT):
        plain = text.replace("_", "")
        number = parse_number(plain)
        if number is None:
            number = _go_integer(plain)
        if number is None:
            raise _Problem(f"cannot parse {_quote(text)} as {tag}")
        return number
    if tag == _TIMESTAMP:
        stamp = _timestamp(text)
        if stamp is None:
            raise _Problem(f"cannot parse {_quote(text)} as {tag}")
        return stamp
    return None  # the null tag


def _go_integer(text: str) -> int | None:
    """An integer as Go's strconv.ParseInt (or ParseUint) reads it with base 0: 0x, 0o, 0b
    and a leading 0 (octal) prefixes, within 64 bits."""
    sign = -1 if text.startswith("-") else 1
    body = text[1:] if text[:1] in "+-" else text
    bases = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}
    base = bases.get(body[:2], 8 if len(body) > 1 and body[0] == "0" else 10)
    digits = body[2:] if body[:2] in bases else body
    try:
        value = sign * int(digits, base) if digits and digits.isalnum() else None
    except ValueError:
        return None
    if value is None or not -(2**63) <= value < 2**64:
        return None
    return value


class _Decoder:
    """One pass over the events of a YAML text, building its value."""

    def __init__(self, text: str) -> None:
        self._events: Iterator[events.Event] = iter(yaml.parse(text or "\n", Loader=_Parser))
        self._anchors: dict[str, Value] = {}
        self._pending: set[str] = set()

    def next(self) -> events.Event:
        try:
            return next(self._events)
        except yaml.MarkedYAMLError as error:
            raise _syntax_error(error) from None

    def document(self) -> Value:
        self.next()  # the stream's start
        start = self.next()
        if not isinstance(start, events.DocumentStartEvent):
            raise _at(start, "missing start of document")
        if start.version not in (None, (1, 1)):
            # The libyaml Terraform's parser ports knows YAML 1.1 only.
            raise _at(start, "found incompatible YAML document")
        value = self.value(self.next())
        end = self.next()
        if isinstance(end, events.DocumentStartEvent):
            raise _at(end, "only a single document is allowed")
        if not isinstance(end, events.DocumentEndEvent):
            raise _at(end, f"unexpected extra content ({_event_name(end)}) after value")
        last = self.next()
        if not isinstance(last, events.StreamEndEvent):
            raise _at(last, "unexpected extra content after value")
        return value

    def value(self, event: events.Event) -> Value:
        if isinstance(event, events.ScalarEvent):
            return self.scalar(event)
        if isinstance(event, events.AliasEvent):
            return self.alias(event)
        if isinstance(event, events.MappingStartEvent):
            return self.collection(event, self.mapping, _MAP, "mapping")
        if isinstance(event, events.SequenceStartEvent):
            return self.collection(event, self.sequence, _SEQ, "sequence")
        if isinstance(event, events.DocumentStartEvent):
            raise _at(event, "only a single document is allowed")
        if isinstance(event, events.StreamEndEvent):
            raise _at(event, "expecting value but found end of stream")
        raise _at(event, f"unexpected parser event {_event_name(event)}")

    def scalar(self, event: events.ScalarEvent) -> Value:
        try:
            value = _resolve(event.tag or "", event.value, event.style or "")
        except _Problem as problem:
            raise _at(event, problem.message) from None
        value = "<<" if value is _MERGE else value
        if event.anchor:
            self._anchors[event.anchor] = value
        return value

    def alias(self, event: events.AliasEvent) -> Value:
        name = event.anchor or ""
        if name in self._pending:
            raise _at(
                event, f"cannot refer to anchor {_quote(name)} from inside its own definition"
            )
        if name not in self._anchors:
            raise _at(event, f"reference to undefined anchor {_quote(name)}")
        return self._anchors[name]

    def collection(
        self, event: events.CollectionStartEvent, build: Any, tag: str, kind: str
    ) -> Value:
        if event.tag and event.tag != tag:
            raise _at(event, f"can't interpret {kind} as {event.tag}")
        anchor = event.anchor
        if anchor:
            self._pending.add(anchor)
        value = build()
        if anchor:
            self._pending.discard(anchor)
            self._anchors[anchor] = value
        return value

    def sequence(self) -> list[Value]:
        items: list[Value] = []
        while not isinstance(event := self.next(), events.SequenceEndEvent):
            items.append(self.value(event))
        return items

    def mapping(self) -> dict[str, Value]:
        items: dict[str, Value] = {}
        while not isinstance(event := self.next(), events.MappingEndEvent):
            if not isinstance(event, events.ScalarEvent):
                raise _at(event, "only strings are allowed as mapping keys")
            try:
                key = _resolve(event.tag or "", event.value, event.style or "")
            except _Problem as problem:
                raise Failure(problem.message) from None
            if key is _MERGE:
                merged = self.value(self.next())
                if not isinstance(merged, dict):
                    raise _at(event, f"cannot merge {_type_name(merged)} into mapping")
                items.update(merged)
                continue
            if key is None:
                raise _at(event, "mapping key cannot be null")
            if isinstance(key, (list, dict)):
                raise _at(event, "only strings are allowed as mapping keys")
            items[_key_text(key)] = self.value(self.next())
        return items


def _key_text(key: Value) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if is_number(key):
        number = normalize_number(key)
        return str(number) if isinstance(number, int) else _float_text(number)
    return str(key)


def _type_name(value: Value) -> str:
    """cty's friendly name for the type go-cty-yaml gives a value."""
    if value is None:
        return "dynamic"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if is_number(value):
        return "number"
    return "tuple"


def _event_name(event: events.Event) -> str:
    names = {
        events.StreamStartEvent: "STREAM-START",
        events.StreamEndEvent: "STREAM-END",
        events.DocumentStartEvent: "DOCUMENT-START",
        events.DocumentEndEvent: "DOCUMENT-END",
        events.AliasEvent: "ALIAS",
        events.ScalarEvent: "SCALAR",
        events.SequenceStartEvent: "SEQUENCE-START",
        events.SequenceEndEvent: "SEQUENCE-END",
        events.MappingStartEvent: "MAPPING-START",
        events.MappingEndEvent: "MAPPING-END",
    }
    return names.get(type(event), type(event).__name__)


@register("yamldecode", Param("src", as_string))
def _yamldecode(ctx: FunctionContext, text: str) -> Value:
    try:
        return _Decoder(text).document()
    except RecursionError:
        raise Failure("YAML is nested too deeply") from None
