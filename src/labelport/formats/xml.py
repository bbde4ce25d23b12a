"""What the XML formats (CVAT, Pascal VOC) share: a safe parse, element paths, number fields, writing.

Parsing goes through defusedxml, which refuses entity declarations (billion-laughs bombs) and
external references; every problem names its file and an XPath-like element path.

>>> root = parse_xml(b"<a><b x='1'/><b x='y'/></a>", "f.xml")
>>> element_path(("annotations", None), ("image", 2), ("box", 1))
'/annotations/image[2]/box[1]'
>>> root.tag
'a'
"""

from __future__ import annotations

import weakref
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from labelport.errors import FormatError

#: each parsed element's 1-based line in its file (see :func:`source_line`)
_LINES: weakref.WeakKeyDictionary[ET.Element, int] = weakref.WeakKeyDictionary()


class _LineBuilder(ET.TreeBuilder):
    """A tree builder that notes the line each element starts on, as the parser reads it."""

    def __init__(self) -> None:
        super().__init__()
        self.parser: Any = None

    def start(self, tag: Any, attrs: Any) -> ET.Element:
        element = super().start(tag, attrs)
        _LINES[element] = self.parser.parser.CurrentLineNumber
        return element


def source_line(element: ET.Element) -> int | None:
    """The line of its file an element of :func:`parse_xml` starts on.

    >>> root = parse_xml(b"<a>\\n\\n<b/></a>", "f.xml")
    >>> source_line(root), source_line(root[0])
    (1, 3)
    """
    return _LINES.get(element)


def parse_xml(data: bytes, file: str) -> ET.Element:
    """The root element; a :class:`FormatError` with the line when it is not well-formed or is unsafe."""
    import defusedxml
    from defusedxml.ElementTree import DefusedXMLParser

    try:
        builder = _LineBuilder()
        parser = builder.parser = DefusedXMLParser(target=builder)
        parser.feed(data)
        root: ET.Element = parser.close()
        return root
    except ET.ParseError as exc:
        line, _column = getattr(exc, "position", (None, None))
        message = str(exc).split(":")[0]
        raise FormatError(
            "xml_syntax", f"is not well-formed XML ({message}).", file=file, line=line
        ) from None
    except defusedxml.DefusedXmlException as exc:
        raise FormatError(
            "xml_unsafe",
            f"uses {type(exc).__name__}, which labelport refuses (XML bombs, external files).",
            file=file,
        ) from None


def element_path(*steps: tuple[str, int | None]) -> str:
    """``/a/b[2]``: each step a tag and its 1-based position among siblings of that tag (None: the only one)."""
    return "".join(f"/{tag}" if n is None else f"/{tag}[{n}]" for tag, n in steps)


def numbered(parent: ET.Element) -> list[tuple[ET.Element, int]]:
    """Each child with its 1-based position among the children of its tag."""
    counts: dict[str, int] = {}
    out = []
    for child in parent:
        counts[child.tag] = counts.get(child.tag, 0) + 1
        out.append((child, counts[child.tag]))
    return out


def text_number(value: str | None) -> float | None:
    """A number from an XML attribute or text, or None when it is none."""
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


def whole_number(text: str | None) -> int | None:
    """A whole number written in ASCII digits (a leading ``-`` allowed), at most 18 of them; None for
    anything else (``str.isdigit`` takes ``²``, and ``int`` refuses more than 4,300 digits).

    >>> whole_number("12"), whole_number("-3"), whole_number("²"), whole_number("9" * 19)
    (12, -3, None, None)
    """
    digits = (text or "").removeprefix("-")
    if not digits or len(digits) > 18 or not digits.isascii() or not digits.isdigit():
        return None
    return int(text or "")


def plain(value: float) -> int | float:
    """Whole numbers as ints, others rounded to 1/100,000 (CVAT and VOC write 2 decimals or whole pixels)."""
    rounded = round(float(value), 5)
    return int(rounded) if rounded.is_integer() else rounded


def fmt(value: Any) -> str:
    """A coordinate as XML text: ``12`` or ``12.5`` (no trailing zeros)."""
    number = float(value)
    return str(int(number)) if number.is_integer() else f"{number:.4f}".rstrip("0").rstrip(".")


def answer_text(value: Any) -> str:
    """An attribute value as XML text (booleans as CVAT writes them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(answer_text(v) for v in value)
    return str(value)


def answer_value(text: str | None, input_type: str | None) -> Any:
    """An attribute value from XML text: true/false as booleans, numbers for number inputs."""
    text = text or ""
    if text in ("true", "false") and input_type in (None, "checkbox"):
        return text == "true"
    if input_type == "number":
        number = text_number(text)
        if number is not None:
            return plain(number)
    return text


def write_xml(root: ET.Element, out: Path) -> None:
    ET.indent(root, space="  ")
    data = (
        b'<?xml version="1.0" encoding="utf-8"?>\n'
        + ET.tostring(root, encoding="unicode").encode("utf-8")
        + b"\n"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
