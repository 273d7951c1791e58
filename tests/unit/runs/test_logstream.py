"""LineAssembler: every line exactly once, split UTF-8 rebuilt, `\\r`/`\\b` applied as a terminal shows them."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paddlectl.runs.logstream import LineAssembler

DATA = Path(__file__).resolve().parents[2] / "data"


def assemble(chunks: list[bytes], **kwargs: object) -> tuple[list[str], list[str]]:
    """Feed `chunks`; return (final lines, redrawn states)."""
    redraws: list[str] = []
    assembler = LineAssembler(redraws.append, **kwargs)  # type: ignore[arg-type]
    lines: list[str] = []
    for chunk in chunks:
        lines += assembler.feed(chunk)
    lines += assembler.close()
    return lines, redraws


def split_at(data: bytes, *cuts: int) -> list[bytes]:
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def test_every_line_once_first_and_last_included() -> None:
    data = b"".join(b"line %d\n" % i for i in range(1000)) + b"last line without newline"
    lines, redraws = assemble([data[i : i + 7] for i in range(0, len(data), 7)])
    assert lines == [f"line {i}" for i in range(1000)] + ["last line without newline"]
    assert redraws == []


def test_empty_lines_and_crlf_are_kept_as_lines() -> None:
    lines, _ = assemble([b"a\n\nb\r\n\r\nc\r", b"\nd"])
    assert lines == ["a", "", "b", "", "c", "d"]


def test_close_on_empty_stream_and_on_trailing_newline() -> None:
    assert assemble([]) == ([], [])
    assert assemble([b"x\n"]) == (["x"], [])


@pytest.mark.parametrize("text", ["é", "🙂", "日本", "a€b"])
def test_split_utf8_at_every_byte_offset(text: str) -> None:
    data = f"start {text} end\n{text}".encode()
    for cut in range(1, len(data)):
        lines, _ = assemble(split_at(data, cut))
        assert lines == [f"start {text} end", text], cut
    # one byte per chunk: every multi-byte character is split at every position at once
    lines, _ = assemble([data[i : i + 1] for i in range(len(data))])
    assert lines == [f"start {text} end", text]


def test_truncated_utf8_at_end_of_stream_is_replaced_not_lost() -> None:
    lines, _ = assemble([b"ok\nbroken \xf0\x9f"])
    assert lines == ["ok", "broken \ufffd"]


def test_invalid_utf8_in_the_middle_is_replaced() -> None:
    lines, _ = assemble([b"a\xffb\n"])
    assert lines == ["a\ufffdb"]


def test_carriage_return_progress_keeps_only_final_state_and_reports_each_redraw() -> None:
    data = b"epoch 1\n\r 10%\r 50%\r100%   \nafter\n"
    for cut in range(1, len(data)):
        lines, redraws = assemble(split_at(data, cut))
        assert lines == ["epoch 1", "100%", "after"], cut
        assert redraws == [" 10%", " 50%"], cut


def test_backspace_runs_delete_characters() -> None:
    lines, redraws = assemble([b"abc\b\bXY\n"])
    assert lines == ["aXY"]
    assert redraws == ["abc"]


def test_backspace_at_line_start_does_nothing() -> None:
    lines, redraws = assemble([b"\b\bab\n"])
    assert lines == ["ab"]
    assert redraws == []


def test_same_state_is_reported_once() -> None:
    # \b run then \r erase the same state: one report. Text added after a partial erase is a new state.
    lines, redraws = assemble([b"state one\b\b\b\rstate two\b\b\b\b\rxx\bz\n"])
    assert redraws == ["state one", "state two", "xx"]
    assert lines == ["xz"]


def test_paddle_style_progress_and_trailing_padding() -> None:
    first = "step 1/2 [====>....] - loss: 2.5 - ETA: 1s - 10ms/step"
    last = "step 2/2 [=========] - loss: 2.1 - 9ms/step"
    data = f"\r{first}{chr(8) * len(first)}\r{last}{' ' * 10}\nnext\n".encode()
    for cut in range(1, len(data)):
        lines, redraws = assemble(split_at(data, cut))
        assert lines == [last, "next"], cut
        assert redraws == [first], cut


def test_plain_line_keeps_trailing_spaces() -> None:
    lines, _ = assemble([b"padded   \n"])
    assert lines == ["padded   "]


def test_cursor_moves_at_end_of_stream_keep_the_text() -> None:
    assert assemble([b"progress 50%\r"])[0] == ["progress 50%"]
    assert assemble([b"step 6/8\b\b\b\b"])[0] == ["step 6/8"]
    # split \r\n at the very end is still a newline, not a rewrite
    assert assemble([b"done\r", b"\n"]) == (["done"], [])


def test_redraw_then_final_lines_order_with_on_line() -> None:
    events: list[tuple[str, str]] = []
    assembler = LineAssembler(lambda s: events.append(("redraw", s)), on_line=lambda s: events.append(("line", s)))
    returned = assembler.feed(b"Epoch 2/2\n\rstep 2/8\b\b\b\b\b\b\b\b\rstep 4/8") + assembler.close()
    assert events == [("line", "Epoch 2/2"), ("redraw", "step 2/8"), ("line", "step 4/8")]
    assert returned == ["Epoch 2/2", "step 4/8"]


def test_huge_line_without_newline_is_split() -> None:
    size = 1000
    data = b"x" * (3 * size + 17)
    for chunks in ([data], [data[i : i + 97] for i in range(0, len(data), 97)]):
        lines, _ = assemble([*chunks, b"\nnext\n"], max_line=size)
        assert [len(line) for line in lines] == [size, size, size, 17, 4]
        assert "".join(lines[:4]) == data.decode()


def test_huge_line_inside_a_chunk_is_split_and_pending_stays_bounded() -> None:
    size = 100
    assembler = LineAssembler(max_line=size)
    lines = assembler.feed(b"short\n" + b"y" * 250 + b"\n" + b"z" * 230)
    assert lines == ["short", "y" * 100, "y" * 100, "y" * 50, "z" * 100, "z" * 100]
    assert assembler.close() == ["z" * 30]


def test_default_cap_is_one_mebibyte() -> None:
    assembler = LineAssembler()
    out: list[str] = []
    for _ in range(3):
        out += assembler.feed(b"q" * (1 << 19))
    out += assembler.close()
    assert [len(line) for line in out] == [1 << 20, 1 << 19]


def test_on_line_receives_exactly_the_returned_lines() -> None:
    seen: list[str] = []
    assembler = LineAssembler(on_line=seen.append, max_line=10)
    returned: list[str] = []
    for chunk in (b"a\nbb\rcc\n", b"x" * 25, b"\n\xc3", b"\xa9\n", b"tail"):
        returned += assembler.feed(chunk)
    returned += assembler.close()
    assert seen == returned == ["a", "cc", "x" * 10, "x" * 10, "x" * 5, "é", "tail"]


def test_real_hapi_capture_gives_one_final_line_per_epoch_and_every_update_as_redraw() -> None:
    data = (DATA / "hapi_fit_verbose1.log").read_bytes()
    for step in (1, 3, 64, 4096, len(data)):
        lines, redraws = assemble([data[i : i + step] for i in range(0, len(data), step)])
        assert [line for line in lines if line.startswith("step")] == [
            line for line in lines if line.startswith(("step 8/8", "step 4/4"))
        ]
        assert len(lines) == 12
        assert lines[-1] == "done: héllo 🙂"
        assert not any("\r" in line or "\b" in line for line in lines + redraws)
        # 3 intermediate train updates + 1 eval update per epoch, 2 epochs
        assert [r.split(" [")[0] for r in redraws] == ["step 2/8", "step 4/8", "step 6/8", "step 2/4"] * 2


def _reference_lines(data: bytes) -> list[str]:
    """A slow, obviously-correct model: decode all at once, then apply the rules character by character."""
    # `\r` and `\b` at the very end of the stream move the cursor only.
    text = data.decode("utf-8", "replace").replace("\r\n", "\n").rstrip("\r\b")
    lines: list[str] = []
    current: list[str] = []
    rewritten = False
    for char in text:
        if char == "\n":
            line = "".join(current)
            lines.append(line.rstrip(" ") if rewritten else line)
            current, rewritten = [], False
        elif char == "\r":
            current, rewritten = [], True
        elif char == "\b":
            if current:
                current.pop()
            rewritten = True
        else:
            current.append(char)
    if current:
        line = "".join(current)
        lines.append(line.rstrip(" ") if rewritten else line)
    return lines


_ALPHABET = st.sampled_from(["a", "b", " ", "\n", "\r", "\b", "é", "🙂", "\r\n", "xyz"])


@settings(max_examples=300, deadline=None)
@given(pieces=st.lists(_ALPHABET, max_size=60), cuts=st.lists(st.integers(min_value=0, max_value=400)))
def test_random_chunking_gives_the_same_lines(pieces: list[str], cuts: list[int]) -> None:
    data = "".join(pieces).encode()
    whole, whole_redraws = assemble([data])
    positions = sorted({c for c in cuts if 0 < c < len(data)})
    chunked, chunked_redraws = assemble(split_at(data, *positions))
    assert chunked == whole
    assert chunked_redraws == whole_redraws
    assert whole == _reference_lines(data)


@settings(max_examples=100, deadline=None)
@given(
    lines=st.lists(st.text(alphabet=st.characters(blacklist_characters="\r\n\b"), max_size=30), max_size=30),
    cuts=st.lists(st.integers(min_value=0, max_value=2000)),
)
def test_random_chunking_of_plain_text_returns_exactly_the_lines(lines: list[str], cuts: list[int]) -> None:
    data = "".join(line + "\n" for line in lines).encode("utf-8", "surrogatepass")
    positions = sorted({c for c in cuts if 0 < c < len(data)})
    got, _ = assemble(split_at(data, *positions))
    assert got == [line.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for line in lines]


def test_throughput_one_million_lines() -> None:
    """Loose guard (the benchmark is the real check): 1,000,000 lines in 4 KiB chunks well under a second."""
    data = b"".join(b"line %d of the training output\n" % i for i in range(1_000_000))
    chunks = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    assembler = LineAssembler()
    start = time.perf_counter()
    count = sum(len(assembler.feed(chunk)) for chunk in chunks) + len(assembler.close())
    elapsed = time.perf_counter() - start
    assert count == 1_000_000
    assert elapsed < 2.0
