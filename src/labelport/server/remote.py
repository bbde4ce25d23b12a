"""The remote client: the :class:`~labelport.service.Service` protocol over HTTP, every request signed.

``UserClient.create_with_ssh_private_key(..., domain="http://host:8800")`` builds one. Records come
back exactly as the server's store returned them; errors come back as the same
:class:`~labelport.errors.LabelportError` subclasses, with the same sentences and fields.

A COCO import streams its source to the server gzip-compressed in chunks (8 MiB by default), then
asks the server to import the whole; ``progress(sent, total)`` counts the source's bytes as they go,
then the annotations the server has written (its progress lines, as they arrive).

A service is ``RemoteService("http://labels.example:8800", Identity.load("~/.ssh/id_ed25519"))``;
its ``list_projects()`` then asks that server.
"""

from __future__ import annotations

import contextlib
import io
import queue
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from labelport import errors
from labelport.data import DataUnit
from labelport.errors import ImportFailed, LabelportError
from labelport.formats.coco.report import ImportReport
from labelport.keys import Identity
from labelport.ontology import OntologyStructure
from labelport.progress import Progress
from labelport.server import wire_format
from labelport.server.signing import sign_request
from labelport.server.upload_source import CHUNK_BYTES, GzipChunks, open_source, zip_folder
from labelport.service import UnitPage
from labelport.store.base import (
    BranchRecord,
    ClassificationRecord,
    Copied,
    LabelRowInfo,
    LabelRowRecord,
    MemberRecord,
    ObjectRecord,
    OntologyRecord,
    ProjectRecord,
    Removed,
    UnitQuery,
    UserRecord,
)

T = TypeVar("T")


#: Every error the server may answer with, by the name its body carries.
ERRORS: dict[str, type[LabelportError]] = {
    "LabelportError": errors.LabelportError,
    "OntologyError": errors.OntologyError,
    "NotFoundError": errors.NotFoundError,
    "DataError": errors.DataError,
    "KeyFileError": errors.KeyFileError,
    "LabelError": errors.LabelError,
    "StoreError": errors.StoreError,
    "SchemaVersionError": errors.SchemaVersionError,
    "CocoError": errors.CocoError,
    "ImportFailed": errors.ImportFailed,
    "AuthError": errors.AuthError,
    "PermissionDenied": errors.PermissionDenied,
    "TooLarge": errors.TooLarge,
    "FieldError": errors.FieldError,
    "FormatError": errors.FormatError,
    "TitleTaken": errors.TitleTaken,
    "AmbiguousTitle": errors.AmbiguousTitle,
    "ImageError": errors.ImageError,
}


def error_from_dict(data: dict[str, Any], status: int) -> LabelportError:
    """Rebuild the error a server answered with: same class, sentence and fields.

    >>> error = error_from_dict({"error": "NotFoundError", "message": "No project with hash x.",
    ...                          "kind": "project", "ident": "x"}, 404)
    >>> type(error).__name__, str(error), error.kind
    ('NotFoundError', 'No project with hash x.', 'project')
    """
    cls = ERRORS.get(str(data.get("error")), LabelportError)
    error = cls.__new__(cls)
    LabelportError.__init__(error, str(data.get("message", "")))
    for key, value in data.items():
        if key not in ("error", "message", "report"):
            setattr(error, key, value)
    if cls is LabelportError and error.status != status:
        error.status = status
    if isinstance(error, ImportFailed):
        error.report = ImportReport.from_dict(data.get("report") or {"source": "", "branch": ""})
    return error


def _segment(text: str) -> str:
    return quote(text, safe="")


class RemoteService:
    """Every operation of the library, run by a labelport server as the key's user."""

    def __init__(
        self,
        domain: str,
        identity: Identity,
        *,
        timeout: float = 600.0,
        chunk_bytes: int = CHUNK_BYTES,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.domain = domain.rstrip("/")
        if not self.domain.startswith(("http://", "https://")):
            raise LabelportError(
                f"the server address {domain!r} needs its scheme: http://{domain} or https://{domain}."
            )
        self.identity = identity
        self.chunk_bytes = chunk_bytes
        self._http = httpx.Client(
            base_url=self.domain, timeout=httpx.Timeout(timeout, connect=15.0), transport=transport
        )
        try:
            self.user: UserRecord = self._call("GET", "/me", into=UserRecord)
        except BaseException:
            self._http.close()
            raise

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> RemoteService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request -----------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        content: bytes,
        content_type: str = "application/json",
        *,
        wait: bool = False,
        into: BinaryIO | _ImportEvents | None = None,
        headers: dict[str, str] | None = None,
        progress: Progress | None = None,
    ) -> bytes:
        """Sign and send one request; the body of a success, or the server's error raised.

        ``wait``: no read timeout (an import or export takes as long as it takes; giving up early
        would not stop the server, only leave the caller unsure whether it happened). ``into``: a
        success's body is written there as it arrives instead (and ``b""`` returned). ``progress``:
        called with the response's bytes received so far and its length (0 when not known).
        """
        timeout = httpx.Timeout(None, connect=15.0) if wait else httpx.USE_CLIENT_DEFAULT
        request = self._http.build_request(
            method,
            path,
            content=content,
            headers={"Content-Type": content_type, **(headers or {})},
            timeout=timeout,
        )
        target = request.url.raw_path.decode("ascii")
        request.headers.update(sign_request(self.identity, method, target, content))
        try:
            response = self._http.send(request, stream=True)
            try:
                if response.status_code < 400 and into is not None:
                    # the size of what is written (a compressed answer says it in a header of ours)
                    total = int(response.headers.get(wire_format.SIZE_HEADER) or 0)
                    done = 0
                    # progress lines as they come (a chunk size would hold them until a MiB had
                    # arrived, the whole answer of an import); a file's bytes a MiB at a time
                    size = None if isinstance(into, _ImportEvents) else 1 << 20
                    for piece in response.iter_bytes(size):
                        into.write(piece)
                        done += len(piece)
                        if progress is not None:
                            progress(done, total)
                    return b""
                answer = response.read()
            finally:
                response.close()
        except httpx.HTTPError as exc:
            reason = str(exc).rstrip(".") or type(exc).__name__
            raise LabelportError(f"cannot reach the labelport server at {self.domain}: {reason}.") from exc
        if response.status_code >= 400:
            try:
                data = msgspec.json.decode(answer)
            except msgspec.DecodeError:
                data = None
            if not isinstance(data, dict) or "error" not in data:
                error = LabelportError(
                    f"the server at {self.domain} answered {response.status_code} {response.reason_phrase}."
                )
                error.status = response.status_code
                raise error
            error = error_from_dict(data, response.status_code)
            if isinstance(error, errors.AuthError):
                raise self._refused() from None
            raise error
        return answer

    def _refused(self) -> errors.AuthError:
        """What a refusal means, said on this side: the server answers every refusal alike (401)."""
        return errors.AuthError(
            f"The server at {self.domain} refused the key {self.identity.fingerprint}: it does not know "
            "that key, or this machine's clock is more than 300 seconds off. A server admin adds the key "
            "with `labelport user add NAME --key KEY.pub --db DATABASE_URL`."
        )

    def _call(self, method: str, path: str, body: Any = None, *, into: type[T], wait: bool = False) -> T:
        content = b"" if body is None else wire_format.encode(body)
        data = self._send(method, path, content, wait=wait)
        try:
            return msgspec.json.decode(data, type=into)
        except msgspec.MsgspecError as exc:
            raise LabelportError(
                f"the server at {self.domain} answered with something unexpected: {exc}."
            ) from None

    def _project(self, project_hash: str, rest: str = "") -> str:
        return f"/projects/{_segment(project_hash)}{rest}"

    # -- ontologies and projects -------------------------------------------------------------------

    def create_ontology(self, title: str, structure: OntologyStructure) -> str:
        body = wire_format.CreateOntology(title, structure.to_dict())
        return self._call("POST", "/ontologies", body, into=wire_format.Created).hash

    def get_ontology(self, ontology_hash: str) -> OntologyRecord:
        o = self._call("GET", f"/ontologies/{_segment(ontology_hash)}", into=wire_format.OntologyWire)
        return OntologyRecord(o.ontology_hash, o.title, OntologyStructure.from_dict(o.structure))

    def list_ontologies(self) -> list[OntologyRecord]:
        found = self._call("GET", "/ontologies", into=list[wire_format.OntologyWire])
        return [
            OntologyRecord(o.ontology_hash, o.title, OntologyStructure.from_dict(o.structure)) for o in found
        ]

    def create_project(
        self,
        title: str,
        *,
        description: str = "",
        ontology_hash: str | None = None,
        structure: OntologyStructure | None = None,
    ) -> str:
        body = wire_format.CreateProject(
            title, description, ontology_hash, None if structure is None else structure.to_dict()
        )
        return self._call("POST", "/projects", body, into=wire_format.Created).hash

    def get_project(self, project_hash: str) -> tuple[ProjectRecord, OntologyStructure]:
        found = self._call("GET", self._project(project_hash), into=wire_format.ProjectWire)
        return found.project, OntologyStructure.from_dict(found.structure)

    def list_projects(self) -> list[ProjectRecord]:
        return self._call("GET", "/projects", into=list[ProjectRecord])

    def add_member(self, project_hash: str, fingerprint: str, role: str) -> None:
        self._call(
            "POST",
            self._project(project_hash, "/members"),
            wire_format.AddMember(fingerprint, role),
            into=dict,
        )

    # -- data and labels ---------------------------------------------------------------------------

    def add_data_units(self, project_hash: str, units: Sequence[DataUnit]) -> None:
        body = wire_format.AddDataUnits(list(units))
        self._call("POST", self._project(project_hash, "/data-units"), body, into=dict)

    def list_data_units(self, project_hash: str) -> list[DataUnit]:
        return self._call("GET", self._project(project_hash, "/data-units"), into=list[DataUnit])

    def get_data_units(self, project_hash: str, data_hashes: Sequence[str]) -> list[DataUnit]:
        body = wire_format.GetDataUnits(list(data_hashes))
        return self._call("POST", self._project(project_hash, "/data-units/get"), body, into=list[DataUnit])

    def find_data_units(
        self, project_hash: str, query: UnitQuery, limit: int = 48, offset: int = 0
    ) -> UnitPage:
        body = wire_format.FindDataUnits(query, limit, offset)
        return self._call("POST", self._project(project_hash, "/data-units/find"), body, into=UnitPage)

    def class_counts(self, project_hash: str, query: UnitQuery) -> dict[str, int]:
        return self._call("POST", self._project(project_hash, "/class-counts"), query, into=dict[str, int])

    def list_label_rows(
        self, project_hash: str, branch: str, data_hashes: Sequence[str] | None = None
    ) -> list[LabelRowInfo]:
        body = wire_format.LoadLabelRows(branch, None if data_hashes is None else list(data_hashes))
        return self._call(
            "POST", self._project(project_hash, "/label-rows/list"), body, into=list[LabelRowInfo]
        )

    def load_label_rows(
        self, project_hash: str, branch: str, data_hashes: Sequence[str] | None = None
    ) -> list[LabelRowRecord]:
        body = wire_format.LoadLabelRows(branch, None if data_hashes is None else list(data_hashes))
        return self._call(
            "POST", self._project(project_hash, "/label-rows/load"), body, into=list[LabelRowRecord]
        )

    def save_label_row(
        self,
        project_hash: str,
        branch: str,
        data_hash: str,
        objects: Sequence[ObjectRecord],
        classifications: Sequence[ClassificationRecord],
    ) -> str:
        body = wire_format.SaveLabelRow(branch, data_hash, list(objects), list(classifications))
        return self._call(
            "PUT", self._project(project_hash, "/label-rows"), body, into=wire_format.LabelHash
        ).label_hash

    def list_branches(self, project_hash: str) -> list[str]:
        return self._call("GET", self._project(project_hash, "/branches"), into=list[str])

    def list_imports(self, project_hash: str) -> list[dict[str, Any]]:
        return self._call("GET", self._project(project_hash, "/imports"), into=list[dict[str, Any]])

    # -- everyday operations -----------------------------------------------------------------------

    def update_project(
        self, project_hash: str, *, title: str | None = None, description: str | None = None
    ) -> ProjectRecord:
        body = wire_format.UpdateProject(title, description)
        return self._call("PATCH", self._project(project_hash), body, into=ProjectRecord)

    def delete_project(self, project_hash: str) -> Removed:
        return self._call("DELETE", self._project(project_hash), into=Removed)

    def delete_data_units(self, project_hash: str, data_hashes: Sequence[str]) -> Removed:
        body = wire_format.DataHashes(list(data_hashes))
        return self._call("POST", self._project(project_hash, "/data-units/delete"), body, into=Removed)

    def delete_branch(self, project_hash: str, branch: str) -> Removed:
        body = wire_format.Branch(branch)
        return self._call("POST", self._project(project_hash, "/branches/delete"), body, into=Removed)

    def delete_labels(self, project_hash: str, branch: str, data_hash: str) -> Removed:
        body = wire_format.DeleteLabels(branch, data_hash)
        return self._call("POST", self._project(project_hash, "/label-rows/delete"), body, into=Removed)

    def list_members(self, project_hash: str) -> list[MemberRecord]:
        return self._call("GET", self._project(project_hash, "/members"), into=list[MemberRecord])

    def remove_member(self, project_hash: str, fingerprint: str) -> MemberRecord:
        body = wire_format.Fingerprint(fingerprint)
        return self._call("POST", self._project(project_hash, "/members/remove"), body, into=MemberRecord)

    def list_users(self) -> list[UserRecord]:
        return self._call("GET", "/users", into=list[UserRecord])

    def branch_summaries(self, project_hash: str) -> list[BranchRecord]:
        return self._call("GET", self._project(project_hash, "/branch-summaries"), into=list[BranchRecord])

    def copy_branch(self, project_hash: str, source: str, target: str, *, replace: bool = False) -> Copied:
        body = wire_format.CopyBranch(source, target, replace)
        return self._call("POST", self._project(project_hash, "/branches/copy"), body, into=Copied)

    def project_stats(self, project_hash: str, branch: str) -> dict[str, Any]:
        body = wire_format.Branch(branch)
        return self._call("POST", self._project(project_hash, "/stats"), body, into=dict[str, Any])

    # -- COCO --------------------------------------------------------------------------------------

    def import_coco(
        self, project_hash: str, source: Any, options: dict[str, Any], progress: Progress | None = None
    ) -> ImportReport:
        """Upload the source in gzip chunks, then import it on the server; returns its report.

        A path keeps its file name (the import's source name, as in the embedded store); a dict, a
        list or bytes go as in-memory data. ``progress(sent, total)`` counts the source's bytes.
        """
        filename, reader, total = open_source(source)
        wire_options = wire_format.import_options_to_wire(options)  # refuse bad options before uploading
        return self._import_upload(project_hash, filename, reader, total, wire_options, progress)

    def import_labels(
        self,
        project_hash: str,
        source: Any,
        format: str,
        options: dict[str, Any],
        progress: Progress | None = None,
    ) -> ImportReport:
        """Upload a source of any format and import it on the server (the upload route, with ``format``).

        A folder (YOLO, Pascal VOC) goes as one zip archive, which the server unpacks; a file as it is.
        """
        if format == "coco":
            return self.import_coco(project_hash, source, options, progress)
        wire_options = {**wire_format.import_options_to_wire(options), "format": format}
        path = Path(source).expanduser()
        if not path.exists():
            raise errors.FormatError("source_missing", "does not exist.", file=str(path))
        with tempfile.TemporaryDirectory(prefix="labelport-upload-") as folder:
            if path.is_dir():
                archive = Path(folder) / f"{path.name}.zip"
                zip_folder(path, archive)
                wire_options["archive"] = True
                path = archive
            filename, reader, total = open_source(path)
            return self._import_upload(project_hash, filename, reader, total, wire_options, progress)

    def _import_upload(
        self,
        project_hash: str,
        filename: str | None,
        reader: BinaryIO,
        total: int,
        wire_options: dict[str, Any],
        progress: Progress | None,
    ) -> ImportReport:
        with reader:
            upload = self._call(
                "POST",
                self._project(project_hash, "/uploads"),
                wire_format.StartUpload(filename),
                into=wire_format.Upload,
            )
            uploads = self._project(project_hash, f"/uploads/{upload.upload_id}")
            try:
                count, size = self._upload(uploads, reader, total, progress)
                events = _ImportEvents(progress)
                body = wire_format.encode(wire_format.RunImport(count, wire_options, size))
                # not gzip: compressed, the progress lines would wait in the compressor
                self._send(
                    "POST",
                    f"{uploads}/import",
                    body,
                    wait=True,
                    into=events,
                    headers={"Accept-Encoding": "identity", "Accept": wire_format.PROGRESS_LINES},
                )
                report = events.result(self.domain)
            except BaseException:
                self._forget(uploads)  # the server drops an upload it imported; this one may be left
                raise
        return ImportReport.from_dict(report)

    def _upload(
        self, uploads: str, reader: BinaryIO, total: int, progress: Progress | None
    ) -> tuple[int, int | None]:
        """Send the source's gzip chunks; the next one is compressed while the last one travels.

        Returns how many chunks went, and the bytes they inflate to when they were compressed here
        (None for a source that was gzip already). ``progress`` is called on this thread as each
        chunk is handed to the sending thread (at most two chunks ahead of the server).
        """
        outbox: queue.Queue[tuple[int, bytes] | None] = queue.Queue(maxsize=2)
        failures: list[BaseException] = []

        def send() -> None:
            while (item := outbox.get()) is not None:
                if not failures:
                    try:
                        self._send("PUT", f"{uploads}/chunks/{item[0]}", item[1], "application/octet-stream")
                    except BaseException as exc:  # raised on the calling thread below
                        failures.append(exc)

        sender = threading.Thread(target=send, name="labelport-upload", daemon=True)
        sender.start()
        count = 0
        chunks = GzipChunks(reader, self.chunk_bytes)
        try:
            for chunk, sent in chunks:
                if failures:
                    break
                outbox.put((count, chunk))
                count += 1
                if progress is not None:
                    progress(sent, total)
        finally:
            outbox.put(None)
            sender.join()
        if failures:
            raise failures[0]
        return count, chunks.inflated

    def _forget(self, uploads: str) -> None:
        """Delete an upload that will not be imported (the server forgets it after a day anyway)."""
        with contextlib.suppress(LabelportError):
            self._send("DELETE", uploads, b"")

    def export_coco(
        self, project_hash: str, options: dict[str, Any], progress: Progress | None = None
    ) -> bytes:
        """The COCO file's bytes, written by the server (sent gzip-compressed)."""
        out = io.BytesIO()
        self.write_coco(project_hash, options, out, progress)
        return out.getvalue()

    def write_coco(
        self, project_hash: str, options: dict[str, Any], out: BinaryIO, progress: Progress | None = None
    ) -> None:
        """Write the COCO file the server writes to ``out`` as it arrives (``progress``: bytes received)."""
        body = wire_format.encode(wire_format.RunExport(dict(options)))
        self._send(
            "POST", self._project(project_hash, "/export"), body, wait=True, into=out, progress=progress
        )

    def evaluate(self, project_hash: str, pred_branch: str, options: dict[str, Any]) -> dict[str, Any]:
        body = wire_format.RunEvaluation(pred_branch, dict(options))
        return self._call("POST", self._project(project_hash, "/evaluations"), body, into=dict, wait=True)

    def stored_evaluation(
        self, project_hash: str, pred_branch: str, gt_branch: str = "main", iou_type: str = "bbox"
    ) -> dict[str, Any] | None:
        body = wire_format.StoredEvaluation(pred_branch, gt_branch, iou_type)
        path = self._project(project_hash, "/evaluations/stored")
        return self._call("POST", path, body, into=dict[str, Any] | None)  # type: ignore[arg-type]

    def evaluation_matches(self, project_hash: str, evaluation_id: int) -> bytes:
        path = self._project(project_hash, f"/evaluations/{int(evaluation_id)}/matches")
        return self._send("GET", path, b"", wait=True)

    def diff_branches(self, project_hash: str, a: str, b: str, iou: float = 0.5) -> dict[str, Any]:
        body = wire_format.RunDiff(a, b, iou)
        return self._call("POST", self._project(project_hash, "/diff"), body, into=dict, wait=True)


class _ImportEvents:
    """Reads an import's answer as it streams: calls ``progress(done, total)`` for each progress line
    (annotations validated and written on the server), keeps the last line's report or error."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.pending = b""
        self.last: dict[str, Any] | None = None

    def write(self, piece: bytes) -> None:
        *lines, self.pending = (self.pending + piece).split(b"\n")
        for line in lines:
            event = msgspec.json.decode(line)
            if "progress" in event:
                if self.progress is not None:
                    self.progress(*event["progress"])
            else:
                self.last = event

    def result(self, domain: str) -> dict[str, Any]:
        """The report; the server's error raised as its own type; a cut answer as an error."""
        if self.last is not None and "report" in self.last:
            return dict(self.last["report"])
        if self.last is not None and isinstance(self.last.get("error"), dict):
            data = dict(self.last["error"])
            raise error_from_dict(data, int(data.get("status", 400)))
        raise LabelportError(f"the server at {domain} stopped answering before the import's report.")
