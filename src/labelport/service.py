"""The library's one implementation of every operation, with the acting user's rights checked.

:class:`LocalService` runs over any :class:`~labelport.store.base.LabelStore`. The embedded client
uses it directly; the team server wraps it in HTTP; the remote client speaks to that server with the
same method names. Arguments and results are plain records, so every face renders the same thing.

>>> from labelport.store.sqlite import SqliteStore
>>> service = LocalService.embedded(SqliteStore(":memory:"), name="ada", fingerprint="SHA256:x")
>>> service.list_projects()
[]
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePath
from typing import Any, BinaryIO, Protocol

import msgspec

from labelport.data import DataUnit, file_inside, local_file
from labelport.errors import DataError, FieldError, LabelportError, NotFoundError, PermissionDenied
from labelport.formats.base import READER_ARGUMENTS, options_taken
from labelport.hashing import new_uuid
from labelport.labels import MAIN_BRANCH, coordinates_from_json, now_iso
from labelport.ontology import OntologyStructure
from labelport.progress import Progress as Progress
from labelport.store.base import (
    EVERY_PROJECT,
    ROLES,
    BranchRecord,
    ClassificationRecord,
    Copied,
    LabelRowInfo,
    LabelRowRecord,
    LabelStore,
    MemberRecord,
    ObjectRecord,
    OntologyRecord,
    ProjectRecord,
    Removed,
    UnitQuery,
    UserRecord,
)
from labelport.store.rows import check_texts
from labelport.stored.codec import loads

_TEXT = (str, type(None))
_HASHES = (list, tuple, type(None))
#: What the options of an import take (the keywords of formats.coco.importer.import_coco); a keyword
#: the importer has and this table does not name takes anything.
IMPORT_OPTIONS: dict[str, tuple[type, ...]] = {
    "match": (str, PurePath, dict),  # a text or path: a mapping file's (or "auto")
    "categories": (str, PurePath, dict),
    "on_error": (str,),
    "dry_run": (bool,),
    "branch_name": _TEXT,
    "confidence_field": _TEXT,
    "create_missing_data_units": (bool,),
    "replace": (bool,),
    "source_name": _TEXT,
    "subset": _TEXT,
}
#: What the options of an export take (the keywords of formats.coco.exporter.write_coco).
EXPORT_OPTIONS: dict[str, tuple[type, ...]] = {
    "label_hashes": _HASHES,
    "include_object_feature_hashes": _HASHES,
    "branch_name": _TEXT,
    "rle": _TEXT,
    "results": (bool,),
}
#: the arguments of import_coco and export_coco that are not options
_NOT_OPTIONS = {"store", "project_hash", "source", "out", "user", "progress", "places", "check_units"}


def options_of(
    function: Callable[..., Any], types: dict[str, tuple[type, ...]]
) -> dict[str, tuple[type, ...]]:
    """The keyword options ``function`` takes, each with the types it accepts (``types``, else any).

    >>> from labelport.formats.coco.exporter import write_coco
    >>> options_of(write_coco, EXPORT_OPTIONS)["results"]
    (<class 'bool'>,)
    """
    names = [n for n in inspect.signature(function).parameters if n not in _NOT_OPTIONS]
    return {n: types.get(n, (object,)) for n in names}


def check_options(options: dict[str, Any], known: dict[str, tuple[type, ...]]) -> None:
    """:class:`FieldError` (``options.<key>``) for an option that is not one, of the wrong type, or
    a text with a NUL character.

    >>> check_options({"dry_run": True}, IMPORT_OPTIONS)
    >>> check_options({"colour": 1}, {"dry_run": (bool,), "replace": (bool,)})
    Traceback (most recent call last):
    labelport.errors.FieldError: options.colour: is not an option here; the options are dry_run, replace.
    """
    for key, value in options.items():
        if key not in known:
            raise FieldError(f"options.{key}", f"is not an option here; the options are {', '.join(known)}")
        if not isinstance(value, known[key]):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in known[key])
            raise FieldError(f"options.{key}", f"must be {names}, not {type(value).__name__}")
        texts = value if isinstance(value, (list, tuple)) else [value]
        check_texts({f"options.{key}": t for t in texts if isinstance(t, str)})


#: The most units one page of :meth:`LocalService.find_data_units` holds.
MAX_PAGE = 500


@dataclass(frozen=True)
class UnitPage:
    """A page of data units: the units, how many match in all, and where the page starts."""

    units: list[DataUnit]
    total: int
    offset: int


#: What each role may do. Admins may also manage members.
_CAN = {
    "read": {"admin", "annotator", "viewer"},
    "write": {"admin", "annotator"},
    "admin": {"admin"},
}


def require_branch(branch: str, branches: Sequence[str]) -> None:
    """Raise :class:`NotFoundError` naming ``branches`` when ``branch`` is not among them (main always is).

    >>> require_branch("nosuch", ["main", "preds"])
    Traceback (most recent call last):
    labelport.errors.NotFoundError: No branch with name nosuch (the project's branches: main, preds).
    """
    if branch != MAIN_BRANCH and branch not in branches:
        known = ", ".join(branches) or "none yet"
        raise NotFoundError("branch", branch, key="name", hint=f"the project's branches: {known}")


#: what reading a malformed geometry raises besides LabelError (a list where a number belongs ...)
_MALFORMED = (
    LabelportError,
    msgspec.DecodeError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
)


def _json_of(data: bytes, field: str, kind: type | tuple[type, ...], what: str) -> Any:
    try:
        value = loads(data)
    except msgspec.DecodeError:
        raise FieldError(field, "is not JSON") from None
    if not isinstance(value, kind):
        raise FieldError(field, f"must be {what}")
    return value


def check_label_records(
    structure: OntologyStructure,
    objects: Sequence[ObjectRecord],
    classifications: Sequence[ClassificationRecord],
) -> None:
    """:class:`FieldError` (``objects[i].geometry`` ...) for a label row that could be stored but not
    read back or exported: an object of no ontology object, geometry that is not its shape's, a
    source record or answers that are not JSON objects, a classification of no classification.

    >>> from labelport.ontology import Shape
    >>> ontology = OntologyStructure()
    >>> cat = ontology.add_object("Cat", Shape.POINT).feature_node_hash
    >>> row = ObjectRecord("d", 0, "o", cat, b"[1]", 1.0, True, None, None, None, None, None, None, False)
    >>> check_label_records(ontology, [row], [])
    Traceback (most recent call last):
    labelport.errors.FieldError: objects[0].geometry: is not point coordinates (point coordinates need 2 numbers [x, y], not 1).
    """
    shapes = {h: o.shape for h, o in structure.object_by_hash().items()}
    kinds = {c.feature_node_hash for c in structure.classifications}
    for i, o in enumerate(objects):
        at = f"objects[{i}]"
        shape = shapes.get(o.feature_hash)
        if shape is None:
            raise FieldError(f"{at}.feature_hash", f"{o.feature_hash} is no object of the project's ontology")
        if o.geometry is not None:
            value = _json_of(o.geometry, f"{at}.geometry", (list, dict), "JSON coordinates")
            try:
                coordinates_from_json(shape, value)
            except _MALFORMED as exc:
                raise FieldError(
                    f"{at}.geometry", f"is not {shape.value} coordinates ({str(exc).rstrip('.')})"
                ) from None
        elif o.record is None:
            raise FieldError(f"{at}.geometry", "is needed when there is no source record")
        else:
            _json_of(o.record, f"{at}.record", dict, "a JSON object")
        if o.answers is not None:
            _json_of(o.answers, f"{at}.answers", dict, "a JSON object")
    for i, c in enumerate(classifications):
        at = f"classifications[{i}]"
        if c.feature_hash not in kinds:
            raise FieldError(
                f"{at}.feature_hash", f"{c.feature_hash} is no classification of the project's ontology"
            )
        frames = _json_of(c.frames, f"{at}.frames", list, "a JSON list of frame numbers")
        if not all(type(f) is int and f >= 0 for f in frames):
            raise FieldError(f"{at}.frames", "must be a JSON list of frame numbers")
        if c.answer is not None:
            _json_of(c.answer, f"{at}.answer", (str, list, dict, int, float, bool), "JSON")


class Service(Protocol):
    """The operations behind the client API; local and remote implementations share it."""

    user: UserRecord

    def close(self) -> None: ...
    def create_ontology(self, title: str, structure: OntologyStructure) -> str: ...
    def get_ontology(self, ontology_hash: str) -> OntologyRecord: ...
    def list_ontologies(self) -> list[OntologyRecord]: ...
    def create_project(
        self,
        title: str,
        *,
        description: str = "",
        ontology_hash: str | None = None,
        structure: OntologyStructure | None = None,
    ) -> str: ...
    def get_project(self, project_hash: str) -> tuple[ProjectRecord, OntologyStructure]: ...
    def list_projects(self) -> list[ProjectRecord]: ...
    def add_member(self, project_hash: str, fingerprint: str, role: str) -> None: ...
    def add_data_units(self, project_hash: str, units: Sequence[DataUnit]) -> None: ...
    def list_data_units(self, project_hash: str) -> list[DataUnit]: ...
    def get_data_units(self, project_hash: str, data_hashes: Sequence[str]) -> list[DataUnit]: ...
    def find_data_units(
        self, project_hash: str, query: UnitQuery, limit: int = 48, offset: int = 0
    ) -> UnitPage: ...
    def class_counts(self, project_hash: str, query: UnitQuery) -> dict[str, int]: ...
    def list_label_rows(
        self, project_hash: str, branch: str, data_hashes: Sequence[str] | None = None
    ) -> list[LabelRowInfo]: ...
    def load_label_rows(
        self, project_hash: str, branch: str, data_hashes: Sequence[str] | None = None
    ) -> list[LabelRowRecord]: ...
    def save_label_row(
        self,
        project_hash: str,
        branch: str,
        data_hash: str,
        objects: Sequence[ObjectRecord],
        classifications: Sequence[ClassificationRecord],
    ) -> str: ...
    def list_branches(self, project_hash: str) -> list[str]: ...
    def import_coco(
        self, project_hash: str, source: Any, options: dict[str, Any], progress: Progress | None = None
    ) -> Any: ...
    def export_coco(
        self, project_hash: str, options: dict[str, Any], progress: Progress | None = None
    ) -> bytes: ...
    def update_project(
        self, project_hash: str, *, title: str | None = None, description: str | None = None
    ) -> ProjectRecord: ...
    def delete_project(self, project_hash: str) -> Removed: ...
    def delete_data_units(self, project_hash: str, data_hashes: Sequence[str]) -> Removed: ...
    def delete_branch(self, project_hash: str, branch: str) -> Removed: ...
    def delete_labels(self, project_hash: str, branch: str, data_hash: str) -> Removed: ...
    def list_members(self, project_hash: str) -> list[MemberRecord]: ...
    def remove_member(self, project_hash: str, fingerprint: str) -> MemberRecord: ...
    def list_users(self) -> list[UserRecord]: ...
    def branch_summaries(self, project_hash: str) -> list[BranchRecord]: ...
    def copy_branch(
        self, project_hash: str, source: str, target: str, *, replace: bool = False
    ) -> Copied: ...
    def project_stats(self, project_hash: str, branch: str) -> dict[str, Any]: ...
    def import_labels(
        self,
        project_hash: str,
        source: Any,
        format: str,
        options: dict[str, Any],
        progress: Progress | None = None,
    ) -> Any: ...
    def evaluate(self, project_hash: str, pred_branch: str, options: dict[str, Any]) -> dict[str, Any]: ...
    def stored_evaluation(
        self, project_hash: str, pred_branch: str, gt_branch: str = "main", iou_type: str = "bbox"
    ) -> dict[str, Any] | None: ...
    def evaluation_matches(self, project_hash: str, evaluation_id: int) -> bytes: ...
    def diff_branches(self, project_hash: str, a: str, b: str, iou: float = 0.5) -> dict[str, Any]: ...
    def write_coco(
        self, project_hash: str, options: dict[str, Any], out: BinaryIO, progress: Progress | None = None
    ) -> None: ...


class LocalService:
    """Every operation, run against a store as one user."""

    def __init__(self, store: LabelStore, user: UserRecord, *, single_owner: bool = False) -> None:
        self.store = store
        self.user = user
        #: the embedded store: everyone holding a key is its administrator, so roles mean nothing
        self.single_owner = single_owner

    @classmethod
    def embedded(
        cls, store: LabelStore, *, name: str, fingerprint: str, public_key: str = ""
    ) -> LocalService:
        """The embedded store's owner: whoever holds a key is its administrator (one person, one file)."""
        return cls(store, store.upsert_user(name, fingerprint, public_key, is_admin=True), single_owner=True)

    def close(self) -> None:
        """Close the store."""
        self.store.close()

    @property
    def _title_owner(self) -> int:
        """Whose projects a title must differ from: the user's own (those they administer), or every
        project of the embedded store (one owner, whoever holds a key)."""
        return EVERY_PROJECT if self.single_owner else self.user.id

    # -- rights ----------------------------------------------------------------------------------

    def _check(self, project_hash: str, action: str, what: str | None = None) -> None:
        """NotFound when the user cannot see the project at all; PermissionDenied when the role is short.

        ``what`` names the operation in the refusal."""
        self.store.get_project(project_hash)
        if self.user.is_admin:
            return
        role = self.store.role(project_hash, self.user.id)
        if role is None:
            raise NotFoundError("project", project_hash)
        if role not in _CAN[action]:
            raise PermissionDenied(
                what or {"write": "changing labels or data", "admin": "managing members"}.get(action, action),
                project_hash,
            )

    # -- ontologies and projects -----------------------------------------------------------------

    def _check_ontology(self, ontology_hash: str) -> None:
        """NotFound unless the user may read the ontology: an administrator, its creator, or a
        member of a project that uses it. Whoever may read it may create a project on it."""
        if not self.user.is_admin and not self.store.ontology_visible(ontology_hash, self.user.id):
            raise NotFoundError("ontology", ontology_hash)

    def create_ontology(self, title: str, structure: OntologyStructure) -> str:
        OntologyStructure.from_dict(structure.to_dict())  # (as create_project)
        ontology_hash = new_uuid()
        self.store.create_ontology(ontology_hash, title, structure, created_by=self.user.id)
        return ontology_hash

    def get_ontology(self, ontology_hash: str) -> OntologyRecord:
        self._check_ontology(ontology_hash)
        return self.store.get_ontology(ontology_hash)

    def list_ontologies(self) -> list[OntologyRecord]:
        return self.store.list_ontologies(None if self.user.is_admin else self.user.id)

    def create_project(
        self,
        title: str,
        *,
        description: str = "",
        ontology_hash: str | None = None,
        structure: OntologyStructure | None = None,
    ) -> str:
        if not title.strip():
            raise LabelportError("a project needs a title.")
        if ontology_hash is not None and structure is not None:
            raise LabelportError("give an ontology hash or an ontology structure, not both.")
        if ontology_hash is not None:
            self._check_ontology(ontology_hash)
        project = ProjectRecord(
            project_hash=new_uuid(),
            title=title,
            description=description,
            ontology_hash=ontology_hash or new_uuid(),
            created_by=self.user.name,
            created_at=now_iso(),
        )
        if ontology_hash is None and structure is None:
            structure = OntologyStructure()
        if structure is not None:
            # checked before anything is stored: a project whose ontology does not read back could
            # never be opened again
            OntologyStructure.from_dict(structure.to_dict())
        self.store.create_project(project, structure, self.user.id, unique_title_of=self._title_owner)
        return project.project_hash

    def get_project(self, project_hash: str) -> tuple[ProjectRecord, OntologyStructure]:
        self._check(project_hash, "read")
        project = self.store.get_project(project_hash)
        return project, self.store.get_ontology(project.ontology_hash).structure

    def list_projects(self) -> list[ProjectRecord]:
        return self.store.list_projects(None if self.user.is_admin else self.user.id)

    def add_member(self, project_hash: str, fingerprint: str, role: str) -> None:
        self._check(project_hash, "admin")
        if self.single_owner:
            raise LabelportError(
                "The embedded store has a single owner (whoever holds a key administers every project), "
                "so a role would change nothing; to share a project, serve the store with `labelport "
                "serve` and add members there."
            )
        if role not in ROLES:
            raise LabelportError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}.")
        user = self._user(fingerprint)
        if role != "admin":
            self._keep_an_admin(project_hash, fingerprint)
        self.store.set_role(project_hash, user.id, role)

    def _user(self, fingerprint: str) -> UserRecord:
        user = self.store.user_by_fingerprint(fingerprint)
        if user is None:
            raise NotFoundError("user", fingerprint, key="key fingerprint")
        return user

    def _keep_an_admin(self, project_hash: str, fingerprint: str) -> None:
        """Refuse to take the admin role from a project's last admin."""
        admins = [m.fingerprint for m in self.store.list_members(project_hash) if m.role == "admin"]
        if admins == [fingerprint]:
            raise LabelportError(
                f"{fingerprint} is the last admin of project {project_hash}; make another member admin first."
            )

    def list_members(self, project_hash: str) -> list[MemberRecord]:
        """The project's members with their roles."""
        self._check(project_hash, "read")
        return self.store.list_members(project_hash)

    def remove_member(self, project_hash: str, fingerprint: str) -> MemberRecord:
        """Take a user out of a project; returns the membership that was removed."""
        self._check(project_hash, "admin")
        user = self._user(fingerprint)
        member = next(
            (m for m in self.store.list_members(project_hash) if m.fingerprint == fingerprint), None
        )
        if member is None:
            raise NotFoundError(
                "member", fingerprint, key="key fingerprint", hint=f"in project {project_hash}"
            )
        self._keep_an_admin(project_hash, fingerprint)
        self.store.remove_member(project_hash, user.id)
        return member

    def list_users(self) -> list[UserRecord]:
        """Every user of the server (for its administrators)."""
        if not self.user.is_admin:
            raise PermissionDenied("listing the server's users")
        return self.store.list_users()

    def update_project(
        self, project_hash: str, *, title: str | None = None, description: str | None = None
    ) -> ProjectRecord:
        """Rename a project or change its description (its admins)."""
        self._check(project_hash, "admin", "renaming the project")
        if title is not None and not title.strip():
            raise LabelportError("a project needs a title.")
        return self.store.update_project(
            project_hash, title=title, description=description, unique_title_of=self._title_owner
        )

    def delete_project(self, project_hash: str) -> Removed:
        """Delete a project with everything in it, in one transaction (its admins)."""
        self._check(project_hash, "admin", "deleting the project")
        return self.store.delete_project(project_hash)

    def delete_data_units(self, project_hash: str, data_hashes: Sequence[str]) -> Removed:
        """Delete data units with their labels on every branch (the project's admins)."""
        self._check(project_hash, "admin", "deleting data units")
        if not data_hashes:
            raise LabelportError("name the data units to delete.")
        return self.store.delete_data_units(project_hash, data_hashes)

    def delete_branch(self, project_hash: str, branch: str) -> Removed:
        """Delete a branch with its labels (the project's admins); ``main`` stays."""
        self._check(project_hash, "admin", "deleting a branch")
        if branch == MAIN_BRANCH:
            raise LabelportError(
                "the main branch cannot be deleted; delete its labels row by row, or copy another branch "
                "onto it with replace."
            )
        self.require_branch(project_hash, branch)
        return self.store.delete_branch(project_hash, branch)

    def delete_labels(self, project_hash: str, branch: str, data_hash: str) -> Removed:
        """Delete one label row's objects and classifications (annotators and admins)."""
        self._check(project_hash, "write", "deleting labels")
        self.require_branch(project_hash, branch)
        return self.store.delete_labels(project_hash, branch, data_hash)

    def branch_summaries(self, project_hash: str) -> list[BranchRecord]:
        """Each branch with its label rows, objects and last change."""
        self._check(project_hash, "read")
        return self.store.branch_summaries(project_hash)

    def copy_branch(self, project_hash: str, source: str, target: str, *, replace: bool = False) -> Copied:
        """Copy a branch's labels onto another (see :meth:`LabelStore.copy_branch`)."""
        self._check(project_hash, "write", "copying labels")
        self.require_branch(project_hash, source)
        return self.store.copy_branch(project_hash, source, target, replace=replace)

    def project_stats(self, project_hash: str, branch: str) -> dict[str, Any]:
        """Objects per class and shape, units with and without objects, sizes (see :mod:`labelport.stats`)."""
        from labelport.stats import branch_stats

        self._check(project_hash, "read")
        self.require_branch(project_hash, branch)
        return branch_stats(self.store, project_hash, branch)

    def require_branch(self, project_hash: str, branch: str) -> None:
        """NotFoundError naming the project's branches when ``branch`` is not one (main always is)."""
        if branch != MAIN_BRANCH:
            require_branch(branch, self.store.list_branches(project_hash))

    # -- data and labels -------------------------------------------------------------------------

    def _unit_check(
        self, project_hash: str, *, imported: bool = False
    ) -> Callable[[Sequence[DataUnit]], None] | None:
        """On a team server, what refuses a data unit (added, or made by an import) whose local location
        lies outside the project's media roots; None on the embedded store, where one user's files are
        theirs to name."""
        if self.single_owner:
            return None
        return partial(
            _check_locations, recorded=self.store.project_media_roots(project_hash), imported=imported
        )

    def add_data_units(self, project_hash: str, units: Sequence[DataUnit]) -> None:
        """Add data units; a title the project has already is refused (titles match COCO images)."""
        self._check(project_hash, "write")
        check = self._unit_check(project_hash)
        if check is not None:
            check(units)
        with self.store.project_lock(project_hash):  # not between an import's planning and its commit
            taken = self.store.units_titled(project_hash, [u.title for u in units])
            if taken:
                (title, data_hash), more = taken[0], len(taken) - 1
                raise DataError(
                    f"project {project_hash} has a data unit titled {title!r} already "
                    f"(data hash {data_hash}){f' (and {more:,} more)' if more else ''}; a title names one "
                    "data unit, so that imports can match images by it. Nothing was added."
                )
            self.store.add_data_units(project_hash, units)

    def list_data_units(self, project_hash: str) -> list[DataUnit]:
        self._check(project_hash, "read")
        return self.store.list_data_units(project_hash)

    def get_data_units(self, project_hash: str, data_hashes: Sequence[str]) -> list[DataUnit]:
        """These data units, in the order given (hashes not in the project are left out)."""
        self._check(project_hash, "read")
        return self.store.get_data_units(project_hash, data_hashes)

    def find_data_units(
        self, project_hash: str, query: UnitQuery, limit: int = 48, offset: int = 0
    ) -> UnitPage:
        """One page of the data units matching ``query``, and how many match (the viewer's grid)."""
        self._check(project_hash, "read")
        if not 1 <= limit <= MAX_PAGE or offset < 0:
            raise LabelportError(
                f"a page holds 1 to {MAX_PAGE} units from offset 0 on, not {limit} from {offset}."
            )
        units, total = self.store.find_data_units(project_hash, query, limit, offset)
        return UnitPage(units, total, offset)

    def class_counts(self, project_hash: str, query: UnitQuery) -> dict[str, int]:
        """Objects per class (feature hash) over the units matching ``query`` without its class filter."""
        self._check(project_hash, "read")
        return self.store.class_counts(project_hash, query)

    def list_label_rows(
        self, project_hash: str, branch: str, data_hashes: Sequence[str] | None = None
    ) -> list[LabelRowInfo]:
        self._check(project_hash, "read")
        return self.store.list_label_rows(project_hash, branch, data_hashes)

    def load_label_rows(
        self, project_hash: str, branch: str, data_hashes: Sequence[str] | None = None
    ) -> list[LabelRowRecord]:
        self._check(project_hash, "read")
        check_texts({"branch": branch, **{f"data_hashes[{i}]": h for i, h in enumerate(data_hashes or ())}})
        return self.store.load_label_rows(project_hash, branch, data_hashes)

    def save_label_row(
        self,
        project_hash: str,
        branch: str,
        data_hash: str,
        objects: Sequence[ObjectRecord],
        classifications: Sequence[ClassificationRecord],
    ) -> str:
        self._check(project_hash, "write")
        project = self.store.get_project(project_hash)
        check_label_records(
            self.store.get_ontology(project.ontology_hash).structure, objects, classifications
        )
        return self.store.save_label_row(project_hash, branch, data_hash, objects, classifications)

    def list_branches(self, project_hash: str) -> list[str]:
        self._check(project_hash, "read")
        return self.store.list_branches(project_hash)

    def list_imports(self, project_hash: str) -> list[dict[str, Any]]:
        self._check(project_hash, "read")
        return self.store.imports(project_hash)

    def check_upload(self, project_hash: str) -> None:
        """Whoever may see the project may send it a file to import (a server's upload); everyone
        else is told there is no such project. The import itself then checks the role
        (:meth:`check_import`), so a viewer's upload can serve only a dry run."""
        self._check(project_hash, "read")

    # -- COCO ------------------------------------------------------------------------------------

    def check_import(self, project_hash: str, options: dict[str, Any], format: str = "coco") -> None:
        """What an import checks before it reads anything: the options (the COCO import's, and for
        another format its reader's), and the user's role (a dry run only reads). The server asks
        this before it unpacks an upload."""
        from labelport.formats import get_format
        from labelport.formats.coco.importer import import_coco

        reader = None if format == "coco" else get_format(format)
        coco_options = (
            options if reader is None else {k: v for k, v in options.items() if k in IMPORT_OPTIONS}
        )
        check_options(coco_options, options_of(import_coco, IMPORT_OPTIONS))
        if reader is not None:
            reader_options = {k: v for k, v in options.items() if k not in IMPORT_OPTIONS}
            _check_reader_options(reader.read, reader_options, f"a {format} import")
        self._check(project_hash, "read" if options.get("dry_run") else "write")

    def import_coco(
        self, project_hash: str, source: Any, options: dict[str, Any], progress: Progress | None = None
    ) -> Any:
        """Run a COCO import (see :func:`labelport.formats.coco.importer.import_coco`)."""
        from labelport.formats.coco.importer import import_coco

        self.check_import(project_hash, options)
        dry_run = bool(options.get("dry_run"))
        # From planning (which data units exist) to commit, one import at a time per project: two
        # imports creating units for the same file names would otherwise each create one.
        with nullcontext() if dry_run else self.store.project_lock(project_hash):
            return import_coco(
                self.store,
                project_hash,
                source,
                user=self.user.name,
                progress=progress,
                check_units=self._unit_check(project_hash, imported=True),
                **options,
            )

    def export_coco(
        self, project_hash: str, options: dict[str, Any], progress: Progress | None = None
    ) -> bytes:
        """Write a COCO file (see :func:`labelport.formats.coco.exporter.export_coco`)."""
        from labelport.formats.coco.exporter import export_coco, write_coco

        check_options(options, options_of(write_coco, EXPORT_OPTIONS))
        self._check(project_hash, "read")
        self.require_branch(project_hash, options.get("branch_name") or MAIN_BRANCH)
        return export_coco(self.store, project_hash, progress=progress, **options)

    def write_coco(
        self, project_hash: str, options: dict[str, Any], out: BinaryIO, progress: Progress | None = None
    ) -> None:
        """Write a COCO file to ``out`` as it is read (see :func:`labelport.formats.coco.exporter.write_coco`)."""
        from labelport.formats.coco.exporter import write_coco

        check_options(options, options_of(write_coco, EXPORT_OPTIONS))
        self._check(project_hash, "read")
        self.require_branch(project_hash, options.get("branch_name") or MAIN_BRANCH)
        write_coco(self.store, project_hash, out, progress=progress, **options)

    # -- every other format ----------------------------------------------------------------------

    def import_labels(
        self,
        project_hash: str,
        source: Any,
        format: str,
        options: dict[str, Any],
        progress: Progress | None = None,
        *,
        confined: bool = False,
    ) -> Any:
        """Read ``source`` with the format's reader, then run the COCO import on what it read.

        ``confined`` (a server's import of an upload): the reader never reads a file outside the
        upload (:mod:`labelport.formats.reach`); otherwise the report lists the files it read outside
        the dataset's folder (``outside_files``).

        Matching, validation, the error policy, the report, idempotency and the one transaction are
        the COCO import's. What the reader skipped under ``on_error="skip"`` is added to the report's
        errors (with its file and line or element path) and counted as skipped.
        """
        if format == "coco":
            return self.import_coco(project_hash, source, options, progress)
        import msgspec

        from labelport.formats import get_format
        from labelport.formats.base import sizes_from
        from labelport.formats.coco.importer import import_coco
        from labelport.formats.subsets import names_with_subsets

        self.check_import(project_hash, options, format)
        reader = get_format(format)
        coco_options = {k: v for k, v in options.items() if k in IMPORT_OPTIONS}
        reader_options = {k: v for k, v in options.items() if k not in IMPORT_OPTIONS}
        sizes = sizes_from(lambda: unit_sizes(self.store.list_data_units(project_hash)))  # when needed
        dataset = reader.read(
            source,
            on_error=coco_options.get("on_error", "fail"),
            sizes=sizes,
            **({"confined": confined} if reader.folder else {}),  # only a folder's files name others
            **reader_options,
        )
        names_with_subsets(dataset.images)  # train/a.jpg and val/a.jpg: two data units, each found again
        if coco_options.get("branch_name") is None and dataset.branch is not None:
            coco_options["branch_name"] = dataset.branch  # predictions go onto a branch of their own
        repeat_check = coco_options.get("source_name") is None  # (the same annotations, renamed)
        if repeat_check:  # the folder's or file's name, as for COCO
            coco_options["source_name"] = dataset.name or format
        # as JSON bytes, and the dicts let go: the import holds slices of its input, not the reader's objects
        payload = msgspec.json.encode(dataset.to_coco())
        dataset.images, dataset.annotations = [], []
        with nullcontext() if coco_options.get("dry_run") else self.store.project_lock(project_hash):
            report = import_coco(
                self.store,
                project_hash,
                payload,
                user=self.user.name,
                progress=progress,
                places=dataset.locate,  # problems name the reader's files, not the COCO it made
                repeat_check=repeat_check,
                check_units=self._unit_check(project_hash, imported=True),
                **coco_options,
            )
        for problem in dataset.problems:
            report.error(problem.code, problem.where, problem.message)
            report.counts.skipped += 1
        for kind, count in sorted(dataset.dropped.items()):
            report.warning("not_imported", dataset.name, f"not imported: {kind} ({count:,}).")
        report.outside_files = dataset.outside
        return report

    # -- evaluations -----------------------------------------------------------------------------

    def evaluate(self, project_hash: str, pred_branch: str, options: dict[str, Any]) -> dict[str, Any]:
        """Evaluate a branch against ground truth (see :func:`labelport.evaluation.run.evaluate`); any member may."""
        from labelport.evaluation.run import EVALUATE_OPTIONS, evaluate

        self._check(project_hash, "read")
        unknown = sorted(set(options) - set(EVALUATE_OPTIONS))
        if unknown:
            raise LabelportError(
                f"unknown evaluation option {unknown[0]!r}; expected some of {', '.join(EVALUATE_OPTIONS)}."
            )
        _, summary = evaluate(self.store, project_hash, pred_branch, user=self.user.name, **options)
        return summary

    def stored_evaluation(
        self, project_hash: str, pred_branch: str, gt_branch: str = "main", iou_type: str = "bbox"
    ) -> dict[str, Any] | None:
        """The stored, current evaluation's summary with default parameters, or None; computes nothing."""
        from labelport.evaluation.run import stored

        self._check(project_hash, "read")
        return stored(self.store, project_hash, pred_branch, gt_branch=gt_branch, iou_type=iou_type)

    def evaluation_matches(self, project_hash: str, evaluation_id: int) -> bytes:
        """The object-level matches of a stored evaluation (an ``.npz`` of columns)."""
        self._check(project_hash, "read")
        data = self.store.evaluation_matches(project_hash, evaluation_id)
        if data is None:
            raise NotFoundError("evaluation", str(evaluation_id), key="id")
        return data

    def diff_branches(self, project_hash: str, a: str, b: str, iou: float = 0.5) -> dict[str, Any]:
        """Compare two label branches object by object (see :mod:`labelport.evaluation.diff`)."""
        from labelport.evaluation.run import diff_branches

        self._check(project_hash, "read")
        return diff_branches(self.store, project_hash, a, b, iou=iou)


def _check_reader_options(function: Any, options: dict[str, Any], what: str) -> None:
    """:class:`FieldError` (``options.<key>``) naming the first option a format's reader does not take."""
    accepted = options_taken(function, READER_ARGUMENTS)
    for name in options:
        if name not in accepted:
            raise FieldError(f"options.{name}", f"is not an option of {what}")


def _check_locations(units: Sequence[DataUnit], recorded: Sequence[str], *, imported: bool = False) -> None:
    """A :class:`FieldError` (``units[i].location``; for the units an import would make, whose location
    is an image's ``file_name``: ``file_name``) for the first local location outside ``recorded``, a
    team server's media roots for the project. A project with none serves no local file at all (the
    viewer refuses every one), so its locations are names only and are not checked here."""
    if not recorded:
        return
    roots = [Path(os.path.realpath(root)) for root in recorded]
    for i, unit in enumerate(units):
        places = [(f"units[{i}].location", unit.location)]
        places += [(f"units[{i}].members[{j}].location", m.location) for j, m in enumerate(unit.members)]
        for where, location in places:
            path = local_file(location)
            if path is not None and file_inside(path, roots, relative=True) is None:
                raise FieldError(
                    "file_name" if imported else where,
                    f"{location!r} lies outside the project's media roots on this server; "
                    f"nothing was {'imported' if imported else 'added'}",
                )


def unit_sizes(units: Sequence[DataUnit]) -> dict[str, tuple[int, int]]:
    """{title: (width, height)} of every image and group member: the sizes a reader may look up."""
    sizes: dict[str, tuple[int, int]] = {}
    for unit in units:
        if unit.members:
            for member in unit.members:
                sizes.setdefault(member.title, (member.width, member.height))
        elif unit.frames == 1:
            sizes.setdefault(unit.title, (unit.width, unit.height))
    return sizes
