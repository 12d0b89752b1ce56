"""The agent's listening ports (SPEC §11): real sockets of this process are found and named, and
go when they close; Coder's filter; and a synthetic ``/proc`` for what a real one cannot be made
to show (other states among the listeners, malformed lines, unreadable processes)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from templater.agent.ports import IGNORED_PORTS, PortScanner, read_listening, shown
from templater.model.records import ListeningPort

HEADER = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
)


def _own_comm() -> str:
    return Path("/proc/self/comm").read_text().rstrip("\n")


def _listen(family: socket.AddressFamily, host: str) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.bind((host, 0))
    sock.listen()
    return sock


@pytest.fixture
def listening() -> Iterator[list[socket.socket]]:
    sockets: list[socket.socket] = []
    yield sockets
    for sock in sockets:
        sock.close()


needs_proc = pytest.mark.skipif(
    not Path("/proc/net/tcp").exists(), reason="needs Linux's /proc/net/tcp"
)


@needs_proc
def test_a_real_listening_socket_appears_named_for_this_process_and_goes(
    listening: list[socket.socket],
) -> None:
    listening.append(_listen(socket.AF_INET, "127.0.0.1"))
    port = listening[0].getsockname()[1]
    scanner = PortScanner()
    assert ListeningPort(port, _own_comm()) in scanner.scan()
    listening.pop().close()
    assert port not in {p.port for p in scanner.scan()}


@needs_proc
def test_ipv6_listeners_are_found_too(listening: list[socket.socket]) -> None:
    if not socket.has_ipv6 or not Path("/proc/net/tcp6").exists():
        pytest.skip("this machine has no IPv6")
    try:
        listening.append(_listen(socket.AF_INET6, "::1"))
    except OSError as error:
        pytest.skip(f"cannot listen on ::1: {error}")
    port = listening[0].getsockname()[1]
    assert ListeningPort(port, _own_comm()) in read_listening()


@needs_proc
def test_a_connection_is_not_a_listening_port(listening: list[socket.socket]) -> None:
    server = _listen(socket.AF_INET, "127.0.0.1")
    listening.append(server)
    client = socket.create_connection(server.getsockname())
    accepted, _ = server.accept()
    listening += [client, accepted]
    ports = {p.port for p in read_listening()}
    assert server.getsockname()[1] in ports
    assert client.getsockname()[1] not in ports


@needs_proc
def test_a_new_listener_is_named_on_a_later_scan(listening: list[socket.socket]) -> None:
    scanner = PortScanner(verify_every=1000)
    scanner.scan()
    listening.append(_listen(socket.AF_INET, "127.0.0.1"))
    port = listening[0].getsockname()[1]
    assert ListeningPort(port, _own_comm()) in scanner.scan()


@pytest.mark.parametrize(
    "port",
    [
        1,
        8,
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
        27017,
        27018,
        27019,
        28017,
    ],
)
def test_well_known_service_ports_and_ports_below_9_are_not_shown(port: int) -> None:
    assert shown([ListeningPort(port, "x")], app_ports=()) == []


@pytest.mark.parametrize("port", [9, 19, 24, 80, 443, 3000, 5433, 8080, 27016, 27020, 65535])
def test_other_ports_are_shown(port: int) -> None:
    assert port not in IGNORED_PORTS
    assert shown([ListeningPort(port, "x")], app_ports=()) == [ListeningPort(port, "x")]


def test_the_ports_of_the_workspace_apps_are_not_shown() -> None:
    ports = [ListeningPort(3000, "node"), ListeningPort(13337, "code-server")]
    assert shown(ports, app_ports={13337}) == [ListeningPort(3000, "node")]


class FakeProc:
    """A ``/proc`` with the files the scanner reads: ``net/tcp``, ``net/tcp6``, and per process
    ``comm`` and ``fd/N -> socket:[INODE]``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "net").mkdir(parents=True)
        self.tcp: list[str] = []
        self.tcp6: list[str] = []
        self.write()

    def write(self) -> None:
        for name, lines in (("tcp", self.tcp), ("tcp6", self.tcp6)):
            text = HEADER + "".join(f"{n:4}: {line}\n" for n, line in enumerate(lines))
            (self.root / "net" / name).write_text(text)

    @staticmethod
    def line(port: int, state: str, inode: int, *, v6: bool = False) -> str:
        local = ("0" * 32 if v6 else "0100007F") + f":{port:04X}"
        remote = ("0" * 32 if v6 else "00000000") + ":0000"
        return (
            f"{local} {remote} {state} 00000000:00000000 00:00000000 00000000  1000        0 "
            f"{inode} 1 0000000000000000 100 0 0 10 0"
        )

    def process(self, pid: int, comm: str, inodes: list[int]) -> None:
        fd = self.root / str(pid) / "fd"
        fd.mkdir(parents=True)
        (self.root / str(pid) / "comm").write_text(comm + "\n")
        for n, inode in enumerate(inodes):
            os.symlink(f"socket:[{inode}]", fd / str(n + 3))
        os.symlink("/dev/null", fd / "0")


@pytest.fixture
def proc(tmp_path: Path) -> FakeProc:
    return FakeProc(tmp_path / "proc")


def test_listeners_of_both_files_one_entry_per_port_sorted(proc: FakeProc) -> None:
    proc.tcp += [proc.line(8080, "0A", 101), proc.line(3000, "0A", 102)]
    proc.tcp6 += [proc.line(8080, "0A", 103, v6=True), proc.line(5000, "0A", 104, v6=True)]
    proc.write()
    proc.process(40, "node", [102])
    proc.process(41, "python3", [101, 103])
    proc.process(42, "flask", [104])
    assert read_listening(proc.root) == [
        ListeningPort(3000, "node"),
        ListeningPort(5000, "flask"),
        ListeningPort(8080, "python3"),
    ]


def test_a_socket_no_process_can_be_found_for_is_named_empty(proc: FakeProc) -> None:
    proc.tcp.append(proc.line(8080, "0A", 101))
    proc.write()
    assert read_listening(proc.root) == [ListeningPort(8080, "")]


def test_a_port_takes_the_name_found_when_another_socket_of_it_has_none(proc: FakeProc) -> None:
    proc.tcp.append(proc.line(8080, "0A", 101))
    proc.tcp6.append(proc.line(8080, "0A", 102, v6=True))
    proc.write()
    proc.process(7, "caddy", [102])
    assert read_listening(proc.root) == [ListeningPort(8080, "caddy")]


def test_a_shared_socket_is_named_for_the_highest_pid(proc: FakeProc) -> None:
    proc.tcp.append(proc.line(8080, "0A", 101))
    proc.write()
    proc.process(9, "gunicorn", [101])
    proc.process(100, "worker", [101])
    assert read_listening(proc.root) == [ListeningPort(8080, "worker")]


def test_connections_and_other_states_are_not_ports(proc: FakeProc) -> None:
    proc.tcp += [
        proc.line(8080, "0A", 101),
        proc.line(8080, "01", 0),  # ESTABLISHED
        proc.line(43210, "06", 0),  # TIME_WAIT
        proc.line(9000, "07", 0),  # CLOSE
    ]
    proc.write()
    assert [p.port for p in read_listening(proc.root)] == [8080]


def test_malformed_lines_are_skipped(proc: FakeProc) -> None:
    proc.tcp += [
        "nonsense",
        proc.line(8080, "0A", 101).replace("0100007F:1F90", "0100007F1F90"),
        proc.line(8081, "0A", 102).replace(" 102 ", " x "),
        proc.line(8082, "0A", 103).replace("0100007F", "01Z0007F"),
        proc.line(3000, "0A", 104),
    ]
    proc.write()
    assert [p.port for p in read_listening(proc.root)] == [3000]


def test_no_proc_at_all_is_no_ports(tmp_path: Path) -> None:
    assert read_listening(tmp_path / "missing") == []


def test_no_ipv6_file_is_no_ipv6_ports(proc: FakeProc) -> None:
    proc.tcp.append(proc.line(8080, "0A", 101))
    proc.write()
    (proc.root / "net" / "tcp6").unlink()
    assert [p.port for p in read_listening(proc.root)] == [8080]


def test_a_process_whose_fds_cannot_be_read_is_passed_over(proc: FakeProc) -> None:
    proc.tcp.append(proc.line(8080, "0A", 101))
    proc.write()
    (proc.root / "12").mkdir()
    (proc.root / "12" / "fd").write_text("not a directory")
    proc.process(5, "server", [101])
    assert read_listening(proc.root) == [ListeningPort(8080, "server")]


def _many_connections(count: int) -> list[str]:
    return [FakeProc.line(20000 + n % 40000, "01", 0) for n in range(count)]


def test_a_listener_after_the_connections_is_found_by_the_whole_read(proc: FakeProc) -> None:
    """The kernel lists listeners first, but the scanner does not rely on it: the first scan
    reads everything, and a listener found late makes every later scan read everything."""
    proc.tcp += [proc.line(8080, "0A", 101), *_many_connections(2000)]
    proc.tcp.append(proc.line(3000, "0A", 102))
    proc.write()
    scanner = PortScanner(proc.root, verify_every=1000)
    assert [p.port for p in scanner.scan()] == [3000, 8080]
    assert not scanner.stops_early
    assert [p.port for p in scanner.scan()] == [3000, 8080]


def test_scans_stop_at_the_end_of_the_listeners_until_the_next_whole_read(
    proc: FakeProc,
) -> None:
    proc.tcp += [proc.line(8080, "0A", 101), *_many_connections(2000)]
    proc.write()
    scanner = PortScanner(proc.root, verify_every=3)
    assert [p.port for p in scanner.scan()] == [8080]
    assert scanner.stops_early
    # A listener among the connections (the kernel never writes this) is missed by the scans
    # that stop early, and found by the next whole read, from when on every read is whole.
    proc.tcp.append(proc.line(3000, "0A", 102))
    proc.write()
    assert [p.port for p in scanner.scan()] == [8080]
    assert [p.port for p in scanner.scan()] == [8080]
    assert [p.port for p in scanner.scan()] == [3000, 8080]
    assert not scanner.stops_early


def test_a_closed_socket_is_forgotten_and_a_new_one_named(proc: FakeProc) -> None:
    proc.tcp.append(proc.line(8080, "0A", 101))
    proc.write()
    proc.process(5, "old", [101])
    scanner = PortScanner(proc.root)
    assert scanner.scan() == [ListeningPort(8080, "old")]
    proc.tcp[:] = [proc.line(8080, "0A", 202)]
    proc.write()
    proc.process(6, "new", [202])
    assert scanner.scan() == [ListeningPort(8080, "new")]
