"""The images half of the matching plan: which data unit and frame each COCO image goes to (see
:mod:`labelport.formats.coco.match` for the strategies), the data units to create for the images
that match none, and the problems of the images that annotations name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import msgspec

from labelport.data import DataType, DataUnit, Member
from labelport.formats.coco import schema
from labelport.formats.coco.match import UnitIndex, frame_number, load_mapping, lookup, mapped_target
from labelport.formats.coco.plan import EXAMPLES, ImageTarget, Plan
from labelport.formats.coco.read import ParsedCoco, join_raw
from labelport.formats.coco.subset_match import OtherSubset, SubsetMatch
from labelport.formats.coco.validate import MAX_SIDE, image_problem, short
from labelport.formats.subsets import with_subset
from labelport.hashing import new_uuids
from labelport.imports.report import ImageMatch, ImportReport
from labelport.limits import MAX_VIDEO_FRAMES
from labelport.plural import plural
from labelport.stored.ids import id_fits, other_form, whole_id


def plan_images(
    parsed: ParsedCoco,
    units: list[DataUnit],
    match: Any,
    create: bool,
    plan: Plan,
    report: ImportReport,
    subset: str | None = None,
) -> None:
    """Match the file's images to data units (or plan the units to create); a results list names
    none, and goes by the ids kept from the ground truth's import (or a mapping). ``subset``: the
    subset of every image that names none (kept in its record as ``"subset"``)."""
    by_hash = {u.data_hash: u for u in units}
    if parsed.kind == "results":
        _plan_result_images(units, by_hash, match, plan)
        return
    mapping = None if match == "auto" else load_mapping(match, "image")
    index = UnitIndex(units) if mapping is None else None
    # Each image is kept as its raw record (a slice of the file, written back verbatim); matching
    # reads only the typed fields it needs. Full dicts of a large file's images would cost much memory.
    creating: Creating = defaultdict(list)
    subsets = SubsetMatch(index, create)
    no_units = index is not None and not units  # a new project: nothing to match, skip the work
    raws = parsed.images if subset is None else [with_subset(raw, subset) for raw in parsed.images]
    for i, (raw, typed) in enumerate(zip(raws, _typed_images(raws), strict=True)):
        path = f"images[{i}]"
        if typed is None:
            report.error("image_type", path, "an image must be a JSON object.")
            continue
        typed.id = whole_id(typed.id)  # 100.0 is image 100 (its record keeps how it was written)
        if not _register(plan, report, i, typed):
            continue
        image_id = typed.id
        width, height = typed.width, typed.height
        file_name = None if typed.file_name is schema.MISSING else typed.file_name
        plain = (
            type(width) is int and type(height) is int and 0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE
        )
        problem = (
            None if plain and type(file_name) is str and "\x00" not in file_name else image_problem(typed)
        )
        if problem is not None:
            report.error(problem[0], f"{path}.{problem[1]}", problem[2])
            plan.unmatched[image_id] = i
            continue
        sized = type(width) is int and type(height) is int
        if mapping is not None:
            target = lookup(mapping, image_id, file_name)
            mapped, frame = mapped_target(by_hash, target) if target is not None else (None, 0)
            method, found = ("mapping", [(mapped, frame)]) if mapped is not None else ("unmatched", [])
        elif no_units:
            method, found = "unmatched", []
        else:
            assert index is not None
            method, found = index.match(typed.fields())
        method, found, other = subsets.candidates(report, path, found, raw, method, typed)
        if len(found) > 1:
            _ambiguous(plan, report, i, ImageMatch(image_id, str(file_name), method), found)
            continue
        if not found:
            key = _unit_to_create(typed, file_name, other) if create and sized else None
            _unfound(plan, report, i, typed, raw, key, creating)
            continue
        unit, frame = found[0]
        if not _frame_fits(plan, report, path, i, image_id, unit, frame):
            continue
        uw, uh = unit.frame_size(frame)
        _check_size(report, path, unit, (uw, uh), (width, height) if sized else None)
        if not _lands(plan, i, image_id, unit, frame):
            continue
        subsets.landed(path, raw, typed, (unit, frame))
        size = (width, height) if sized else (uw, uh)
        _matched(plan, report, image_id, file_name, raw, unit, frame, method, size)
    count = sum(len(m) if kind == "image" else 1 for (kind, _), m in creating.items())
    hashes = iter(new_uuids(count, ordered=True))
    for (kind, title), members in creating.items():
        _create_unit(plan, report, kind, title, members, hashes)
    subsets.finish(report)
    report.counts.images_unmatched = len(plan.unmatched) - report.counts.images_ambiguous


Creating = dict[tuple[str, str], list[tuple[int, schema.Image, msgspec.Raw]]]


def _unfound(
    plan: Plan,
    report: ImportReport,
    i: int,
    typed: schema.Image,
    raw: msgspec.Raw,
    key: tuple[str, str] | None,
    creating: Creating,
) -> None:
    """Image ``i`` matched no data unit: one to create (``key``, under ``--create-missing``), else unmatched."""
    path = f"images[{i}]"
    if key is not None and key[0] == "video" and not _frame_creatable(report, path, typed):
        plan.unmatched[typed.id] = i
        return
    if key is not None and key[1]:
        creating[key].append((i, typed, raw))
        return
    plan.unmatched[typed.id] = i
    if key is not None:
        report.error(
            "image_file_name",
            f"{path}.file_name",
            "the image matches no data unit, and a new one needs a file name to be created from.",
        )
    elif not (type(typed.width) is int and type(typed.height) is int):
        report.error("image_size", path, "an image needs whole-number 'width' and 'height' > 0.")


def _ambiguous(
    plan: Plan, report: ImportReport, i: int, match: ImageMatch, found: list[tuple[DataUnit, int]]
) -> None:
    """Image ``i`` matches several data units: counted, reported (the first 1000), never guessed."""
    report.counts.images_ambiguous += 1
    plan.unmatched[match.image_id] = i
    if len(report.ambiguous_images) < 1000:
        match.candidates = [f"{u.title}#{f}" for u, f in found]
        report.ambiguous_images.append(match)


def _plan_result_images(units: list[DataUnit], by_hash: dict[str, DataUnit], match: Any, plan: Plan) -> None:
    """A results list's image ids: those kept from the ground truth's import, and a mapping's."""
    for unit in units:
        for frame, image in unit.extra.get("coco_images", {}).items():
            plan.images[image.get("id")] = ImageTarget(
                unit.data_hash, int(frame), *unit.frame_size(int(frame))
            )
            plan.known_images[image.get("id")] = -1
    if not isinstance(match, str):
        for image_id, target in load_mapping(match, "image").items():
            mapped, frame = mapped_target(by_hash, target)
            if mapped is not None:
                key = int(image_id) if isinstance(image_id, str) and image_id.isdigit() else image_id
                plan.images[key] = ImageTarget(mapped.data_hash, frame, *mapped.frame_size(frame))
                plan.known_images[key] = -1


def _unit_to_create(typed: schema.Image, file_name: Any, other: OtherSubset | None) -> tuple[str, str]:
    """The data unit an unmatched image would create: (kind, title), the title empty when it has none;
    an image whose name a unit of another subset has is titled as ``other`` says."""
    video, group = typed.video_title, typed.data_title
    if isinstance(video, str):
        return "video", video
    if isinstance(group, str):
        return "group", group
    return "image", other[1] if other is not None else file_name or ""


def _frame_creatable(report: ImportReport, path: str, typed: schema.Image) -> bool:
    """Whether a video an import creates may hold this image's frame (the video is as long as its
    highest frame, so a frame of 10^9 would make a billion-frame video)."""
    fields = typed.fields()
    frame = frame_number(fields) or 0
    if 0 <= frame < MAX_VIDEO_FRAMES:
        return True
    report.error(
        "frame_range",
        f"{path}.frame" if "frame" in fields else f"{path}.file_name",
        f"frame {frame:,} is beyond the {plural(MAX_VIDEO_FRAMES, 'frame')} a video an import creates may have.",
    )
    return False


def _frame_fits(
    plan: Plan, report: ImportReport, path: str, i: int, image_id: Any, unit: DataUnit, frame: int
) -> bool:
    if 0 <= frame < unit.frames:
        return True
    report.error(
        "frame_range",
        path,
        f"frame {frame} is beyond {unit.data_type.value} {unit.title!r}, which has {plural(unit.frames, 'frame')}.",
    )
    plan.unmatched[image_id] = i
    return False


def _check_size(
    report: ImportReport, path: str, unit: DataUnit, size: tuple[int, int], given: tuple[int, int] | None
) -> None:
    """Warn when the image's size is not its data unit's, or when it gives none."""
    uw, uh = size
    if given is not None and given != size:
        report.warning(
            "size_mismatch",
            path,
            f"the image is {given[0]}x{given[1]} but data unit {unit.title!r} is {uw}x{uh}; checked against the COCO size.",
        )
    elif given is None:
        report.warning(
            "image_size_missing",
            path,
            f"the image gives no width or height; the size of data unit {unit.title!r} ({uw}x{uh}) is used.",
        )


def _register(plan: Plan, report: ImportReport, i: int, typed: schema.Image) -> bool:
    """Count image ``i`` in, by its id; False (an error) when the id is no good or used before.

    The id written the other way (``"2299"`` for ``2299``) is the same id: only strings need
    that look-up until the first string id is seen.
    """
    image_id, path = typed.id, f"images[{i}]"
    if not id_fits(image_id):
        kind = "a number of at most 64 bits" if type(image_id) is int else "a whole number or a string"
        shown = None if image_id is schema.MISSING else image_id
        report.error("image_id", f"{path}.id", f"an image id must be {kind}, not {short(shown)}.")
        return False
    first = plan.known_images.get(image_id)
    if first is None and (plan.string_ids or type(image_id) is str):
        plan.string_ids = True
        first = plan.known_images.get(other_form(image_id))
    if first is not None:
        report.error(
            "image_duplicate",
            f"{path}.id",
            f"image id {image_id!r} is used again (first at images[{first}]).",
        )
        return False
    plan.known_images[image_id] = i
    report.counts.images += 1
    plan.image_names[image_id] = None if typed.file_name is schema.MISSING else typed.file_name
    return True


def _typed_images(raws: list[msgspec.Raw]) -> list[schema.Image | None]:
    try:
        return list(schema.images_decoder.decode(join_raw(raws)))
    except schema.RECORD_ERRORS:
        out: list[schema.Image | None] = []
        for raw in raws:
            try:
                out.append(msgspec.json.decode(raw, type=schema.Image))
            except schema.RECORD_ERRORS:
                out.append(None)
        return out


def _lands(plan: Plan, i: int, image_id: Any, unit: DataUnit, frame: int) -> bool:
    """Record that image ``i`` lands on this data unit's frame; False when another image did (it
    is then not imported: :func:`image_problems` says why, as for an image that matched nothing)."""
    first = plan.landed.setdefault((unit.data_hash, frame), i)
    if first == i:
        return True
    at = f" frame {frame}" if unit.frames > 1 else ""
    plan.shared[image_id] = f"lands on data unit {unit.title!r}{at}, as images[{first}] does"
    plan.unmatched[image_id] = i
    return False


def _matched(
    plan: Plan,
    report: ImportReport,
    image_id: Any,
    file_name: Any,
    raw: msgspec.Raw,
    unit: DataUnit,
    frame: int,
    method: str,
    size: tuple[int, int],
) -> None:
    plan.images[image_id] = ImageTarget(unit.data_hash, frame, size[0], size[1])
    report.counts.images_matched += 1
    report.image_matches[method] = report.image_matches.get(method, 0) + 1
    if len(report.matched_examples) < EXAMPLES:
        report.matched_examples.append(ImageMatch(image_id, str(file_name), method, unit.data_hash, frame))
    kept = unit.extra.setdefault("coco_images", {})
    if str(frame) not in kept:
        kept[str(frame)] = raw  # the record as the file wrote it
        if method != "created":
            plan.unit_extras[unit.data_hash] = unit.extra


Member_ = tuple[int, dict[str, Any], msgspec.Raw]


def _create_unit(
    plan: Plan,
    report: ImportReport,
    kind: str,
    title: str,
    typed: list[tuple[int, schema.Image, msgspec.Raw]],
    hashes: Iterator[str],
) -> None:
    if kind == "image":
        # the same file name twice: one unit each, the second on told apart by image id
        for n, (_i, image, raw) in enumerate(typed):
            unit = DataUnit(
                title if n == 0 else f"{title}#{image.id}",
                DataType.IMAGE,
                image.width,
                image.height,
                location=title,
                data_hash=next(hashes),
            )
            plan.new_units.append(unit)
            report.counts.data_units_created += 1
            name = None if image.file_name is schema.MISSING else image.file_name
            _matched(plan, report, image.id, name, raw, unit, 0, "created", (unit.width, unit.height))
        return
    members = [(i, image.fields(), raw) for i, image, raw in typed]
    first = members[0][1]
    units: list[tuple[DataUnit, int, Member_]]
    if kind == "video":
        frames = [frame_number(m[1]) or 0 for m in members]
        unit = DataUnit.video(title, width=first["width"], height=first["height"], frames=max(frames) + 1)
        unit.data_hash = next(hashes)
        units = [(unit, f, m) for f, m in zip(frames, members, strict=True)]
    else:
        ordered = sorted(members, key=lambda m: frame_number(m[1]) or 0)
        unit = DataUnit.group(
            title,
            [
                Member(
                    str(m[1].get("image_title") or m[1].get("file_name") or m[0]),
                    m[1]["width"],
                    m[1]["height"],
                )
                for m in ordered
            ],
            DataType(str(first.get("data_type")))
            if first.get("data_type") in ("img_group", "img_sequence", "dicom")
            else DataType.IMG_GROUP,
        )
        unit.data_hash = next(hashes)
        units = [(unit, n, m) for n, m in enumerate(ordered)]
    seen: set[str] = set()
    for unit, frame, (i, member, raw) in units:
        if unit.data_hash not in seen:
            seen.add(unit.data_hash)
            plan.new_units.append(unit)
            report.counts.data_units_created += 1
        if not _lands(plan, i, member["id"], unit, frame):
            continue  # (two images of one new video at the same frame)
        size = (member["width"], member["height"])
        _matched(plan, report, member["id"], member.get("file_name"), raw, unit, frame, "created", size)


def image_problems(parsed: ParsedCoco, plan: Plan, report: ImportReport) -> None:
    """One problem per image that matched no data unit: an error when annotations needed it."""
    # An image already reported at its own path (frame out of range, no size) is not reported twice.
    reported = {p.path.split(".", 1)[0] for p in report.errors}
    for image_id, i in plan.unmatched.items():
        if f"images[{i}]" in reported:
            continue
        count = plan.unmatched_counts.get(image_id, 0)
        name = plan.image_names.get(image_id)
        if image_id in plan.shared:
            # an export could give back only one of the two: the second is not imported
            fix = "give each image its own data unit, or map them with --match"
            (report.error if count else report.warning)(
                "image_shared_unit",
                f"images[{i}]",
                f"image {image_id!r} ({name!r}) {plan.shared[image_id]}; "
                + (
                    f"its {plural(count, 'annotation')} were not imported ({fix})."
                    if count
                    else f"it has no annotations ({fix})."
                ),
            )
            continue
        ambiguous = any(m.image_id == image_id for m in report.ambiguous_images)
        why = "matches more than one data unit" if ambiguous else "matches no data unit"
        fix = (
            "--match MAP.json chooses one (match= in Python)"
            if ambiguous
            else "--create-missing makes a data unit for it (create_missing_data_units=True in Python)"
        )
        if count:
            were = "annotation was" if count == 1 else "annotations were"
            report.error(
                "image_ambiguous" if ambiguous else "image_unmatched",
                f"images[{i}]",
                f"image {image_id} ({name!r}) {why}; its {count:,} {were} not imported; {fix}.",
            )
        else:
            report.warning(
                "image_ambiguous" if ambiguous else "image_unmatched",
                f"images[{i}]",
                f"image {image_id} ({name!r}) {why}; it has no annotations.",
            )
        if not ambiguous and len(report.unmatched_images) < 1000:
            report.unmatched_images.append(ImageMatch(image_id, str(name), "unmatched"))
