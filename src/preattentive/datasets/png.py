"""PNG bytes of RGB images for stimulus sets: a minimal writer over ISA-L's deflate, and OpenCV's reader.

Why not ``cv2.imencode``: zlib's deflate was the largest single cost of writing a set. On every family's default
and hardest rungs (docs/results.md, issue 14) ISA-L (``isal``, Intel's storage-acceleration library) at level 2
deflates 3-7x faster than zlib at level 1 and writes files no larger; a noisy 224 px image took 1.4 ms with zlib,
over the whole 1 ms budget for a trial. The file is a plain 8-bit RGB PNG (IHDR, one IDAT, IEND) that every
decoder reads; rows are stored unfiltered (PNG filter type 0), which measured fastest for a small size cost.
Same pixels and same ``isal`` version give the same bytes.
"""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
from isal import isal_zlib

DEFLATE_LEVEL = 2  # ISA-L levels 0-3; 2 measured as small as zlib's level 1-3 on our images at a quarter of the time
_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC-32 of type + data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of an RGB uint8 ``(H, W, 3)`` image (deterministic: same pixels, same bytes).

    Example
    -------
    >>> img = np.zeros((4, 5, 3), np.uint8); img[1, 2] = (255, 0, 0)
    >>> bool((decode_png(encode_png(img)) == img).all())
    True
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {image.shape}")
    h, w = image.shape[:2]
    rows = np.zeros((h, 1 + 3 * w), np.uint8)  # a filter-type byte (0: none) before each row's pixels
    rows[:, 1:] = image.reshape(h, 3 * w)
    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8-bit RGB, deflate, adaptive filtering, no interlace
    return (_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", isal_zlib.compress(rows, DEFLATE_LEVEL))
            + _chunk(b"IEND", b""))


def decode_png(data: bytes) -> np.ndarray:
    """RGB uint8 ``(H, W, 3)`` image from PNG bytes."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError("bytes are not a decodable image")
    return img[..., ::-1].copy()
