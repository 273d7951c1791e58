"""Rebuild the lines a script printed from the raw byte chunks docker's attach/log stream yields.

Frames arrive with arbitrary boundaries: mid-line and mid-UTF-8 character. Progress printers (Paddle's
hapi progress bar, tqdm) redraw a line with carriage returns and backspaces; only the state a line has when
its newline arrives is a *final* line (what goes into the saved log). Each state that gets overwritten is
handed to an optional `on_redraw` callback, so metrics can still be read from every progress update.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

MAX_LINE_CHARS = 1 << 20
"""A line longer than this (no newline in sight) is cut into pieces of this size so it cannot eat memory."""

_BACKSPACE_RUNS = re.compile(r"(\x08+)")
_CONTROL = "\r\b"


class LineAssembler:
    """Turn raw output chunks into final lines, applying `\\r` and `\\b` the way a terminal shows them.

    Rules:
    - `\\n` ends a line; `\\r\\n` is a plain newline (also when split across chunks).
    - `\\r` returns to the start of the line and clears it (progress printers pad with spaces anyway).
    - `\\b` deletes one character (at the start of a line it does nothing).
    - A line in which a `\\r` or `\\b` appeared loses its trailing spaces (the padding that wiped a longer
      earlier state); any other line is returned exactly as printed.
    - Before a state is cleared by `\\r` or shortened by a run of `\\b`, it is passed to `on_redraw` (trailing
      spaces removed, blank states skipped), once: erasing the same state again does not report it again.
    - `\\r` and `\\b` at the very end of the stream move the cursor but leave the text in place, so `close()`
      returns that text as the last line rather than losing it.

    Ordering: redraws are reported while `feed` runs, before it returns the final lines of the same chunk.
    A consumer that needs the exact interleaving (a metrics parser must see an `Epoch 2/2` header before the
    next progress state) passes `on_line`, which gets each final line the moment it completes, and can
    ignore what `feed` returns.

    Feed one assembler per stream: a stderr frame in the middle of a stdout line would otherwise be glued
    into that line.
    """

    def __init__(
        self,
        on_redraw: Callable[[str], None] | None = None,
        *,
        on_line: Callable[[str], None] | None = None,
        max_line: int = MAX_LINE_CHARS,
    ) -> None:
        if max_line < 1:
            raise ValueError("max_line must be at least 1")
        self._on_redraw = on_redraw
        self._on_line = on_line
        self._max_line = max_line
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._decoder_idle = True
        # The unterminated line, control characters already applied. A list, because `str +=` on an attribute
        # copies: a long line fed in small chunks would be quadratic.
        self._parts: list[str] = []
        self._size = 0
        # Trailing `\r`/`\b` of the last chunk: what they mean depends on what follows (`\r\n` vs a redraw).
        self._held = ""
        self._rewritten = False
        self._reported = True  # the current state was already reported (an empty state counts as reported)

    def feed(self, chunk: bytes) -> list[str]:
        """Add a chunk; return the final lines it completed (without their newlines)."""
        if self._decoder_idle and chunk[-1:] < b"\x80":
            # Nothing is buffered and the chunk ends on an ASCII byte, so it cannot end mid-character: the
            # plain C decode gives the incremental decoder's text without its Python-level overhead.
            text = chunk.decode("utf-8", "replace")
        else:
            text = self._decoder.decode(chunk)
            self._decoder_idle = not self._decoder.getstate()[0]
        if self._held:
            text = self._held + text
            self._held = ""
        if not text:
            return []
        if text[-1] in _CONTROL:
            body = text.rstrip(_CONTROL)
            self._held = text[len(body) :]
            text = body
        if "\r" in text or "\b" in text:
            return self._feed_rewrites(text)
        return self._feed_plain(text)

    def close(self) -> list[str]:
        """End of stream: return the last lines, an unterminated one included (it is never lost)."""
        text = (self._held + self._decoder.decode(b"", final=True)).rstrip(_CONTROL)
        self._held = ""
        out = self._feed_rewrites(text) if text else []
        if self._parts:
            self._finish_line(out)
        self._decoder.reset()
        self._decoder_idle = True
        self._parts, self._size, self._rewritten, self._reported = [], 0, False, True
        return out

    def _feed_plain(self, text: str) -> list[str]:
        """The common case: no rewrites in this chunk, so str.split does all the work."""
        lines = text.split("\n")
        last = lines.pop()
        if not lines:
            out: list[str] = []
            self._append(last, out)
            return out
        if self._parts:
            self._parts.append(lines[0])
            lines[0] = "".join(self._parts)
        if self._rewritten:
            lines[0] = lines[0].rstrip(" ")
            self._rewritten = False
        if len(text) + self._size > self._max_line:
            lines = self._cut_overlong(lines)
        self._parts = [last] if last else []
        self._size = len(last)
        self._reported = not last
        if self._on_line is not None:
            for line in lines:
                self._on_line(line)
        if self._size > self._max_line:
            lines.extend(self._cut_pending())
        return lines

    def _feed_rewrites(self, text: str) -> list[str]:
        out: list[str] = []
        for index, segment in enumerate(text.replace("\r\n", "\n").split("\n")):
            if index:
                self._finish_line(out)
            if not segment:
                continue
            if "\r" not in segment and "\b" not in segment:
                self._append(segment, out)
                continue
            for position, piece in enumerate(segment.split("\r")):
                if position:
                    self._erase(None)
                if "\b" not in piece:
                    self._append(piece, out)
                    continue
                for part_index, part in enumerate(_BACKSPACE_RUNS.split(piece)):
                    if part_index % 2:
                        self._erase(len(part))
                    else:
                        self._append(part, out)
        return out

    def _append(self, text: str, out: list[str]) -> None:
        if not text:
            return
        self._parts.append(text)
        self._size += len(text)
        self._reported = False
        if self._size > self._max_line:
            out.extend(self._cut_pending())

    def _erase(self, count: int | None) -> None:
        """Clear the line (`\\r`, count None) or delete `count` characters (a run of `\\b`)."""
        self._rewritten = True
        if not self._size:
            return
        if not self._reported:
            self._report()
        if count is None or count >= self._size:
            self._parts, self._size = [], 0
        else:
            kept = "".join(self._parts)[:-count]
            self._parts, self._size = [kept], len(kept)

    def _report(self) -> None:
        self._reported = True
        if self._on_redraw is None:
            return
        state = "".join(self._parts).rstrip(" ")
        if state and not state.isspace():
            self._on_redraw(state)

    def _finish_line(self, out: list[str]) -> None:
        line = "".join(self._parts)
        if self._rewritten:
            line = line.rstrip(" ")
        self._parts, self._size, self._rewritten, self._reported = [], 0, False, True
        out.append(line)
        if self._on_line is not None:
            self._on_line(line)

    def _cut_pending(self) -> list[str]:
        """Cut the unterminated line into final pieces of `max_line` characters, keeping the remainder."""
        pending = "".join(self._parts)
        size = self._max_line
        cut_at = (len(pending) - 1) // size * size
        pieces = [pending[i : i + size] for i in range(0, cut_at, size)]
        rest = pending[cut_at:]
        self._parts, self._size = [rest], len(rest)
        if self._on_line is not None:
            for piece in pieces:
                self._on_line(piece)
        return pieces

    def _cut_overlong(self, lines: list[str]) -> list[str]:
        size = self._max_line
        cut: list[str] = []
        for line in lines:
            if len(line) <= size:
                cut.append(line)
            else:
                cut.extend(line[i : i + size] for i in range(0, len(line), size))
        return cut


# Cut from the end of a log that filled its disk, so that the run's metrics and manifest can still be written.
LOG_RESERVE_BYTES = 256 * 1024


class OutputSink:
    """Where output goes: the saved log (final lines only) and the live display; counts lines."""

    def __init__(
        self,
        log: TextIO,
        on_output: Callable[[str], None] | None,
        on_lines: Callable[[list[str]], None] | None,
        on_redraw: Callable[[str], None] | None,
        secret_values: Iterable[str] = (),
    ) -> None:
        from paddlectl.foundation.secrets import ValueMasker

        self.log = log
        self.mask = ValueMasker(secret_values)  # a script that prints a secret: masked in the log and the display
        self.on_output = on_output
        self.on_lines = on_lines
        self.lines = 0
        self.assembler = LineAssembler(on_redraw=on_redraw)
        self.log_error: str | None = None

    def feed(self, chunk: bytes) -> None:
        self._emit(self.assembler.feed(chunk))

    def close(self) -> None:
        self._emit(self.assembler.close())
        if self.log_error is None:
            try:
                self.log.flush()
            except OSError as exc:
                self._log_failed(exc)

    def _emit(self, lines: list[str]) -> None:
        if not lines:
            return
        if self.mask:
            lines = [self.mask(line) for line in lines]
        text = "\n".join(lines) + "\n"
        if self.log_error is None:
            try:
                self.log.write(text)
            except OSError as exc:
                self._log_failed(exc)
        self.lines += len(lines)
        if self.on_output is not None:
            self.on_output(text)
        if self.on_lines is not None:
            self.on_lines(lines)

    def _log_failed(self, exc: OSError) -> None:
        # Only the saved log stops (a full disk, most likely): the display, the metrics and the run's end go on.
        self.log_error = f"{exc.strerror or exc}; the saved log stops before line {self.lines + 1}"


@contextlib.contextmanager
def log_file(path: Path) -> Iterator[TextIO]:
    """The run's log, open for writing; closing it never raises (the sink reports a full disk)."""
    log = open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 16)  # noqa: SIM115 - closed below
    try:
        yield log
    finally:
        with contextlib.suppress(OSError):
            log.close()


def make_room(log_path: Path) -> None:
    """Cut the last LOG_RESERVE_BYTES of a log that filled its disk, at a line start, so the run can be recorded."""
    with contextlib.suppress(OSError), open(log_path, "rb+") as handle:
        keep = max(0, handle.seek(0, 2) - LOG_RESERVE_BYTES)
        start = max(0, keep - (64 << 10))
        handle.seek(start)
        newline = handle.read(keep - start).rfind(b"\n")
        handle.truncate(start + newline + 1 if newline >= 0 else 0)
