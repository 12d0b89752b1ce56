"""Filesystem functions: file, filebase64, fileexists, fileset (doublestar globs), templatefile and
the path functions basename, dirname, abspath and pathexpand, by Go's path rules.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

from templater.engine.functions.library import (
    Failure,
    FunctionContext,
    Param,
    as_string,
    base64_text,
    check_template_vars,
    expand_home,
    go_clean,
    read_file,
    register,
    resolve_path,
)
from templater.engine.values import Value, render


@register("file", Param("path", as_string))
def _file(ctx: FunctionContext, path: str) -> str:
    return read_file(ctx, path, ctx.read_text)


@register("filebase64", Param("path", as_string))
def _filebase64(ctx: FunctionContext, path: str) -> str:
    return base64_text(read_file(ctx, path, ctx.read_bytes))


@register("fileexists", Param("path", as_string))
def _fileexists(ctx: FunctionContext, path: str) -> bool:
    resolved = resolve_path(ctx, path)
    if ctx.files.is_file(resolved):
        return True
    if ctx.files.is_dir(resolved):
        raise Failure(f"{render(path)} is a directory, not a file", arg=0)
    return False


@register("fileset", Param("path", as_string), Param("pattern", as_string))
def _fileset(ctx: FunctionContext, path: str, pattern: str) -> list[str]:
    matcher = _glob(pattern)
    return [
        name for name in ctx.files.walk_files(resolve_path(ctx, path)) if matcher.fullmatch(name)
    ]


@lru_cache(maxsize=64)
def _glob(pattern: str) -> re.Pattern[str]:
    """A doublestar glob (``*``, ``**``, ``?``, ``[…]``, ``{a,b}``) as a regular expression."""
    segments = go_clean(pattern).split("/")
    out = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "**":
            out.append(".*" if last else "(?:.*/)?")
        else:
            out.append(_glob_segment(segment) + ("" if last else "/"))
    return re.compile("".join(out), re.DOTALL)


def _glob_segment(segment: str) -> str:
    """One path segment of a glob; a "[" or "{" without its closer is literal."""
    out = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\" and i + 1 < len(segment):
            i += 1
            out.append(re.escape(segment[i]))
        elif char == "[" and (close := segment.find("]", i + 2)) > 0:
            body = segment[i + 1 : close]
            negate = body[:1] in ("!", "^")
            body = re.sub(r"([\\\[&~|])", r"\\\1", body[1:] if negate else body)
            out.append("[" + ("^" if negate else "") + body + "]")
            i = close
        elif char == "{" and (close := segment.find("}", i + 1)) > 0:
            choices = segment[i + 1 : close].split(",")
            out.append("(?:" + "|".join(_glob_segment(choice) for choice in choices) + ")")
            i = close
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


@register("basename", Param("path", as_string))
def _basename(ctx: FunctionContext, path: str) -> str:
    if not path:
        return "."
    trimmed = path.rstrip("/")
    return trimmed.rsplit("/", 1)[-1] if trimmed else "/"


@register("dirname", Param("path", as_string))
def _dirname(ctx: FunctionContext, path: str) -> str:
    return go_clean(path[: path.rfind("/") + 1])


@register("abspath", Param("path", as_string))
def _abspath(ctx: FunctionContext, path: str) -> str:
    # Like Terraform, relative to the working directory, not the module.
    return go_clean(path if path.startswith("/") else os.getcwd() + "/" + path)


@register("pathexpand", Param("path", as_string))
def _pathexpand(ctx: FunctionContext, path: str) -> str:
    return expand_home(path)


@register("templatefile", Param("path", as_string), Param("vars"), unknowns="shallow")
def _templatefile(ctx: FunctionContext, path: str, variables: Value) -> Value:
    check_template_vars(variables, arg=1)
    text = read_file(ctx, path, ctx.read_text)
    # The resolved path, so the evaluator's messages point into the template file.
    return ctx.render_template(text, variables, str(resolve_path(ctx, path)))
