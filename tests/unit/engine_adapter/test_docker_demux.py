"""The docker attach stream's demultiplexer: stdout and stderr merged only at line boundaries, no byte lost."""

from __future__ import annotations

import io

from paddlectl.engine.docker_engine import _MAX_HELD, _demultiplexed
from paddlectl.runs.logstream import LineAssembler

STDOUT, STDERR = 1, 2


def frame(stream: int, data: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(data).to_bytes(4, "big") + data


class Socket:
    """Hands out the stream `step` bytes per read, so frames also split across reads."""

    def __init__(self, data: bytes, step: int = 1 << 18) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def read(self, size: int) -> bytes:
        return self._data.read(min(size, self._step))


class Response:
    closed = False

    def close(self) -> None:
        self.closed = True


def merged(frames: list[bytes], step: int = 1 << 18) -> tuple[bytes, list[bytes]]:
    response = Response()
    chunks = list(_demultiplexed(Socket(b"".join(frames), step), response))
    assert response.closed
    return b"".join(chunks), chunks


def lines(data: bytes) -> list[str]:
    assembler = LineAssembler()
    return [*assembler.feed(data), *assembler.close()]


def test_stderr_line_never_lands_inside_an_unfinished_stdout_line() -> None:
    # print() under python -u writes the text and its newline separately; the daemon may forward the other
    # pipe's line in between.
    frames = [frame(STDOUT, b"to stdout"), frame(STDERR, b"to stderr"), frame(STDERR, b"\n"), frame(STDOUT, b"\n")]
    for step in (1, 3, 1 << 18):
        data, _ = merged(frames, step)
        assert lines(data) == ["to stderr", "to stdout"]


def test_many_interleaved_prints_keep_every_line_whole() -> None:
    frames = []
    for index in range(500):
        frames += [frame(STDOUT, b"out %d" % index), frame(STDERR, b"err %d" % index)]
        frames += [frame(STDERR, b"\n"), frame(STDOUT, b"\n")]
    data, _ = merged(frames, step=4096)
    got = lines(data)
    assert [line for line in got if line.startswith("out")] == [f"out {i}" for i in range(500)]
    assert [line for line in got if line.startswith("err")] == [f"err {i}" for i in range(500)]
    assert len(got) == 1000


def test_progress_redraws_pass_at_each_carriage_return_and_backspace() -> None:
    frames = [
        frame(STDERR, b"\r 10%"),
        frame(STDOUT, b"line\n"),
        frame(STDERR, b"\r 20%"),
        frame(STDERR, b"\x08\x08\x08"),
    ]
    data, _ = merged(frames)
    # Each stderr state waits only for the next redraw, never for a newline (a live progress bar stays live).
    assert data == b"\rline\n 10%\r 20%\x08\x08\x08"
    assert lines(data) == ["line", " 20%"]  # trailing backspaces at the very end leave the text


def test_unterminated_tails_come_out_at_the_end() -> None:
    data, _ = merged([frame(STDOUT, b"no newline"), frame(STDERR, b"nor here")])
    assert sorted(lines(data.replace(b"no newline", b"no newline\n"))) == ["no newline", "nor here"]
    assert data in (b"no newlinenor here", b"nor hereno newline")


def test_a_huge_line_is_not_held_forever() -> None:
    big = b"x" * (_MAX_HELD + 10)
    _, chunks = merged([frame(STDOUT, big), frame(STDERR, b"err\n"), frame(STDOUT, b"\n")])
    assert chunks[0].startswith(big)  # passed on before its newline arrived
    assert b"".join(chunks).count(b"x") == len(big)


def test_empty_stream() -> None:
    assert merged([]) == (b"", [])
