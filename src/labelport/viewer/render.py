"""A data unit's picture with its labels drawn: the grid's labelled thumbnails and ``labelport render``.

Called as ``render_unit(project, title="street-1.png", out="street-1.png", media_roots=["images"])``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from labelport.client import Project
from labelport.data import DataUnit
from labelport.errors import LabelportError, NotFoundError
from labelport.labels import MAIN_BRANCH
from labelport.store.base import UnitQuery
from labelport.viewer.draw import class_colors, draw_marks, marks_of_row, neutral_canvas
from labelport.viewer.media import RENDER_SIDE, MediaRoots, ThumbnailCache, open_image


@dataclass(frozen=True)
class Picture:
    """An image with labels drawn, and a note when the unit's own pixels could not be used."""

    image: Image.Image
    note: str | None


def find_unit(project: Project, *, title: str | None = None, data_hash: str | None = None) -> DataUnit:
    """The data unit with this title or data hash (exactly one of them)."""
    if (title is None) == (data_hash is None):
        raise LabelportError("give a data unit's title or its data hash, one of them.")
    if data_hash is not None:
        found = project.get_data_units([data_hash])
        if not found:
            raise NotFoundError("data unit", data_hash)
        return found[0]
    assert title is not None
    page = project.find_data_units(UnitQuery(title=title), limit=500)
    exact = [u for u in page.units if u.title == title]
    if not exact:
        raise NotFoundError("data unit", title, key="title")
    return exact[0]


def base_image(
    unit: DataUnit, frame: int, roots: MediaRoots, cache: ThumbnailCache | None = None
) -> tuple[Image.Image, float, str | None]:
    """The frame's pixels (a cached thumbnail with ``cache``), the scale from unit pixels to them, and
    a note when a neutral canvas of the unit's size stands in."""
    width, height = unit.frame_size(frame) if frame < unit.frames else (unit.width, unit.height)
    located = roots.locate_frame(unit, frame)
    image: Image.Image | None = None
    note: str | None
    if located.path is None:
        note = located.reason or f"{located.url} is shown by the browser, not drawn here"
    elif located.video:
        note = f"{located.path.name}: video frames are shown by the browser, not drawn here"
    else:
        image, note = cache.get(located.path) if cache is not None else open_image(located.path)
    if image is None:
        side = cache.side if cache is not None else RENDER_SIDE
        scale = min(1.0, side / max(width, height))
        return neutral_canvas(max(1, round(width * scale)), max(1, round(height * scale))), scale, note
    return image, image.width / width, None


def picture(
    project: Project,
    unit: DataUnit,
    *,
    branch_name: str | None = None,
    frame: int = 0,
    roots: MediaRoots,
    cache: ThumbnailCache | None = None,
) -> Picture:
    """The frame with its labels on ``branch_name`` drawn (at thumbnail size with ``cache``)."""
    if not 0 <= frame < unit.frames:
        raise LabelportError(f"frame {frame} is beyond {unit.title!r}, which has {unit.frames}.")
    row = project.label_rows_of([unit], branch_name or MAIN_BRANCH)[0]
    image, scale, note = base_image(unit, frame, roots, cache)
    marks = marks_of_row(row, frame, class_colors(project.ontology_structure))
    return Picture(draw_marks(image, marks, scale), note)


def render_unit(
    project: Project,
    *,
    out: str | Path,
    title: str | None = None,
    data_hash: str | None = None,
    branch_name: str | None = None,
    frame: int = 0,
    media_roots: Sequence[str | Path] = ("/",),
) -> tuple[Path, str | None]:
    """Write one data unit's frame with its labels drawn as a PNG; returns the path and any note
    (a neutral canvas stood in for pixels that could not be read)."""
    unit = find_unit(project, title=title, data_hash=data_hash)
    drawn = picture(project, unit, branch_name=branch_name, frame=frame, roots=MediaRoots(media_roots))
    path = Path(out).expanduser()
    try:
        drawn.image.save(path, "PNG")
    except (OSError, ValueError) as exc:
        raise LabelportError(f"{path} cannot be written ({exc}).") from None
    return path, drawn.note


def render_all(project: Project, folder: Path, *, media_roots: Sequence[str | Path]) -> list[Path]:
    """Every labelled data unit's first frame as ``folder/<title>.png`` (the end of ``make demo``)."""
    folder.mkdir(parents=True, exist_ok=True)
    units = project.list_data_units()
    roots = MediaRoots(media_roots)
    written = []
    for unit, row in zip(units, project.label_rows_of(units), strict=True):
        if row.object_instances:
            drawn = picture(project, unit, roots=roots)
            path = folder / f"{Path(unit.title).stem}.png"
            drawn.image.save(path, "PNG")
            written.append(path)
    return written
