"""Label Studio's brush RLE: a bit stream over the mask's RGBA bytes, row by row.

The stream starts with the number of values (32 bits), the word size less one (5 bits) and four
run-length sizes less one (4 bits each); then runs: a 1 bit, a 2-bit size index, the run length less
one in that many bits and the value in a word; or a 0 bit and that many values one by one. A mask
pixel is on when its alpha byte is. (The same stream label-studio-converter's ``brush`` reads.)

>>> import numpy as np
>>> mask = np.zeros((3, 4), dtype=np.uint8); mask[1, 1:3] = 1
>>> bool((mask_from_rle(rle_from_mask(mask), 3, 4) == mask).all())
True
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from labelport.errors import FormatError
from labelport.limits import MAX_IMAGE_PIXELS

_SIZES = (3, 4, 8, 16)


def rle_from_mask(mask: npt.NDArray[np.uint8]) -> list[int]:
    """The brush RLE of a (height, width) mask (on pixels as RGBA 255, 255, 255, 255)."""
    values = np.repeat((mask.ravel() > 0).astype(np.uint8) * 255, 4)
    bits = [f"{values.size:032b}", f"{8 - 1:05b}", *(f"{s - 1:04b}" for s in _SIZES)]
    if values.size:
        starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
        lengths = np.diff(np.concatenate((starts, [values.size])))
        for start, length in zip(starts.tolist(), lengths.tolist(), strict=True):
            word = f"{int(values[start]):08b}"
            while length > 0:
                piece = min(length, 2**16)
                index = next(i for i, s in enumerate(_SIZES) if piece - 1 < 2**s)
                bits.append(f"1{index:02b}{piece - 1:0{_SIZES[index]}b}{word}")
                length -= piece
    stream = "".join(bits)
    stream += "0" * (-len(stream) % 8)
    return [int(stream[i : i + 8], 2) for i in range(0, len(stream), 8)]


def mask_from_rle(rle: list[int], height: int, width: int) -> npt.NDArray[np.uint8]:
    """The (height, width) mask of a brush RLE; a :class:`FormatError` when the stream does not fit."""
    if height * width > MAX_IMAGE_PIXELS:
        raise FormatError(
            "ls_rle",
            f"a brush mask is decoded over its {width:,}x{height:,} image, and labelport decodes masks "
            f"of at most {MAX_IMAGE_PIXELS:,} pixels.",
            path=".rle",
        )
    try:
        stream = "".join(f"{int(b) & 0xFF:08b}" for b in rle)
        pos = 0

        def read(n: int) -> int:
            nonlocal pos
            if pos + n > len(stream):
                raise ValueError("the stream ends early")
            value = int(stream[pos : pos + n], 2) if n else 0
            pos += n
            return value

        count = read(32)
        word = read(5) + 1
        sizes = [read(4) + 1 for _ in range(4)]
        if count != height * width * 4:
            raise ValueError(f"it holds {count:,} values, not {height}x{width}x4")
        out = np.zeros(count, dtype=np.uint8)
        i = 0
        while i < count:
            repeat = read(1)
            j = i + 1 + read(sizes[read(2)])
            if j > count:
                raise ValueError("a run goes past the end")
            if repeat:
                out[i:j] = read(word)
                i = j
            else:
                while i < j:
                    out[i] = read(word)
                    i += 1
    except (ValueError, TypeError, OverflowError) as exc:
        raise FormatError("ls_rle", f"the brush RLE cannot be decoded ({exc}).", path=".rle") from None
    return (out.reshape(height, width, 4)[:, :, 3] > 0).astype(np.uint8)
