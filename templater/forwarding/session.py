"""One run of ``templater port-forward`` (SPEC §9): every listener bound before anything is
forwarded (a port that cannot be bound stops it, by name), one line per listener, then
forwarding until SIGINT or SIGTERM. Failures of single connections stay theirs: the listeners
stay up whatever the agent and the control plane do."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import signal
from collections.abc import Callable

from templater.forwarding.remote import AgentPorts
from templater.forwarding.tcp import TcpForward
from templater.forwarding.udp import UdpForward
from templater.model.forwarding import PortForward, endpoint

_NO_IPV6 = frozenset({errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT})
"""What binding [::1] fails with on a machine without IPv6: the default address is skipped."""


class BindError(Exception):
    """A local port that cannot be listened on; the message names it."""


async def forward(
    ports: AgentPorts,
    forwards: list[PortForward],
    say: Callable[[str], None],
    warn: Callable[[str], None],
) -> None:
    """Listen for every forward and carry its connections until SIGINT or SIGTERM. ``say``
    prints the listeners' lines (all at once), ``warn`` a problem. Raises BindError before
    forwarding anything."""
    loop = asyncio.get_running_loop()
    listeners: list[asyncio.BaseTransport | asyncio.Server] = []
    lines: list[str] = []
    try:
        for each in forwards:
            carrier = (UdpForward if each.protocol == "udp" else TcpForward)(ports, each, warn)
            for address in each.addresses:
                try:
                    listener = await _listen(carrier, each.local_port, address)
                except OSError as problem:
                    if address != each.addresses[0] and problem.errno in _NO_IPV6:
                        continue  # [::1], the second default address, where there is no IPv6
                    where = endpoint(address, each.local_port)
                    raise BindError(
                        f"cannot listen on {where} ({each.protocol}): {problem.strerror or problem}"
                    ) from None
                listeners.append(listener)
                lines.append(
                    f"Forwarding {endpoint(address, each.local_port)} → "
                    f"{ports.name}:{each.remote_port} ({each.protocol})"
                )
        say("\n".join(lines))
        stop = asyncio.Event()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, stop.set)
        await stop.wait()
    finally:
        for listener in listeners:
            listener.close()
        for number in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(number)


async def _listen(
    carrier: TcpForward | UdpForward, port: int, address: str
) -> asyncio.BaseTransport | asyncio.Server:
    """A listener on ``address``:``port`` whose traffic ``carrier`` carries."""
    loop = asyncio.get_running_loop()
    if isinstance(carrier, UdpForward):
        transport, _ = await loop.create_datagram_endpoint(
            carrier.protocol, local_addr=(address, port)
        )
        return transport
    return await loop.create_server(carrier.protocol, address, port, reuse_address=True)
