"""Terraform addresses: ``module.m[0].coder_app.web["x"]`` and the block they are instances of."""

from __future__ import annotations

import re

_INSTANCE_KEY = re.compile(r'\[(?:\d+|"(?:[^"\\]|\\.)*")\]')


def block_address(address: str) -> str:
    """The address of the block an instance address belongs to: every instance key dropped,
    the module instances' too (``module.m[0].coder_app.web[1]`` → ``module.m.coder_app.web``)."""
    return _INSTANCE_KEY.sub("", address)


def key_suffix(key: int | str | None) -> str:
    """The instance key as it follows an address: ``[0]``, ``["name"]``, or nothing."""
    if key is None:
        return ""
    if isinstance(key, int):
        return f"[{key}]"
    return '["' + key.replace("\\", "\\\\").replace('"', '\\"') + '"]'
