"""The Confluent frame: what a serializer writes reads back, and every malformed frame
is a FrameError that says what is wrong (never another exception)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from driftd.wire.framing import MAX_INDEXES, FrameError, frame, parse_frame


@given(st.integers(0, 2**32 - 1), st.binary(max_size=50),
       st.lists(st.integers(0, 2**31 - 1), min_size=1, max_size=MAX_INDEXES))
def test_a_written_frame_reads_back(schema_id: int, payload: bytes, indexes: list[int]) -> None:
    """Schema id, message indexes and payload round-trip, for Avro and Protobuf frames."""
    avro = parse_frame(frame(schema_id, payload))
    assert (avro.schema_id, avro.indexes, avro.payload(frame(schema_id, payload))) == (
        schema_id, (), payload)
    message = frame(schema_id, payload, tuple(indexes))
    parsed = parse_frame(message, protobuf=True)
    assert (parsed.schema_id, parsed.indexes, parsed.payload(message)) == (
        schema_id, tuple(indexes), payload)


@pytest.mark.parametrize(("message", "protobuf", "problem"), [
    (b"", False, "empty message"),
    (b'{"model": "m"}', False, "no magic byte 0 (first byte 0x7b: plain JSON?)"),
    (b"\x01\x00\x00\x00\x01", False, "no magic byte 0 (first byte 0x01)"),
    (b"\x00", False, "truncated frame: 1 bytes"),
    (b"\x00\x00\x00\x07", True, "truncated frame: 4 bytes"),
    (b"\x00\x00\x00\x00\x07", True, "no message indexes after schema id 7"),
    (b"\x00\x00\x00\x00\x07\x04\x02", True, "a varint runs past the end"),  # 2 announced
    (b"\x00\x00\x00\x00\x07\x03\x02", True, "bad frame: -2 message indexes"),
    (b"\x00\x00\x00\x00\x07\x02\x01", True, "negative message index -1"),
    (b"\x00\x00\x00\x00\x07\xff\xff\xff\xff\xff\x01", True, "a varint longer than 5 bytes"),
    (b"\x00\x00\x00\x00\x07\x82\x01" + b"\x00" * 65, True, "65 message indexes"),
])
def test_malformed_frames_say_what_is_wrong(message: bytes, protobuf: bool,
                                            problem: str) -> None:
    """Each malformed frame raises FrameError whose message names the problem."""
    with pytest.raises(FrameError, match=problem.replace("(", r"\(").replace(")", r"\)")
                       .replace("?", r"\?")):
        parse_frame(message, protobuf=protobuf)


@given(st.binary(max_size=40))
def test_any_bytes_give_a_frame_or_a_frame_error(message: bytes) -> None:
    """Garbage never raises anything but FrameError, and a frame's payload starts
    inside the message."""
    for protobuf in (False, True):
        try:
            parsed = parse_frame(message, protobuf=protobuf)
        except FrameError:
            continue
        assert 5 <= parsed.offset <= len(message)


def test_an_avro_frame_may_carry_an_empty_payload() -> None:
    """A record of no fields encodes to no bytes: the header alone is a whole frame."""
    assert parse_frame(b"\x00\x00\x00\x00\x09").payload(b"\x00\x00\x00\x00\x09") == b""
