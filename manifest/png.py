"""A small PNG writer and reader (zlib only), enough for the app icons and for checking them."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

SIGNATURE = b"\x89PNG\r\n\x1a\n"
RGBA = tuple[int, int, int, int]


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def write_rgba(pixels: Sequence[Sequence[RGBA]]) -> bytes:
    """An 8-bit RGBA PNG of ``pixels`` (rows of (r, g, b, a)); the same input gives the same bytes."""
    height = len(pixels)
    width = len(pixels[0]) if height else 0
    if not width or any(len(row) != width for row in pixels):
        raise ValueError("pixels must be a non-empty rectangle")
    raw = bytearray()
    for row in pixels:
        raw.append(0)  # filter type None
        for r, g, b, a in row:
            raw += bytes((r, g, b, a))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(bytes(raw), 9))
        + _chunk(b"IEND", b"")
    )


@dataclass(frozen=True, slots=True)
class Image:
    width: int
    height: int
    color_type: int
    rows: tuple[tuple[RGBA, ...], ...]

    def pixels(self) -> list[RGBA]:
        return [pixel for row in self.rows for pixel in row]


_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(data: bytes, width: int, height: int, bpp: int) -> list[bytes]:
    stride = width * bpp
    rows: list[bytes] = []
    previous = bytearray(stride)
    position = 0
    for _ in range(height):
        if position + 1 + stride > len(data):
            raise ValueError("image data is shorter than its header says")
        kind = data[position]
        line = bytearray(data[position + 1 : position + 1 + stride])
        position += 1 + stride
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            corner = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                line[i] = (line[i] + _paeth(left, up, corner)) & 0xFF
            elif kind != 0:
                raise ValueError(f"unknown PNG filter type {kind}")
        rows.append(bytes(line))
        previous = line
    return rows


def read(data: bytes) -> Image:
    """Decode a non-interlaced 8-bit PNG (grey, RGB, palette, grey+alpha or RGBA) to RGBA rows.

    Raises ValueError for anything that is not such a PNG: a bad signature or CRC, a missing
    chunk, truncated data, or a format this reader does not handle.
    """
    if not data.startswith(SIGNATURE):
        raise ValueError("not a PNG file (bad signature)")
    position = len(SIGNATURE)
    header: tuple[int, ...] | None = None
    palette: list[tuple[int, int, int]] = []
    transparency = b""
    idat = bytearray()
    ended = False
    while position < len(data):
        if position + 8 > len(data):
            raise ValueError("truncated PNG chunk")
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        crc_bytes = data[position + 8 + length : position + 12 + length]
        if len(body) != length or len(crc_bytes) != 4:
            raise ValueError("truncated PNG chunk")
        if struct.unpack(">I", crc_bytes)[0] != zlib.crc32(kind + body) & 0xFFFFFFFF:
            raise ValueError(f"bad CRC in PNG chunk {kind!r}")
        position += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = [(body[i], body[i + 1], body[i + 2]) for i in range(0, len(body) - 2, 3)]
        elif kind == b"tRNS":
            transparency = body
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            ended = True
            break
    if header is None:
        raise ValueError("PNG has no IHDR chunk")
    if not ended:
        raise ValueError("PNG has no IEND chunk")
    width, height, depth, color_type, _compression, _filter, interlace = header
    if depth != 8 or color_type not in _CHANNELS or interlace != 0:
        raise ValueError(
            f"unsupported PNG format (bit depth {depth}, colour type {color_type}, interlace {interlace})"
        )
    if width == 0 or height == 0:
        raise ValueError("PNG has no pixels")
    try:
        raw = zlib.decompress(bytes(idat))
    except zlib.error as error:
        raise ValueError(f"PNG image data does not decompress: {error}") from error
    bpp = _CHANNELS[color_type]
    rows = []
    for line in _unfilter(raw, width, height, bpp):
        row: list[RGBA] = []
        for x in range(width):
            px = line[x * bpp : (x + 1) * bpp]
            if color_type == 6:
                row.append((px[0], px[1], px[2], px[3]))
            elif color_type == 2:
                opaque = not (len(transparency) == 6 and px == transparency[1::2])
                row.append((px[0], px[1], px[2], 255 if opaque else 0))
            elif color_type == 4:
                row.append((px[0], px[0], px[0], px[1]))
            elif color_type == 0:
                opaque = not (len(transparency) == 2 and px[0] == transparency[1])
                row.append((px[0], px[0], px[0], 255 if opaque else 0))
            else:
                if px[0] >= len(palette):
                    raise ValueError("PNG palette index out of range")
                r, g, b = palette[px[0]]
                alpha = transparency[px[0]] if px[0] < len(transparency) else 255
                row.append((r, g, b, alpha))
        rows.append(tuple(row))
    return Image(width, height, color_type, tuple(rows))
