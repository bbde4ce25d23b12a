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

from collections.abc import Sequence
from typing import Any, Protocol

from labelport.data import DataUnit
from labelport.errors import DataError, LabelportError, NotFoundError, PermissionDenied
from labelport.hashing import new_uuid
from labelport.labels import MAIN_BRANCH, now_iso
from labelport.ontology import OntologyStructure
from labelport.progress import Progress as Progress
from labelport.store.base import (
    ROLES,
    BranchRecord,
    ClassificationRecord,
    Copied,
    LabelRowRecord,
    LabelStore,
    MemberRecord,
    ObjectRecord,
    OntologyRecord,
    ProjectRecord,
    Removed,
    UserRecord,
)

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
        return self.store.update_project(project_hash, title=title, description=description)

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

    def add_data_units(self, project_hash: str, units: Sequence[DataUnit]) -> None:
        """Add data units; a title the project has already is refused (titles match COCO images)."""
        self._check(project_hash, "write")
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
        self.require_branch(project_hash, options.get("branch_name") or MAIN_BRANCH)
        return export_coco(self.store, project_hash, progress=progress, **options)
