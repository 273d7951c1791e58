"""Run the CLI on a real pseudo-terminal of a given width (what a person at a terminal gets, not a pipe)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from dataclasses import dataclass
from pathlib import Path

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class TerminalResult:
    returncode: int
    screen: str  # what the terminal showed (stdout, and stdin's echo), escapes removed, \r\n as \n
    stderr: str
    raw: str = ""  # what the terminal got, escapes included


def run_in_terminal(
    *args: str, cwd: Path, columns: int, answer: str | None = None, timeout: float = 60
) -> TerminalResult:
    """`paddlectl ARGS` with stdin and stdout on a pty `columns` wide (COLUMNS too); stderr is a pipe.

    `answer` is typed into the terminal before the command starts reading (line-buffered by the pty).
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": str(columns), "TERM": "xterm"}
    process = subprocess.Popen(
        [sys.executable, "-m", "paddlectl", *args],
        cwd=cwd,
        stdin=slave,
        stdout=slave,
        stderr=subprocess.PIPE,
        env=env,
    )
    os.close(slave)
    if answer is not None:
        os.write(master, answer.encode())
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its side
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert process.stderr is not None
    stderr = process.stderr.read().decode()
    process.stderr.close()
    code = process.wait(timeout=timeout)
    raw = b"".join(chunks).decode()
    return TerminalResult(code, ANSI.sub("", raw).replace("\r\n", "\n"), stderr, raw)
