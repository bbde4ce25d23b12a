"""The Python API: :class:`UserClient` and :class:`Project`, in the platform SDK's vocabulary.

A script written for the brief's SDK ports by changing its import lines::

    from labelport import UserClient as EncordUserClient, FrameIndex
    user_client = EncordUserClient.create_with_ssh_private_key(ssh_private_key_path="~/.ssh/id_ed25519")
    project = user_client.get_project(project_hash)
    project.import_coco_labels(labels_dict, category_id_to_feature_hash, image_id_to_frame_index)

With no ``domain`` the client works on the embedded store (one SQLite file under ``LABELPORT_HOME``,
default ``~/.labelport``); with ``domain="http://host:port"`` it speaks to a labelport server.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labelport.data import DataType, DataUnit, Member, image_from_file
from labelport.errors import (
    DataError,
    KeyFileError,
    LabelError,
    LabelportError,
    NotFoundError,
)
from labelport.home import default_key, open_store
from labelport.keys import Identity
from labelport.labels import (
    MAIN_BRANCH,
    Bitmask,
    ClassificationInstance,
    LabelRow,
    ObjectFrame,
    ObjectInstance,
    Origin,
    coordinates_from_json,
)
from labelport.ontology import Classification, Object, OntologyStructure, Shape
from labelport.service import LocalService, Progress, Service, UnitPage, require_branch
from labelport.store.base import (
    BranchRecord,
    ClassificationRecord,
    Copied,
    LabelRowRecord,
    MemberRecord,
    ObjectRecord,
    OntologyRecord,
    ProjectRecord,
    Removed,
    UnitQuery,
    UserRecord,
    project_named,
)
from labelport.stored.codec import dumps, loads
from labelport.stored.decode import stored_coordinates

if TYPE_CHECKING:
    from labelport.evaluation.result import Evaluation


@dataclass(frozen=True)
class FrameIndex:
    """Where a COCO image's labels go: a data unit and a frame in it."""

    data_hash: str
    frame: int = 0


class UserClient:
    """The entry point: who you are (an SSH key) and where your labels live."""

    def __init__(self, service: Service, identity: Identity | None = None) -> None:
        self.service = service
        self.identity = identity

    @classmethod
    def create_with_ssh_private_key(
        cls,
        ssh_private_key_path: str | Path | None = None,
        ssh_private_key: str | None = None,
        password: str | None = None,
        domain: str | None = None,
        *,
        home: str | Path | None = None,
    ) -> UserClient:
        """Authenticate with an SSH private key (Ed25519, RSA or ECDSA; OpenSSH or PEM).

        No ``domain``: the embedded store under ``home`` (or ``LABELPORT_HOME``). A ``domain``: a
        labelport server, every request signed with the key. No key given: the one ``labelport
        init`` chose (:func:`default_key`).
        """
        path = None if ssh_private_key_path is None else Path(ssh_private_key_path).expanduser()
        if path is None and ssh_private_key is None:
            path = default_key(home)
            if path is None:
                raise KeyFileError("no SSH key found; give ssh_private_key_path=, or run `labelport init`.")
        identity = Identity.load(path, text=ssh_private_key, password=password)
        if domain is not None:
            from labelport.server.remote import RemoteService

            return cls(RemoteService(domain, identity), identity)
        name = os.environ.get("USER") or identity.fingerprint[7:15]
        service = LocalService.embedded(
            open_store(home), name=name, fingerprint=identity.fingerprint, public_key=identity.public_text
        )
        return cls(service, identity)

    def create_ontology(self, title: str, structure: OntologyStructure | dict[str, Any] | Any) -> str:
        """Store an ontology; returns its hash."""
        if not isinstance(structure, OntologyStructure):
            structure = OntologyStructure.from_dict(structure)
        return self.service.create_ontology(title, structure)

    def get_ontology(self, ontology_hash: str) -> OntologyStructure:
        return self.service.get_ontology(ontology_hash).structure

    def get_ontology_record(self, ontology_hash: str) -> OntologyRecord:
        """The stored ontology: its hash, title and structure."""
        return self.service.get_ontology(ontology_hash)

    def close(self) -> None:
        """Close the store (embedded) or the HTTP connections (a server). ``with UserClient...`` closes too."""
        self.service.close()

    def __enter__(self) -> UserClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def create_project(
        self,
        title: str,
        *,
        description: str = "",
        ontology_hash: str | None = None,
        ontology: OntologyStructure | None = None,
        from_coco: Any = None,
    ) -> Project:
        """Create a project over an existing ontology, a new one, or one built from a COCO file's categories."""
        if from_coco is not None:
            from labelport.formats.coco.ontology import ontology_from_coco

            ontology = ontology_from_coco(from_coco)
        project_hash = self.service.create_project(
            title, description=description, ontology_hash=ontology_hash, structure=ontology
        )
        return self.get_project(project_hash)

    def get_project(self, title_or_hash: str) -> Project:
        """A project you can see, by its hash or its title (see :meth:`project_hash`)."""
        try:
            record, structure = self.service.get_project(title_or_hash)
        except NotFoundError:
            record, structure = self.service.get_project(self.project_hash(title_or_hash))
        return Project(self.service, record, structure)

    def project_hash(self, title_or_hash: str) -> str:
        """The hash of the project you can see whose hash or title this is: a hash first, then a
        title; a title that several of your projects have raises :class:`AmbiguousTitle` naming
        their hashes, one that none has :class:`NotFoundError`."""
        return project_named(self.service.list_projects(), title_or_hash)

    def list_projects(self) -> list[ProjectRecord]:
        return self.service.list_projects()

    def delete_project(self, title_or_hash: str) -> Removed:
        """Delete a project (by hash or title) and everything in it, in one transaction (its admins);
        says what went."""
        return self.service.delete_project(self.get_project(title_or_hash).project_hash)

    def list_users(self) -> list[UserRecord]:
        """Every user of the server, for its administrators (the embedded store: you)."""
        return self.service.list_users()


def write_file(out: Path, data: bytes) -> Path:
    """Write ``data`` to ``out`` atomically (gzip-compressed for a ``.gz`` name)."""
    if out.name.endswith(".gz"):
        import gzip

        data = gzip.compress(data, compresslevel=6)
    tmp = out.with_name(out.name + ".tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise LabelportError(f"{out} cannot be written ({exc.strerror or exc}).") from None
    return out


def stored_mask(frame: ObjectFrame, width: int, height: int) -> Bitmask | None:
    """The mask an imported annotation stored as RLE, when its object's shape reads it as something
    else (a crowd region of a polygon class is read as outline polygons, which lose holes and take a
    flood fill to trace): what a viewer draws, as the pixels say. None for every other frame.

    >>> from labelport.labels import Origin, Point
    >>> rle = b'{"segmentation": {"size": [2, 2], "counts": [1, 3]}, "bbox": [0, 0, 2, 2]}'
    >>> stored_mask(ObjectFrame(0, Point(0, 0), origin=Origin("coco", 1, rle)), 2, 2)
    Bitmask(size_hw=(2, 2), counts=(1, 3))
    """
    origin = frame.origin
    if origin is None or origin.geometry_edited or b'"counts"' not in origin.record:
        return None
    try:
        found = stored_coordinates(Shape.BITMASK, None, origin.record, width, height)
    except LabelportError:
        return None
    return found if isinstance(found, Bitmask) else None


#: Label rows a first use of one row's objects reads along with it (the next ones of its listing).
READ_AHEAD = 256


class _ReadAhead:
    """The loader of one listing's rows: reads the row asked for and the next unread ones after it."""

    def __init__(self, project: Project, rows: list[LabelRow]) -> None:
        self.project = project
        self.rows = rows
        self.index: dict[int, int] | None = None

    def __call__(self, row: LabelRow) -> None:
        if self.index is None:
            self.index = {id(r): n for n, r in enumerate(self.rows)}
        start = self.index.get(id(row))
        if start is None:  # not of this listing (cannot happen through the API): read it alone
            self.project.initialise_labels([row])
            return
        self.project.initialise_labels(self.rows[start : start + READ_AHEAD])


class Project:
    """A project: an ontology, its data units, and one label row per data unit and branch."""

    def __init__(self, service: Service, record: ProjectRecord, structure: OntologyStructure) -> None:
        self.service = service
        self.record = record
        self.ontology_structure = structure

    def __repr__(self) -> str:
        return f"Project({self.title!r}, project_hash={self.project_hash!r})"

    @property
    def project_hash(self) -> str:
        return self.record.project_hash

    @property
    def title(self) -> str:
        return self.record.title

    @property
    def ontology_hash(self) -> str:
        return self.record.ontology_hash

    @property
    def description(self) -> str:
        return self.record.description

    def update(self, *, title: str | None = None, description: str | None = None) -> ProjectRecord:
        """Rename the project or change its description (its admins).

        Called as ``project.update(title="street scenes", description="Berlin, spring 2026")``.
        """
        self.record = self.service.update_project(self.project_hash, title=title, description=description)
        return self.record

    def delete(self) -> Removed:
        """Delete the project with its data units, labels, imports and memberships (its admins)."""
        return self.service.delete_project(self.project_hash)

    # -- members ---------------------------------------------------------------------------------

    def members(self) -> list[MemberRecord]:
        """Who is in the project: name, key fingerprint and role of each member."""
        return self.service.list_members(self.project_hash)

    def add_member(self, fingerprint: str, role: str) -> None:
        """Give the user with this key fingerprint a role (admin, annotator or viewer), or change it."""
        self.service.add_member(self.project_hash, fingerprint, role)

    def remove_member(self, fingerprint: str) -> MemberRecord:
        """Take a user out of the project; returns what their membership was."""
        return self.service.remove_member(self.project_hash, fingerprint)

    def refresh(self) -> None:
        """Re-read the project and its ontology (an import may have added to it)."""
        self.record, self.ontology_structure = self.service.get_project(self.project_hash)

    # -- data ------------------------------------------------------------------------------------

    def add_data_units(self, units: Sequence[DataUnit]) -> list[DataUnit]:
        """Add data units built in code."""
        titles = [u.title for u in units]
        if len(set(titles)) != len(titles):
            raise DataError("two data units in one call have the same title.")
        self.service.add_data_units(self.project_hash, units)
        return list(units)

    def add_images(self, paths: str | Path | Iterable[str | Path]) -> list[DataUnit]:
        """Add image files (one path, or several); sizes come from each file's header. One bad file
        adds nothing."""
        given = [paths] if isinstance(paths, (str, Path)) else list(paths)
        return self.add_data_units([image_from_file(Path(p)) for p in given])

    def add_data(self, items: Iterable[tuple[Any, ...]]) -> list[DataUnit]:
        """Add data units from ``(title, width, height[, frames])``: images, or videos when frames > 1."""
        units = []
        for item in items:
            if len(item) not in (3, 4):
                raise DataError(f"expected (title, width, height[, frames]), got {item!r}.")
            title, width, height, *rest = item
            frames = int(rest[0]) if rest else 1
            if frames > 1:
                units.append(DataUnit.video(str(title), width=int(width), height=int(height), frames=frames))
            else:
                units.append(DataUnit.image(str(title), width=int(width), height=int(height)))
        return self.add_data_units(units)

    def add_image_group(
        self, title: str, paths: Sequence[str | Path], *, data_type: str = "img_group"
    ) -> DataUnit:
        """Add an image group, image sequence or DICOM series from files, in frame order."""
        members = [
            Member(u.title, u.width, u.height, u.location) for u in (image_from_file(Path(p)) for p in paths)
        ]
        unit = DataUnit.group(title, members, DataType(data_type))
        return self.add_data_units([unit])[0]

    def list_data_units(self) -> list[DataUnit]:
        return self.service.list_data_units(self.project_hash)

    def delete_data_units(self, data_hashes: Sequence[str]) -> Removed:
        """Delete data units and their labels on every branch, in one transaction (the project's admins)."""
        return self.service.delete_data_units(self.project_hash, list(data_hashes))

    def get_data_units(self, data_hashes: Sequence[str]) -> list[DataUnit]:
        """These data units, in the order given; hashes of other projects are left out."""
        return self.service.get_data_units(self.project_hash, data_hashes)

    def find_data_units(
        self, query: UnitQuery | None = None, *, limit: int = 48, offset: int = 0
    ) -> UnitPage:
        """One page of the data units matching ``query`` (all of them by default), and how many match.

        ``UnitQuery(classes=(feature_hash,), branch="model-v2", min_confidence=0.5, title="street")``
        narrows by class (any of), confidence, an attribute answer, a part of the title, data type.
        """
        return self.service.find_data_units(self.project_hash, query or UnitQuery(), limit, offset)

    def class_counts(self, query: UnitQuery | None = None) -> dict[str, int]:
        """Objects per class (feature hash) over the units matching ``query`` without its class filter."""
        return self.service.class_counts(self.project_hash, query or UnitQuery())

    def label_rows_of(self, units: Sequence[DataUnit], branch_name: str | None = None) -> list[LabelRow]:
        """The label rows of these data units on a branch (default ``main``), in their order; a unit
        without labels there gets an empty row. Reads only these units (a page of the viewer's grid)."""
        rows = self.list_label_rows_v2(data_hashes=[u.data_hash for u in units], branch_name=branch_name)
        self.initialise_labels(rows)
        by_hash = {r.data_hash: r for r in rows}
        return [by_hash[u.data_hash] for u in units if u.data_hash in by_hash]

    # -- labels ----------------------------------------------------------------------------------

    def list_label_rows_v2(
        self,
        data_hashes: Sequence[str] | None = None,
        data_title_eq: str | None = None,
        data_title_like: str | None = None,
        branch_name: str | None = None,
    ) -> list[LabelRow]:
        """The label rows of the project, one per data unit, on ``branch_name`` (default ``main``).

        Rows come as light handles (title, type, size, frames, label hash, object count); their
        objects are read by :meth:`initialise_labels` or on first use of ``object_instances``, which
        reads that row and the next :data:`READ_AHEAD` of the same listing in one go. A keyword it
        does not take is a ``TypeError`` naming it (a typo filters nothing silently).
        """
        branch = branch_name or MAIN_BRANCH
        infos = self.service.list_label_rows(
            self.project_hash, branch, None if data_hashes is None else list(data_hashes)
        )
        if data_title_eq is not None:
            infos = [i for i in infos if i.data_title == data_title_eq]
        if data_title_like is not None:
            needle = data_title_like.strip("%").casefold()
            infos = [i for i in infos if needle in i.data_title.casefold()]
        rows: list[LabelRow] = []
        rows.extend(
            map(partial(LabelRow.from_info, saver=self._save_row, loader=_ReadAhead(self, rows)), infos)
        )
        return rows

    def initialise_labels(self, rows: Iterable[LabelRow], *args: Any, **kwargs: Any) -> None:
        """Read the objects and classifications of many label rows at once (those not read yet).

        ``project.initialise_labels(project.list_label_rows_v2())`` reads a whole project in one
        query per table; the brief's per-row ``row.initialise_labels()`` works too.
        """
        pending: dict[str, list[LabelRow]] = {}
        for row in rows:
            if not row.is_labelling_initialised:
                pending.setdefault(row.branch_name, []).append(row)
        if not pending:
            return
        objects = self.ontology_structure.object_by_hash()
        groups = any(DataType(r.data_type).has_members for b in pending.values() for r in b)
        units = {u.data_hash: u for u in self.list_data_units()} if groups else {}
        for branch, batch in pending.items():
            records = self.service.load_label_rows(self.project_hash, branch, [r.data_hash for r in batch])
            by_hash = {r.data_hash: r for r in records}
            for row in batch:
                record = by_hash.get(row.data_hash)
                if record is None:
                    row.set_labels([], [])
                    continue
                row.label_hash = record.label_hash or row.label_hash
                self._fill(row, record, objects, units.get(row.data_hash))

    def _fill(
        self, row: LabelRow, record: LabelRowRecord, objects: dict[str, Object], unit: DataUnit | None
    ) -> None:
        """Give ``row`` the objects and classifications of its stored record."""
        instances: dict[str, ObjectInstance] = {}
        for o in record.objects:
            ontology_object = objects.get(o.feature_hash)
            if ontology_object is None:
                raise LabelError(
                    f"object {o.object_hash} refers to feature {o.feature_hash}, not in the ontology."
                )
            instance = instances.get(o.object_hash)
            if instance is None:
                instance = instances[o.object_hash] = ObjectInstance(
                    ontology_object, object_hash=o.object_hash
                )
                instance.answers = loads(o.answers) if o.answers else {}
            origin = (
                None
                if o.source is None or o.record is None
                else Origin(o.source, o.source_key or 0, o.record, o.edited)
            )
            if o.geometry is not None:
                coordinates = coordinates_from_json(ontology_object.shape, loads(o.geometry))
                frame = ObjectFrame(
                    o.frame, coordinates, o.confidence, o.manual, o.created_by, o.created_at, origin
                )
            else:
                # Read from the source record only when somebody looks: converting (a crowd mask to
                # polygon outlines, say) can cost far more than listing the row.
                assert o.record is not None
                in_unit = unit is not None and o.frame < unit.frames
                size = unit.frame_size(o.frame) if unit is not None and in_unit else (row.width, row.height)
                load = partial(stored_coordinates, ontology_object.shape, None, o.record, *size)
                frame = ObjectFrame(
                    o.frame, None, o.confidence, o.manual, o.created_by, o.created_at, origin, load=load
                )
            instance.frames[o.frame] = frame
        classifications = []
        for c in record.classifications:
            node = self.ontology_structure.get_child_by_hash(c.feature_hash, Classification)
            ci = ClassificationInstance(node, classification_hash=c.classification_hash)
            ci.frames = set(loads(c.frames))
            ci.answer = loads(c.answer) if c.answer else None
            ci.created_by, ci.created_at = c.created_by, c.created_at
            classifications.append(ci)
        row.set_labels(list(instances.values()), classifications)

    def _save_row(self, row: LabelRow) -> None:
        objects: list[ObjectRecord] = []
        hashes = {o.feature_node_hash for o in self.ontology_structure.objects}
        for instance in row.object_instances:
            if instance.feature_hash not in hashes:
                raise LabelError(
                    f"object {instance.ontology_item.title!r} is not in this project's ontology."
                )
            answers = dumps(instance.answers) if instance.answers else None
            for f in instance.get_annotations():
                if f.frame >= row.number_of_frames:
                    raise LabelError(
                        f"frame {f.frame} is beyond {row.data_title!r}, which has {row.number_of_frames}."
                    )
                origin = f.origin
                keep_record = origin is not None and not origin.geometry_edited
                objects.append(
                    ObjectRecord(
                        row.data_hash,
                        f.frame,
                        instance.object_hash,
                        instance.feature_hash,
                        None if keep_record else dumps(f.coordinates.to_json()),
                        f.confidence,
                        f.manual_annotation,
                        f.created_by,
                        f.created_at,
                        answers,
                        None if origin is None else origin.source,
                        None if origin is None else origin.key,
                        None if origin is None else origin.record,
                        bool(origin and origin.geometry_edited),
                    )
                )
        classifications = [
            ClassificationRecord(
                row.data_hash,
                c.classification_hash,
                c.feature_hash,
                dumps(sorted(c.frames)),
                None if c.answer is None else dumps(c.answer),
                c.created_by,
                c.created_at,
            )
            for c in row.classification_instances
        ]
        row.label_hash = self.service.save_label_row(
            self.project_hash, row.branch_name, row.data_hash, objects, classifications
        )

    def list_branches(self) -> list[str]:
        return self.service.list_branches(self.project_hash)

    def require_branch(self, branch_name: str | None) -> None:
        """:class:`NotFoundError` naming the project's branches when ``branch_name`` is not one of them
        (``main``, and None for it, always are). Saving a label row on a new branch makes the branch."""
        if branch_name is not None:
            require_branch(branch_name, [] if branch_name == MAIN_BRANCH else self.list_branches())

    def branches(self) -> list[BranchRecord]:
        """Each branch with its label rows, how many hold objects, its objects and its last change."""
        return self.service.branch_summaries(self.project_hash)

    def copy_branch(self, source: str, target: str, *, replace: bool = False) -> Copied:
        """Copy one branch's labels onto another, e.g. reviewed predictions into ``main``.

        A copied object replaces the target's object with the same hash or from the same source
        annotation, so copying twice gives what copying once gave; ``replace=True`` first clears the
        target's labels of every data unit the source labels.

        Called as ``project.copy_branch("model-v2", "main")``.
        """
        return self.service.copy_branch(self.project_hash, source, target, replace=replace)

    def delete_branch(self, branch_name: str) -> Removed:
        """Delete a branch and its labels (the project's admins; ``main`` cannot be deleted)."""
        return self.service.delete_branch(self.project_hash, branch_name)

    def delete_labels(self, data_hash: str, branch_name: str | None = None) -> Removed:
        """Delete one label row's objects and classifications (annotators too)."""
        return self.service.delete_labels(self.project_hash, branch_name or MAIN_BRANCH, data_hash)

    def stats(self, branch_name: str | None = None) -> dict[str, Any]:
        """Objects per class and shape, units with and without objects, per-class area and box sizes."""
        return self.service.project_stats(self.project_hash, branch_name or MAIN_BRANCH)

    # -- COCO ------------------------------------------------------------------------------------

    def import_coco_labels(
        self,
        labels_dict: dict[str, Any] | list[Any],
        category_id_to_feature_hash: dict[Any, str],
        image_id_to_frame_index: dict[Any, FrameIndex],
        branch_name: str | None = None,
        confidence_field_name: str | None = None,
    ) -> Any:
        """The brief's call: import with the caller's own maps. Returns the import report."""
        report = self.import_coco(
            labels_dict,
            match={k: (v.data_hash, v.frame) for k, v in image_id_to_frame_index.items()},
            categories=dict(category_id_to_feature_hash),
            branch_name=branch_name,
            confidence_field=confidence_field_name,
        )
        return report

    def import_coco(
        self,
        source: Any,
        *,
        match: str | dict[Any, tuple[str, int]] = "auto",
        categories: str | dict[Any, str] = "by-name",
        on_error: str = "fail",
        dry_run: bool = False,
        branch_name: str | None = None,
        confidence_field: str | None = None,
        create_missing_data_units: bool = False,
        replace: bool = False,
        source_name: str | None = None,
        progress: Progress | None = None,
    ) -> Any:
        """Import a COCO file, results list, dict or bytes. See README "Importing COCO"."""
        return self.import_labels(
            source,
            "coco",
            match=match,
            categories=categories,
            on_error=on_error,
            dry_run=dry_run,
            branch_name=branch_name,
            confidence_field=confidence_field,
            create_missing_data_units=create_missing_data_units,
            replace=replace,
            source_name=source_name,
            progress=progress,
        )

    def export_coco_labels(
        self,
        label_hashes: Sequence[str] | None = None,
        include_object_feature_hashes: Sequence[str] | None = None,
        branch_name: str | None = None,
        *,
        rle: str | None = None,
        results: bool = False,
    ) -> Any:
        """The project's labels as a COCO dict (a list with ``results=True``)."""
        return loads(
            self.export_coco_bytes(
                label_hashes=label_hashes,
                include_object_feature_hashes=include_object_feature_hashes,
                branch_name=branch_name,
                rle=rle,
                results=results,
            )
        )

    def evaluate(
        self,
        pred_branch: str,
        *,
        gt_branch: str = MAIN_BRANCH,
        iou_type: str = "bbox",
        categories: Sequence[str] | None = None,
        max_dets: Sequence[int] = (1, 10, 100),
        iou_thresholds: Sequence[float] | None = None,
        area_ranges: dict[str, Sequence[float]] | Sequence[Sequence[float]] | None = None,
        use_categories: bool = True,
        keypoint_sigmas: Sequence[float] | None = None,
    ) -> Evaluation:
        """Evaluate a prediction branch against ground truth, as pycocotools' ``COCOeval`` would.

        ``iou_type`` is ``bbox``, ``segm`` or ``keypoints`` (``max_dets`` is then COCO's 20 unless
        given otherwise). The answer is stored: asked again while both branches are unchanged, it
        comes back at once. See README "Evaluating predictions".
        """
        from labelport.evaluation.result import Evaluation

        options: dict[str, Any] = {
            "gt_branch": gt_branch,
            "iou_type": iou_type,
            "use_categories": use_categories,
        }
        if iou_type != "keypoints" or tuple(max_dets) != (1, 10, 100):
            options["max_dets"] = list(max_dets)
        for name, value in (
            ("categories", categories),
            ("iou_thresholds", iou_thresholds),
            ("area_ranges", area_ranges),
            ("keypoint_sigmas", keypoint_sigmas),
        ):
            if value is not None:
                options[name] = (
                    dict(value)
                    if isinstance(value, dict)
                    else [list(v) if isinstance(v, (list, tuple)) else v for v in value]
                )
        summary = self.service.evaluate(self.project_hash, pred_branch, options)
        evaluation_id = int(summary["evaluation_id"])
        return Evaluation(summary, lambda: self.service.evaluation_matches(self.project_hash, evaluation_id))

    def stored_evaluation(
        self, pred_branch: str, *, gt_branch: str = MAIN_BRANCH, iou_type: str = "bbox"
    ) -> Evaluation | None:
        """The stored evaluation of ``pred_branch`` (COCO's default parameters) while both branches are
        unchanged since it was computed, else None; never computes one (the viewer reads it)."""
        from labelport.evaluation.result import Evaluation

        summary = self.service.stored_evaluation(self.project_hash, pred_branch, gt_branch, iou_type)
        if summary is None:
            return None
        evaluation_id = int(summary["evaluation_id"])
        return Evaluation(summary, lambda: self.service.evaluation_matches(self.project_hash, evaluation_id))

    def diff(self, a: str, b: str, *, iou: float = 0.5) -> dict[str, Any]:
        """Two label branches object by object: matched, with another class, only in a, only in b."""
        return self.service.diff_branches(self.project_hash, a, b, iou)

    def export_coco_bytes(self, progress: Progress | None = None, **options: Any) -> bytes:
        """The COCO file's bytes (the fast path: nothing is decoded into Python objects)."""
        return self.service.export_coco(self.project_hash, options, progress)

    def export_coco(self, path: str | Path, progress: Progress | None = None, **options: Any) -> Path:
        """Write the COCO file to ``path`` (``.json`` or ``.json.gz``) as it is read from the store.

        It is written next to ``path`` and renamed into place when complete.
        """
        out = Path(path).expanduser()
        tmp = out.with_name(out.name + ".tmp")
        try:
            with tmp.open("wb") as raw:
                if out.name.endswith(".gz"):
                    import gzip

                    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz:
                        self.service.write_coco(self.project_hash, options, gz, progress)  # type: ignore[arg-type]
                else:
                    self.service.write_coco(self.project_hash, options, raw, progress)
            tmp.replace(out)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise LabelportError(f"{out} cannot be written ({exc.strerror or exc}).") from None
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return out

    # -- every format ----------------------------------------------------------------------------

    def import_labels(
        self,
        source: Any,
        format: str = "coco",
        *,
        match: str | dict[Any, tuple[str, int]] = "auto",
        categories: str | dict[Any, str] = "by-name",
        on_error: str = "fail",
        dry_run: bool = False,
        branch_name: str | None = None,
        confidence_field: str | None = None,
        create_missing_data_units: bool = False,
        replace: bool = False,
        source_name: str | None = None,
        progress: Progress | None = None,
        **format_options: Any,
    ) -> Any:
        """Import labels in any format of :data:`labelport.formats.FORMATS`; returns the import report.

        The format's reader turns the source into a COCO-shaped dataset and the COCO import does the
        rest (matching, validation, report, idempotent re-import, one transaction). ``format_options``
        go to the reader (``task="obb"`` for YOLO, say)::

            report = project.import_labels("dataset/", format="yolo", create_missing_data_units=True)
        """
        options: dict[str, Any] = {
            "match": match,
            "categories": categories,
            "on_error": on_error,
            "dry_run": dry_run,
            "branch_name": branch_name,
            "confidence_field": confidence_field,
            "create_missing_data_units": create_missing_data_units,
            "replace": replace,
            "source_name": source_name,
            **format_options,
        }
        report = self.service.import_labels(self.project_hash, source, format, options, progress)
        if not dry_run:
            self.refresh()
        return report

    def export_labels(
        self,
        dest: str | Path,
        format: str = "coco",
        *,
        branch_name: str | None = None,
        progress: Progress | None = None,
        **format_options: Any,
    ) -> Any:
        """Write the labels of a branch in any format; returns an :class:`~labelport.formats.base.ExportReport`
        that counts, by kind, everything the format could not carry::

            report = project.export_labels("out/", format="yolo", classes=["cat", "dog"])
            report.classes, report.losses        # {"cat": 0, "dog": 1}, {"attributes": 3}
        """
        from labelport.formats import get_format
        from labelport.formats.base import ExportReport, coco_for_writer, unwritable

        writer = get_format(format)
        data = self.export_coco_bytes(
            progress, branch_name=branch_name, **(format_options if format == "coco" else {})
        )
        if format != "coco":
            out = Path(dest).expanduser()
            try:
                return writer.write(coco_for_writer(data), out, **format_options)
            except OSError as exc:  # the destination's folder is missing, read-only, a name too long...
                raise unwritable(out, exc) from None
        coco = loads(data)
        path = write_file(Path(dest).expanduser(), data)
        images, objects = (
            (len(coco), len(coco))
            if isinstance(coco, list)
            else (len(coco["images"]), len(coco["annotations"]))
        )
        return ExportReport(format="coco", path=str(path), images=images, objects=objects, files=1)
