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

from collections.abc import Callable, Sequence
from typing import Any, BinaryIO, Protocol

from labelport.data import DataUnit
from labelport.errors import LabelportError, NotFoundError, PermissionDenied
from labelport.hashing import new_uuid
from labelport.labels import now_iso
from labelport.ontology import OntologyStructure
from labelport.store.base import (
    ROLES,
    ClassificationRecord,
    LabelRowInfo,
    LabelRowRecord,
    LabelStore,
    ObjectRecord,
    OntologyRecord,
    ProjectRecord,
    UserRecord,
)

Progress = Callable[[int, int], None]

#: What each role may do. Admins may also manage members.
_CAN = {
    "read": {"admin", "annotator", "viewer"},
    "write": {"admin", "annotator"},
    "admin": {"admin"},
}


class Service(Protocol):
    """The operations behind the client API; local and remote implementations share it."""

    user: UserRecord

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
    def write_coco(
        self, project_hash: str, options: dict[str, Any], out: BinaryIO, progress: Progress | None = None
    ) -> None: ...


class LocalService:
    """Every operation, run against a store as one user."""

    def __init__(self, store: LabelStore, user: UserRecord) -> None:
        self.store = store
        self.user = user

    @classmethod
    def embedded(
        cls, store: LabelStore, *, name: str, fingerprint: str, public_key: str = ""
    ) -> LocalService:
        """The embedded store's owner: whoever holds a key is its administrator (one person, one file)."""
        return cls(store, store.upsert_user(name, fingerprint, public_key, is_admin=True))

    # -- rights ----------------------------------------------------------------------------------

    def _check(self, project_hash: str, action: str) -> None:
        """NotFound when the user cannot see the project at all; PermissionDenied when the role is short."""
        self.store.get_project(project_hash)
        if self.user.is_admin:
            return
        role = self.store.role(project_hash, self.user.id)
        if role is None:
            raise NotFoundError("project", project_hash)
        if role not in _CAN[action]:
            raise PermissionDenied(
                {"write": "changing labels or data", "admin": "managing members"}.get(action, action),
                project_hash,
            )

    # -- ontologies and projects -----------------------------------------------------------------

    def create_ontology(self, title: str, structure: OntologyStructure) -> str:
        ontology_hash = new_uuid()
        self.store.create_ontology(ontology_hash, title, structure)
        return ontology_hash

    def get_ontology(self, ontology_hash: str) -> OntologyRecord:
        return self.store.get_ontology(ontology_hash)

    def list_ontologies(self) -> list[OntologyRecord]:
        return self.store.list_ontologies()

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
        self.store.create_project(project, structure, self.user.id)
        return project.project_hash

    def get_project(self, project_hash: str) -> tuple[ProjectRecord, OntologyStructure]:
        self._check(project_hash, "read")
        project = self.store.get_project(project_hash)
        return project, self.store.get_ontology(project.ontology_hash).structure

    def list_projects(self) -> list[ProjectRecord]:
        return self.store.list_projects(None if self.user.is_admin else self.user.id)

    def add_member(self, project_hash: str, fingerprint: str, role: str) -> None:
        self._check(project_hash, "admin")
        if role not in ROLES:
            raise LabelportError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}.")
        user = self.store.user_by_fingerprint(fingerprint)
        if user is None:
            raise NotFoundError("user", fingerprint, key="key fingerprint")
        self.store.set_role(project_hash, user.id, role)

    # -- data and labels -------------------------------------------------------------------------

    def add_data_units(self, project_hash: str, units: Sequence[DataUnit]) -> None:
        self._check(project_hash, "write")
        self.store.add_data_units(project_hash, units)

    def list_data_units(self, project_hash: str) -> list[DataUnit]:
        self._check(project_hash, "read")
        return self.store.list_data_units(project_hash)

    def list_label_rows(
        self, project_hash: str, branch: str, data_hashes: Sequence[str] | None = None
    ) -> list[LabelRowInfo]:
        self._check(project_hash, "read")
        return self.store.list_label_rows(project_hash, branch, data_hashes)

    def load_label_rows(
        self, project_hash: str, branch: str, data_hashes: Sequence[str] | None = None
    ) -> list[LabelRowRecord]:
        self._check(project_hash, "read")
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
        return self.store.save_label_row(project_hash, branch, data_hash, objects, classifications)

    def list_branches(self, project_hash: str) -> list[str]:
        self._check(project_hash, "read")
        return self.store.list_branches(project_hash)

    def list_imports(self, project_hash: str) -> list[dict[str, Any]]:
        self._check(project_hash, "read")
        return self.store.imports(project_hash)

    # -- COCO ------------------------------------------------------------------------------------

    def import_coco(
        self, project_hash: str, source: Any, options: dict[str, Any], progress: Progress | None = None
    ) -> Any:
        """Run a COCO import (see :func:`labelport.formats.coco.importer.import_coco`)."""
        from labelport.formats.coco.importer import import_coco

        self._check(project_hash, "read" if options.get("dry_run") else "write")
        return import_coco(
            self.store, project_hash, source, user=self.user.name, progress=progress, **options
        )

    def export_coco(
        self, project_hash: str, options: dict[str, Any], progress: Progress | None = None
    ) -> bytes:
        """Write a COCO file (see :func:`labelport.formats.coco.exporter.export_coco`)."""
        from labelport.formats.coco.exporter import export_coco

        self._check(project_hash, "read")
        return export_coco(self.store, project_hash, progress=progress, **options)

    def write_coco(
        self, project_hash: str, options: dict[str, Any], out: BinaryIO, progress: Progress | None = None
    ) -> None:
        """Write a COCO file to ``out`` as it is read (see :func:`labelport.formats.coco.exporter.write_coco`)."""
        from labelport.formats.coco.exporter import write_coco

        self._check(project_hash, "read")
        write_coco(self.store, project_hash, out, progress=progress, **options)
