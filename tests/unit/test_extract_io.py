"""ReplayStream against io.BytesIO: the same bytes for every mix of reads, lines, peeks and seeks."""

from __future__ import annotations

import io
import random

import pytest

from datawharf.extract._io import CountingReader, ReplayStream, random_access


def _source(data: bytes, pieces: random.Random) -> ReplayStream:
    raw = io.BytesIO(data)

    def read(size: int) -> bytes:  # a decompressor hands out uneven pieces
        return raw.read(max(1, min(size, pieces.randint(1, 5000))))

    return ReplayStream(read, keep=20_000, chunk=4096)


@pytest.mark.parametrize("seed", range(40))
def test_replay_stream_reads_like_bytesio(seed: int) -> None:
    rng = random.Random(seed)
    data = b"".join(
        rng.choice([b"\n", b"abc", b"\r\n", b"x" * rng.randint(0, 3000), bytes([rng.randint(0, 255)])])
        for _ in range(400)
    )
    replay, expected = _source(data, random.Random(seed + 1000)), io.BytesIO(data)
    for _ in range(300):
        operation = rng.choice(["read", "read1", "readline", "peek", "seek", "tell"])
        if operation == "read":
            size = rng.choice([0, 1, 7, 100, 5000, 70_000])
            assert replay.read(size) == expected.read(size)
        elif operation == "read1":
            got = replay.read1(rng.choice([1, 100, 9000]))
            assert got == expected.read(len(got))
        elif operation == "readline":
            limit = rng.choice([-1, 5, 300])
            assert replay.readline(limit) == expected.readline(limit)
        elif operation == "peek":
            head = replay.peek(rng.choice([1, 50]))
            assert data[replay.tell() :].startswith(head)
        elif operation == "seek" and replay.tell() <= 20_000:
            target = rng.randint(0, replay.tell() + 100)
            assert replay.seek(target) == expected.seek(min(target, len(data)))
        assert replay.tell() == expected.tell()
    assert replay.read() == expected.read()


def test_seeking_back_past_the_kept_head_is_refused() -> None:
    replay = ReplayStream(io.BytesIO(b"y" * 100_000).read, keep=1000, chunk=1000)
    replay.read(50_000)
    with pytest.raises(io.UnsupportedOperation):
        replay.seek(0)
    with pytest.raises(io.UnsupportedOperation):
        replay.seek(0, io.SEEK_END)


def test_random_access_spools_a_forward_only_stream() -> None:
    replay = ReplayStream(io.BytesIO(b"z" * 10_000).read)
    spooled = random_access(replay)
    assert spooled is not replay
    assert spooled.seek(0, io.SEEK_END) == 10_000
    spooled.close()
    plain = io.BytesIO(b"abc")
    assert random_access(plain) is plain


def test_counting_reader_counts_what_passes() -> None:
    counter = CountingReader(io.BytesIO(b"0123456789"))
    buffer = bytearray(4)
    counter.read(3)
    counter.readinto(buffer)
    counter.seek(0)
    assert (counter.bytes_read, bytes(buffer), counter.read(2)) == (7, b"3456", b"01")
