"""Images decoded no larger than needed: what the viewer, ``render`` and the VOC reader open images with.

:func:`open_image` decodes a file at most ``side`` pixels on its longest side without ever holding
more than :data:`~labelport.limits.MAX_IMAGE_PIXELS` decoded pixels: a JPEG is decoded already
reduced (its DCT scaling, Pillow's ``draft``), other formats at their own size in their own mode,
then reduced before any conversion to RGB. An image over the limit, or no image at all, is an
:class:`~labelport.errors.ImageError` naming the file in one sentence. The result carries none of
the original's metadata (comments, EXIF, ICC profiles), so whatever is saved from it carries none.
Large decodes go one at a time, so concurrent requests cannot add them up.

>>> import io
>>> from PIL import Image
>>> data = io.BytesIO()
>>> Image.new("RGB", (800, 600), "red").save(data, "JPEG", comment=b"x" * 60000)
>>> small = open_image(data, side=100, name="red.jpg")
>>> small.size, small.mode, small.info
((100, 75), 'RGB', {})
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from pathlib import Path
from typing import IO

from PIL import Image, UnidentifiedImageError

from labelport.errors import ImageError
from labelport.limits import MAX_IMAGE_PIXELS

#: Decodes above this many pixels wait for each other (one at a time in a process).
_LARGE = 16 * 1024 * 1024
_large = threading.Lock()


def too_large(name: str, size: tuple[int, int] | None) -> ImageError:
    """The sentence for an image over the pixel limit (``size`` when it is known)."""
    given = "is larger than that" if size is None else f"is {size[0]:,} x {size[1]:,}"
    return ImageError(
        "image_pixels",
        f"labelport decodes images of at most {MAX_IMAGE_PIXELS:,} pixels (about 13,400 x 13,400, "
        f"Pillow's decompression-bomb limit), and this one {given}.",
        file=name,
    )


def header_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from an image file's header, nothing decoded, whatever its size: Pillow's
    decompression-bomb check (which refuses to open an image over its limit) is for decoding, and
    the size of a large image is what tells a reader that it is one. Errors are Pillow's own."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as image:
                return image.size
        except Image.DecompressionBombError:
            pass
    Image.init()
    with open(path, "rb") as handle:  # the plugins Image.open tries, without its check
        prefix = handle.read(16)
        for kind in Image.ID:
            factory, accept = Image.OPEN[kind]
            if accept is None or accept(prefix) is True:
                handle.seek(0)
                try:
                    return factory(handle, str(path)).size
                except (SyntaxError, IndexError, TypeError, ValueError, OSError):
                    continue
    raise UnidentifiedImageError(f"cannot identify image file {str(path)!r}")


def open_image(
    source: str | Path | IO[bytes], *, side: int | None = None, mode: str | None = "RGB", name: str = ""
) -> Image.Image:
    """The decoded image, at most ``side`` pixels on its longest side (None: its own size), in ``mode``
    (None: the file's own), with no metadata; an :class:`ImageError` when it cannot be."""
    name = name or (Path(source).name if isinstance(source, (str, Path)) else "the image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below, by our limit
            with Image.open(source) as opened:
                width, height = opened.size
                if side is not None and max(width, height) > side:
                    scale = side / max(width, height)
                    wanted = (max(1, round(width * scale)), max(1, round(height * scale)))
                    opened.draft(mode or opened.mode, wanted)  # JPEG only: decoded already reduced
                else:
                    wanted = (width, height)
                if opened.size[0] * opened.size[1] > MAX_IMAGE_PIXELS:
                    raise too_large(name, (width, height))
                with _large if opened.size[0] * opened.size[1] > _LARGE else contextlib.nullcontext():
                    return _reduced(opened, wanted, mode)
    except Image.DecompressionBombError:
        raise too_large(name, _size_or_none(source)) from None
    except UnidentifiedImageError:
        raise ImageError("image_unreadable", "is not an image labelport can read.", file=name) from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        # (the sentence names the file as given, never a path the exception may carry)
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "damaged or cut short"
        raise ImageError("image_unreadable", f"cannot be decoded ({why}).", file=name) from None


def _size_or_none(source: str | Path | IO[bytes]) -> tuple[int, int] | None:
    if not isinstance(source, (str, Path)):
        return None
    try:
        return header_size(source)
    except (OSError, ValueError, SyntaxError):
        return None


def _reduced(opened: Image.Image, wanted: tuple[int, int], mode: str | None) -> Image.Image:
    opened.load()
    image: Image.Image = opened
    if image.size != wanted:
        factor = max(1, min(image.size[0] // wanted[0], image.size[1] // wanted[1]) // 2)
        if factor > 1 and image.mode in ("P", "1"):  # a palette is sampled, not averaged
            size = (image.size[0] // factor, image.size[1] // factor)
            image = image.resize(size, Image.Resampling.NEAREST)
        elif factor > 1:
            with contextlib.suppress(ValueError):  # (a mode reduce does not take: resized below)
                image = image.reduce(factor)  # in the file's own mode: no full-size RGB copy
        if image.mode not in ("RGB", "RGBA", "L", "LA"):
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        image = image.resize(wanted, Image.Resampling.LANCZOS)
    if mode is not None and image.mode != mode:
        image = image.convert(mode)
    elif image is opened:
        image = image.copy()
    image.info = {}
    return image
