"""The workspace's listening TCP ports (SPEC §11), found as Coder's agent finds them: the
LISTEN sockets of ``/proc/net/tcp`` and ``/proc/net/tcp6``, one entry per port, each named by
the process that holds it (``/proc/PID/comm`` of a process with an fd ``socket:[INODE]``), and
the ports Coder leaves out left out (``shown``).

Costs (SPEC §10: about 22 ms to read ``/proc/net/tcp`` with 3,900 sockets, 25 ms to map them to
processes), and what is done about them:

- The kernel writes a page (about 27 lines) per ``read`` and lists the listening hash before the
  established one, so every LISTEN line comes before the first line of any other state (SYN_RECV
  and CLOSE excepted: open requests of old kernels and a listener closing can sit among the
  listeners). ``PortScanner`` stops reading there: a fraction of a millisecond however many
  connections are open. It still reads the whole file on its first scan and every
  ``verify_every`` scans after, and if a LISTEN line ever comes after that point it reads the
  whole file from then on. Lines are not parsed one by one past that point: a LISTEN line's
  state is the only `` 0A `` token of the kernel's format, so those are found with
  ``bytes.find``.
- ``/proc/*/fd`` is walked only when the set of listening inodes changed since the last scan,
  then only for the inodes not named before, newest processes first (a new server is usually a
  new process; also Coder's choice when processes share a socket: the highest PID), and it stops
  when all are found. Only ``readlink`` per fd, compared as text with the ``socket:[INODE]``
  wanted: no fd is opened or followed.
- A process whose fds cannot be read (another user's, when not root) is skipped; its sockets
  are named ``""``.

Nothing here raises for what ``/proc`` holds: a missing file (no IPv6, not Linux) counts as no
sockets, a malformed line is skipped, a process that exits meanwhile is passed over.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Final

from templater.model.hostnames import MIN_PORT
from templater.model.records import ListeningPort

IGNORED_PORTS: Final[frozenset[int]] = frozenset(
    {
        *range(20, 24),
        25,
        53,
        110,
        143,
        179,
        389,
        465,
        587,
        636,
        989,
        990,
        993,
        995,
        3306,
        3389,
        5432,
        *range(27017, 27020),
        28017,
    }
)
"""Ports never shown, as Coder (``AgentIgnoredListeningPorts``): well-known services (FTP, SSH,
telnet, mail, DNS, BGP, LDAP, databases, RDP) that are not a workspace's web apps. Ports below
``MIN_PORT`` are left out as well."""

READ_SIZE: Final = 16384
"""Bytes asked for per ``read`` (the kernel gives at most a page of whole lines)."""
VERIFY_EVERY: Final = 60
"""Scans between whole reads of the files, which check that the kernel lists listeners first."""

_LISTEN: Final = b"0A"
_LISTENER_REGION: Final = frozenset({b"0A", b"03", b"07"})
"""States seen among the listening hash's lines: LISTEN; SYN_RECV (old kernels' open requests);
CLOSE (a listener being closed)."""
_ADDRESS_CHARS: Final = b"0123456789ABCDEFabcdef:"


def shown(ports: Iterable[ListeningPort], app_ports: Collection[int]) -> list[ListeningPort]:
    """The ports the agent reports, as Coder: not below ``MIN_PORT``, not in IGNORED_PORTS, not
    a port of one of the workspace's app URLs. (The agent itself listens on none: it dials
    out.)"""
    return [
        p
        for p in ports
        if p.port >= MIN_PORT and p.port not in IGNORED_PORTS and p.port not in app_ports
    ]


def read_listening(proc: Path = Path("/proc")) -> list[ListeningPort]:
    """The listening ports under ``proc`` now, sorted by port, one entry per port (IPv4 and IPv6,
    any address): whole files read, every process's fds looked at. Not filtered (``shown``)."""
    return PortScanner(proc).scan()


class PortScanner:
    """``read_listening`` for calling again and again (the agent: once a second): it keeps the
    process names found for the listening sockets, so that ``/proc/*/fd`` is walked again only
    for sockets that are new, and it reads ``/proc/net/tcp*`` only as far as the listeners go
    (see the module's notes). Not thread-safe: one caller at a time."""

    __slots__ = ("_early", "_names", "_net", "_proc", "_scans", "_verify_every")

    def __init__(self, proc: Path = Path("/proc"), *, verify_every: int = VERIFY_EVERY) -> None:
        self._proc = proc
        self._net = proc / "net"
        self._verify_every = max(1, verify_every)
        self._early = True
        self._scans = 0
        self._names: dict[int, str] = {}

    @property
    def stops_early(self) -> bool:
        """Whether scans may still stop reading at the end of the listeners (False once a
        whole read found a LISTEN line after them)."""
        return self._early

    def scan(self) -> list[ListeningPort]:
        """The listening ports now, sorted by port, one entry per port. Not filtered
        (``shown``)."""
        whole = not self._early or self._scans % self._verify_every == 0
        self._scans += 1
        sockets: list[tuple[int, int]] = []
        for name in ("tcp", "tcp6"):
            found, out_of_order = _listeners(self._net / name, stop_early=not whole)
            sockets += found
            if out_of_order:
                self._early = False
        inodes = {inode for _, inode in sockets}
        names = self._names
        if inodes != names.keys():
            kept = {inode: names[inode] for inode in inodes if inode in names}
            new = inodes - kept.keys()
            if new:
                kept.update(_process_names(self._proc, new))
            self._names = names = kept
        ports: dict[int, str] = {}
        for port, inode in sockets:
            if not ports.get(port):
                ports[port] = names[inode]
        return [ListeningPort(port, ports[port]) for port in sorted(ports)]


def _listeners(path: Path, *, stop_early: bool) -> tuple[list[tuple[int, int]], bool]:
    """The (port, inode) of the LISTEN lines of one ``/proc/net/tcp*`` file (none when it
    cannot be read), and whether one came after a line of another state than the listening
    hash's. With ``stop_early``, reading ends at the first such line."""
    found: list[tuple[int, int]] = []
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return found, False
    listeners = True
    out_of_order = False
    try:
        rest = b""
        while True:
            try:
                chunk = os.read(fd, READ_SIZE)
            except OSError:
                chunk = b""
            if chunk:
                block = rest + chunk
                cut = block.rfind(b"\n") + 1
                block, rest = block[:cut], block[cut:]
            else:
                block, rest = rest, b""
            start = 0
            if listeners:
                start, listeners = _listener_lines(block, found)
            if not listeners and start < len(block):
                out_of_order |= _later_listeners(block, start, found)
            if not chunk or (stop_early and not listeners):
                break
    finally:
        os.close(fd)
    return found, out_of_order


def _listener_lines(block: bytes, found: list[tuple[int, int]]) -> tuple[int, bool]:
    """Parse whole lines of ``block`` into ``found`` while they are of the listening hash's
    states; returns where it stopped and whether the block ended still among listeners."""
    size = len(block)
    start = 0
    while start < size:
        end = block.find(b"\n", start)
        if end < 0:
            end = size
        line = _parse(block[start:end])
        start = end + 1
        if line is None:
            continue
        state, port, inode = line
        if state == _LISTEN:
            found.append((port, inode))
        elif state not in _LISTENER_REGION:
            return start, False
    return size, True


def _later_listeners(block: bytes, start: int, found: list[tuple[int, int]]) -> bool:
    """Add the LISTEN lines of ``block`` from ``start`` on to ``found`` (the only lines with a
    `` 0A `` token: the kernel writes every other field in another width or in decimal); returns
    whether there were any."""
    seen = False
    find = block.find
    at = find(b" 0A ", start)
    while at >= 0:
        begin = block.rfind(b"\n", start, at) + 1 or start
        end = find(b"\n", at)
        if end < 0:
            end = len(block)
        line = _parse(block[begin:end])
        if line is not None and line[0] == _LISTEN:
            found.append((line[1], line[2]))
            seen = True
        at = find(b" 0A ", end)
    return seen


def _parse(line: bytes) -> tuple[bytes, int, int] | None:
    """(state, local port, inode) of one line of ``/proc/net/tcp*``; None for the header and
    anything malformed. The kernel's format::

        sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
         0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 12345 1 ...

    (in tcp6 the addresses are 32 hex digits).
    """
    fields = line.split(None, 10)
    if len(fields) < 10 or not fields[0].endswith(b":"):
        return None
    local, state, inode = fields[1], fields[3], fields[9]
    if (
        len(local) not in (13, 37)
        or local[-5] != 0x3A  # ":" before the port
        or local.count(b":") != 1
        or local.translate(None, _ADDRESS_CHARS)
        or len(state) != 2
        or not inode.isdigit()
    ):
        return None
    return state, int(local[-4:], 16), int(inode)


def _process_names(proc: Path, inodes: Collection[int]) -> dict[int, str]:
    """The name of the process holding each of ``inodes``, ``""`` for those not found: the fds
    of the processes under ``proc``, highest PID first, until all are found."""
    names = dict.fromkeys(inodes, "")
    wanted = {f"socket:[{inode}]": inode for inode in inodes}
    try:
        proc_fd = os.open(proc, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return names
    try:
        pids = sorted((name for name in os.listdir(proc_fd) if name.isdecimal()), key=int)
        readlink = os.readlink
        for pid in reversed(pids):
            try:
                fd_dir = os.open(
                    f"{pid}/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=proc_fd
                )
            except OSError:
                continue
            held: list[int] = []
            try:
                for fd in os.listdir(fd_dir):
                    try:
                        inode = wanted.pop(readlink(fd, dir_fd=fd_dir), None)
                    except OSError:
                        continue
                    if inode is not None:
                        held.append(inode)
            except OSError:
                pass
            finally:
                os.close(fd_dir)
            if held:
                name = _comm(proc_fd, pid)
                for inode in held:
                    names[inode] = name
                if not wanted:
                    break
    except OSError:
        pass
    finally:
        os.close(proc_fd)
    return names


def _comm(proc_fd: int, pid: str) -> str:
    """``/proc/PID/comm`` without its newline; ``""`` when it cannot be read."""
    try:
        fd = os.open(f"{pid}/comm", os.O_RDONLY | os.O_CLOEXEC, dir_fd=proc_fd)
    except OSError:
        return ""
    try:
        raw = os.read(fd, 256)
    except OSError:
        return ""
    finally:
        os.close(fd)
    return raw.rstrip(b"\n").decode("utf-8", "replace")
