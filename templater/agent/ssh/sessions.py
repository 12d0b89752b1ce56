"""SSH sessions: the workspace user's login shell, or a command run by their shell, on a PTY
when the client asked for one (window changes passed on), with the client's environment, and
the exit status or signal sent back, as OpenSSH's server does."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pwd
import signal
import struct
import termios
from collections.abc import Awaitable, Callable, Mapping

import asyncssh

_CHUNK = 64 * 1024
_SECRETS = ("TEMPLATER_AGENT_TOKEN",)
"""What the agent's own environment holds that a session must not see."""
_TERMINAL = ("TERM",)
"""The agent's own terminal: a session has the client's, or none."""
_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
_SIGNAL_NAMES = {number.value: number.name.removeprefix("SIG") for number in signal.Signals}
"""Signals by number, named as SSH names them (``TERM``)."""

Process = asyncssh.SSHServerProcess[bytes]


async def run_session(process: Process) -> None:
    """Run what the session asks for, then end it with the exit status (asyncssh's
    ``process_factory``)."""
    if process.subsystem is not None:  # sftp is asyncssh's; nothing else is served
        process.stderr.write(f"no subsystem {process.subsystem!r} here\r\n".encode())
        process.exit(1)
        return
    user = pwd.getpwuid(os.getuid())
    shell = user.pw_shell or "/bin/sh"
    argv = [shell, "-l"] if process.command is None else [shell, "-c", process.command]
    home = user.pw_dir if os.path.isdir(user.pw_dir) else "/"
    env = environment(os.environ, user, process.env, process.term_type)
    try:
        if process.term_type is None:
            status = await _piped(process, argv, env, home)
        else:
            status = await _on_terminal(process, argv, env, home)
    except _NotStarted as problem:
        process.stderr.write(f"templater agent: cannot run {shell}: {problem}\r\n".encode())
        process.exit(127)
        return
    except (OSError, asyncssh.Error):  # the channel closed under the session, which hung up
        return
    with contextlib.suppress(OSError):  # closed just now
        if status < 0 and -status in _SIGNAL_NAMES:
            process.exit_with_signal(_SIGNAL_NAMES[-status])
        else:
            process.exit(status & 0xFF)


class _NotStarted(Exception):
    """The shell could not be started (the reason is its OSError's)."""


def environment(
    agent: Mapping[str, str],
    user: pwd.struct_passwd,
    client: Mapping[str, str] | Mapping[bytes, bytes],
    term: str | None,
) -> dict[str, str]:
    """A session's environment: the agent's (its token left out), the user's names and home,
    the terminal type, then what the client sent (``SendEnv``, ``SetEnv``)."""
    env = {name: value for name, value in agent.items() if name not in _SECRETS + _TERMINAL}
    env.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name, SHELL=user.pw_shell)
    env.setdefault("PATH", _DEFAULT_PATH)
    if term is not None:
        env["TERM"] = term
    for name, value in client.items():
        name_text = name.decode("utf-8", "replace") if isinstance(name, bytes) else name
        value_text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        if (
            name_text not in _SECRETS
            and "=" not in name_text
            and "\0" not in name_text + value_text
        ):
            env[name_text] = value_text
    return env


async def _piped(process: Process, argv: list[str], env: dict[str, str], home: str) -> int:
    try:
        child = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=home,
            start_new_session=True,
        )
    except OSError as problem:
        raise _NotStarted(problem.strerror or str(problem)) from None
    assert child.stdin is not None and child.stdout is not None and child.stderr is not None
    stdin = child.stdin

    async def write(data: bytes) -> None:
        if data:
            stdin.write(data)
            await stdin.drain()
        else:
            stdin.close()

    feeding = asyncio.get_running_loop().create_task(
        _feed(process, write, lambda number: _signal(child.pid, number), None)
    )
    try:
        await asyncio.gather(
            _copy(child.stdout.read, process.stdout), _copy(child.stderr.read, process.stderr)
        )
        return await child.wait()
    finally:
        feeding.cancel()
        if child.returncode is None:  # the session ended first
            _signal(child.pid, signal.SIGHUP)


async def _on_terminal(process: Process, argv: list[str], env: dict[str, str], home: str) -> int:
    master, slave = os.openpty()
    try:
        _resize(master, *process.term_size)

        def take_terminal() -> None:  # in the child: a session of its own, on this terminal
            os.setsid()
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

        child = await asyncio.create_subprocess_exec(
            *argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=home,
            preexec_fn=take_terminal,
        )
    except OSError as problem:
        os.close(master)
        raise _NotStarted(problem.strerror or str(problem)) from None
    finally:
        os.close(slave)
    os.set_blocking(master, False)
    loop = asyncio.get_running_loop()
    exited = loop.create_task(child.wait())
    output = loop.create_task(_copy(lambda size: _read_terminal(master, size), process.stdout))
    feeding = loop.create_task(
        _feed(
            process,
            lambda data: _write_terminal(master, data),
            lambda number: _signal(child.pid, number),
            lambda size: _resize(master, *size),
        )
    )
    try:
        done, _ = await asyncio.wait((exited, output), return_when=asyncio.FIRST_COMPLETED)
        if output in done:
            output.result()  # raises when the channel failed
        status = await exited
        # What the shell wrote before it exited is there to read; processes it left behind
        # on the terminal are hung up with it, as OpenSSH's server does.
        output.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await output
        while data := _read_now(master):
            process.stdout.write(data)
        return status
    finally:
        for task in (exited, output, feeding):
            task.cancel()
        # Before the terminal closes: each stops waiting on it first.
        await asyncio.gather(exited, output, feeding, return_exceptions=True)
        if child.returncode is None:  # the session ended first
            _signal(child.pid, signal.SIGHUP)
        os.close(master)


async def _feed(
    process: Process,
    write: Callable[[bytes], Awaitable[None]],
    send_signal: Callable[[int], None],
    resize: Callable[[tuple[int, int, int, int]], None] | None,
) -> None:
    """The client's input to the child (``b""`` for its end), its signals and window changes."""
    while True:
        try:
            data = await process.stdin.read(_CHUNK)
        except asyncssh.TerminalSizeChanged as change:
            if resize is not None:
                resize((change.width, change.height, change.pixwidth, change.pixheight))
            continue
        except asyncssh.SignalReceived as received:
            number = getattr(signal, f"SIG{received.signal}", None)
            if isinstance(number, signal.Signals):
                send_signal(number)
            continue
        except asyncssh.BreakReceived:
            continue
        try:
            await write(data)
        except (BrokenPipeError, ConnectionResetError):  # the child stopped reading
            return
        if not data:
            return


async def _copy(read: Callable[[int], Awaitable[bytes]], out: asyncssh.SSHWriter[bytes]) -> None:
    while data := await read(_CHUNK):
        out.write(data)
        await out.drain()


def _signal(pid: int, number: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, number)


def _resize(terminal: int, width: int, height: int, pixwidth: int, pixheight: int) -> None:
    if width and height:
        fcntl.ioctl(
            terminal, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, pixwidth, pixheight)
        )


async def _read_terminal(master: int, size: int) -> bytes:
    """The terminal's next output; ``b""`` once no process has it open any more."""
    while True:
        try:
            return os.read(master, size)
        except BlockingIOError:
            await _ready(master, writing=False)
        except OSError:  # EIO: the last process with the terminal closed it
            return b""


def _read_now(master: int) -> bytes:
    try:
        return os.read(master, _CHUNK)
    except OSError:  # nothing more now, or ever
        return b""


async def _write_terminal(master: int, data: bytes) -> None:
    """The client's input, typed on the terminal; its end (``b""``) is not passed on: a
    terminal has no end of input but what the user types (Ctrl-D)."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(master, view) :]
        except BlockingIOError:
            await _ready(master, writing=True)


async def _ready(descriptor: int, writing: bool) -> None:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    (loop.add_writer if writing else loop.add_reader)(descriptor, wake)
    try:
        await ready
    finally:
        (loop.remove_writer if writing else loop.remove_reader)(descriptor)
