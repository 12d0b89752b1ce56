"""SFTP, for ``sftp`` and ``scp`` (which speaks SFTP since OpenSSH 9): the workspace user's
files, relative paths from their home directory as OpenSSH's server has them."""

from __future__ import annotations

import os
import pwd

import asyncssh


class FileServer(asyncssh.SFTPServer):
    def __init__(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        super().__init__(chan)
        self._home = os.fsencode(pwd.getpwuid(os.getuid()).pw_dir)

    def map_path(self, path: bytes) -> bytes:
        return os.path.join(self._home, path)  # an absolute path stays as it is

    def exit(self) -> None:
        """The client ended the subsystem: say it succeeded. asyncssh closes the channel with no
        exit status, and OpenSSH's ``scp`` then exits 1 after a copy that worked."""
        self.channel.exit(0)
