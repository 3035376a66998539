"""The Confluent wire format: a frame around each Avro or Protobuf payload.

A framed message is the magic byte 0, the schema id as 4 bytes big-endian (unsigned),
then for Protobuf only the message indexes (which message of the schema's file: a count
and that many indexes, each a zigzag varint; the single byte 0 stands for ``[0]``, the
first message), then the payload. Pure functions: bytes in, a ``Frame`` or a
``FrameError`` out.

Examples
--------
>>> frame = parse_frame(b"\\x00\\x00\\x00\\x00\\x07payload")
>>> frame.schema_id, frame.payload(b"\\x00\\x00\\x00\\x00\\x07payload")
(7, b'payload')
>>> parse_frame(b"\\x00\\x00\\x00\\x00\\x01\\x04\\x02\\x04rest", protobuf=True).indexes
(1, 2)
>>> parse_frame(b'{"model": "m"}')
Traceback (most recent call last):
driftd.wire.framing.FrameError: no magic byte 0 (first byte 0x7b: plain JSON?)
"""

from __future__ import annotations

from dataclasses import dataclass

MAGIC = 0
HEADER_BYTES = 5
MAX_INDEXES = 64  # message nesting depth in a schema; more is a corrupt frame
_MAX_VARINT_BYTES = 5  # a 32-bit value


class FrameError(ValueError):
    """A message that is not a well-formed frame (the detail says what is wrong)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """Where a framed message's schema and payload are: ``indexes`` is the Protobuf
    message path (``(0,)`` for the first message; ``()`` for Avro)."""

    schema_id: int
    indexes: tuple[int, ...]
    offset: int  # where the payload starts

    def payload(self, message: bytes) -> bytes:
        """The payload of ``message`` (the one this frame was parsed from)."""
        return message[self.offset:]


def parse_frame(message: bytes, *, protobuf: bool = False) -> Frame:
    """The frame of ``message``; raises FrameError naming the problem.

    >>> parse_frame(b"\\x00\\x00\\x01")
    Traceback (most recent call last):
    driftd.wire.framing.FrameError: truncated frame: 3 bytes, the header needs 5
    >>> parse_frame(b"\\x00\\x00\\x00\\x00\\x05", protobuf=True)
    Traceback (most recent call last):
    driftd.wire.framing.FrameError: truncated frame: no message indexes after schema id 5
    >>> parse_frame(b"\\x00\\xff\\xff\\xff\\xff\\x00", protobuf=True)
    Frame(schema_id=4294967295, indexes=(0,), offset=6)
    """
    if not message:
        raise FrameError("empty message (a tombstone?)")
    if message[0] != MAGIC:
        hint = ": plain JSON?" if message[0] in b"{[" else ""
        raise FrameError(f"no magic byte 0 (first byte 0x{message[0]:02x}{hint})")
    if len(message) < HEADER_BYTES:
        raise FrameError(f"truncated frame: {len(message)} bytes, the header needs "
                         f"{HEADER_BYTES}")
    schema_id = int.from_bytes(message[1:HEADER_BYTES], "big")
    if not protobuf:
        return Frame(schema_id, (), HEADER_BYTES)
    if len(message) == HEADER_BYTES:
        raise FrameError(f"truncated frame: no message indexes after schema id {schema_id}")
    indexes, offset = _message_indexes(message, HEADER_BYTES)
    return Frame(schema_id, indexes, offset)


def _message_indexes(message: bytes, offset: int) -> tuple[tuple[int, ...], int]:
    count, offset = read_zigzag(message, offset)
    if count == 0:
        return (0,), offset  # the short form of the first message
    if not 0 < count <= MAX_INDEXES:
        raise FrameError(f"bad frame: {count} message indexes (at most {MAX_INDEXES})")
    indexes = []
    for _ in range(count):
        index, offset = read_zigzag(message, offset)
        if index < 0:
            raise FrameError(f"bad frame: negative message index {index}")
        indexes.append(index)
    return tuple(indexes), offset


def read_zigzag(data: bytes, offset: int) -> tuple[int, int]:
    """The zigzag varint at ``offset`` and the offset after it.

    >>> read_zigzag(bytes([0x03]), 0), read_zigzag(bytes([0x80, 0x01]), 0)
    ((-2, 1), (64, 2))
    >>> read_zigzag(bytes([0x80]), 0)
    Traceback (most recent call last):
    driftd.wire.framing.FrameError: truncated frame: a varint runs past the end at byte 1
    """
    value = shift = 0
    for position in range(offset, min(offset + _MAX_VARINT_BYTES, len(data))):
        byte = data[position]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (value >> 1) ^ -(value & 1), position + 1
        shift += 7
    if len(data) - offset < _MAX_VARINT_BYTES:
        raise FrameError(f"truncated frame: a varint runs past the end at byte {len(data)}")
    raise FrameError(f"bad frame: a varint longer than {_MAX_VARINT_BYTES} bytes at byte "
                     f"{offset}")


def zigzag(value: int) -> bytes:
    """``value`` as a zigzag varint (32-bit).

    >>> zigzag(-2), zigzag(64), zigzag(0)
    (b'\\x03', b'\\x80\\x01', b'\\x00')
    """
    number = ((value << 1) ^ (value >> 31)) & 0xFFFFFFFF
    out = bytearray()
    while number > 0x7F:
        out.append((number & 0x7F) | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)


def frame(schema_id: int, payload: bytes, indexes: tuple[int, ...] | None = None) -> bytes:
    """``payload`` framed with ``schema_id`` (and Protobuf ``indexes``), as a Confluent
    serializer writes it.

    >>> frame(7, b"p")
    b'\\x00\\x00\\x00\\x00\\x07p'
    >>> frame(7, b"p", (0,)), frame(7, b"p", (1, 2))
    (b'\\x00\\x00\\x00\\x00\\x07\\x00p', b'\\x00\\x00\\x00\\x00\\x07\\x04\\x02\\x04p')
    """
    if not 0 <= schema_id < 2**32:
        raise ValueError("schema_id must be between 0 and 2**32 - 1")
    head = bytes([MAGIC]) + schema_id.to_bytes(4, "big")
    if indexes is None:
        return head + payload
    if indexes == (0,):
        return head + b"\x00" + payload
    return head + zigzag(len(indexes)) + b"".join(zigzag(i) for i in indexes) + payload
