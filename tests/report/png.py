"""Just enough PNG decoding to look at a screenshot's pixels (8-bit RGB or RGBA, the
None, Sub and Up row filters: what Chromium writes when asked to optimize for speed)."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import numpy.typing as npt

CHANNELS = {2: 3, 6: 4}  # colour type: RGB, RGBA


def decode(png: bytes) -> npt.NDArray[np.uint8]:
    """The pixels of ``png`` as an array of shape (height, width, channels)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    position, data, header = 8, b"", None
    while position < len(png):
        (length,) = struct.unpack(">I", png[position:position + 4])
        kind, chunk = png[position + 4:position + 8], png[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            data += chunk
        position += 12 + length
    if header is None:
        raise ValueError("PNG without a header")
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in CHANNELS or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}")
    channels = CHANNELS[colour]
    raw = np.frombuffer(zlib.decompress(data), dtype=np.uint8).reshape(height, -1)
    rows = raw[:, 1:].reshape(height, width, channels).astype(np.int64)
    pixels = np.empty_like(rows)
    for y, kind in enumerate(raw[:, 0]):
        if kind == 0:
            pixels[y] = rows[y]
        elif kind == 1:
            pixels[y] = np.cumsum(rows[y], axis=0) % 256
        elif kind == 2:
            pixels[y] = (rows[y] + (pixels[y - 1] if y else 0)) % 256
        else:
            raise ValueError(f"unsupported PNG row filter {kind} (use optimizeForSpeed)")
    return pixels.astype(np.uint8)
