"""The viewer's routes: three pages (one HTML shell each) and the JSON, images and thumbnails they load.

Each request is turned into a :class:`~labelport.service.Service` for its user by the host's
``authenticate`` (a token for ``labelport view``, a browser session on the team server), and then
works only through the client API: a non-member's request for a project answers 404 exactly as the
API does, and nothing here writes.

Pages: ``/`` (projects), ``/projects/{hash}`` (the grid), ``/projects/{hash}/units/{data_hash}``.
JSON: ``/api/projects``, ``/api/projects/{hash}``, ``/api/projects/{hash}/units?...`` (a page of the
grid: class, branch, conf, attr, q, type, compare, errors, page, per), ``/api/projects/{hash}/counts?...``
(objects per class for the same filters), ``/api/projects/{hash}/units/{data_hash}``,
``/api/projects/{hash}/evaluation?branch=&compare=`` (a stored evaluation; see :mod:`.evaluation`).
Pixels: ``/media/{hash}/{data_hash}/{frame}`` (only from the media roots) and
``/thumbs/{hash}/{data_hash}`` (``labels=1`` draws the labels with Pillow).
"""

from __future__ import annotations

import contextlib
import html
import json
import re
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

import msgspec
from fastapi import APIRouter, Request
from starlette.responses import FileResponse, HTMLResponse, Response

from labelport.client import Project, UserClient
from labelport.data import DataUnit
from labelport.errors import LabelportError, NotFoundError
from labelport.evaluation.kinds import palette
from labelport.labels import MAIN_BRANCH
from labelport.ontology import Object
from labelport.service import Service
from labelport.store.base import UnitQuery
from labelport.viewer.draw import Mark, class_color, class_colors, marks_of_row
from labelport.viewer.evaluation import error_units, evaluation_json, object_matches, stored_for
from labelport.viewer.media import MediaRoots, ThumbnailCache, jpeg_bytes, media_type
from labelport.viewer.render import base_image, picture

#: Units on one page of the grid unless ``per`` says otherwise.
PAGE_SIZE = 48
MAX_PER_PAGE = 200
MAX_CLASSES = 200
_HASH = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
_STATIC = {"app.js": "text/javascript", "style.css": "text/css", "favicon.svg": "image/svg+xml"}
_encoder = msgspec.json.Encoder()

Authenticate = Callable[[Request], Service]


def _json(value: Any, status: int = 200) -> Response:
    return Response(_encoder.encode(value), status_code=status, media_type="application/json")


def error_json(exc: LabelportError) -> Response:
    return _json(exc.to_dict(), exc.status)


def _shell(base: str, page: str, code: int = 200, **data: str) -> HTMLResponse:
    text = resources.files("labelport.viewer").joinpath("static/index.html").read_text(encoding="utf-8")
    data = {"base": base, "page": page, "palette": json.dumps(palette(), separators=(",", ":")), **data}
    attrs = " ".join(f'data-{k}="{html.escape(v)}"' for k, v in data.items())
    text = text.replace("{{base}}", html.escape(base)).replace("<body>", f"<body {attrs}>", 1)
    return HTMLResponse(text, status_code=code)


def grid_query(params: Any) -> tuple[UnitQuery, str | None]:
    """The grid's filters from its URL's query, and the branch to compare with; a bad value is one
    sentence naming its parameter."""
    conf = params.get("conf") or None
    try:
        min_confidence = None if conf is None else float(conf)
    except ValueError:
        raise LabelportError(f"conf must be a number from 0 to 1, not {conf!r}.") from None
    if min_confidence is not None and not 0 <= min_confidence <= 1:
        raise LabelportError(f"conf must be a number from 0 to 1, not {conf!r}.")
    attr = params.get("attr") or None
    attribute = None
    if attr is not None:
        key, sep, value = attr.partition("=")
        if not sep or not _HASH.fullmatch(key):
            raise LabelportError(f"attr must be ATTRIBUTE_HASH=VALUE, not {attr!r}.")
        attribute = (key, value)
    errors = params.get("errors") or None
    if errors not in (None, "fp", "fn"):
        raise LabelportError(f"errors must be fp or fn, not {errors!r}.")
    if errors and not params.get("compare"):
        raise LabelportError("errors= needs compare= (the prediction branch evaluated against branch=).")
    classes = tuple(dict.fromkeys(params.getlist("class")))
    if len(classes) > MAX_CLASSES:
        raise LabelportError(f"class may be given at most {MAX_CLASSES} times, not {len(classes)}.")
    query = UnitQuery(
        branch=params.get("branch") or MAIN_BRANCH,
        classes=classes,
        min_confidence=min_confidence,
        attribute=attribute,
        title=params.get("q") or "",
        data_type=params.get("type") or None,
    )
    return query, params.get("compare") or None


def _int(params: Any, name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise LabelportError(f"{name} must be a whole number from {low} to {high}, not {raw!r}.")
    return int(raw)


def _keep(mark: Mark, query: UnitQuery) -> bool:
    """Whether a mark passes the query's object filters (the grid draws only those)."""
    card = mark.card
    if query.classes and mark.feature_hash not in query.classes:
        return False
    if query.min_confidence is not None and card.get("confidence", 1.0) < query.min_confidence:
        return False
    if query.attribute is None:
        return True
    attribute, value = query.attribute
    answer = mark.answers.get(attribute)
    return answer == value or (isinstance(answer, list) and value in answer)


def _class_json(obj: Object, index: int) -> dict[str, Any]:
    return {
        "feature_hash": obj.feature_node_hash,
        "title": obj.title,
        "shape": obj.shape.value,
        "color": class_color(obj, index),
        "keypoints": obj.keypoints,
        "attributes": [
            {
                "feature_hash": a.feature_node_hash,
                "name": a.name,
                "type": a.type.value,
                "options": [{"feature_hash": o.feature_node_hash, "label": o.label} for o in a.options],
            }
            for a in obj.attributes
        ],
    }


class Viewer:
    """The routes over an ``authenticate`` function, media roots and a thumbnail cache."""

    def __init__(
        self,
        authenticate: Authenticate,
        *,
        base: str,
        roots: MediaRoots,
        cache: ThumbnailCache,
        serial: contextlib.AbstractContextManager[Any] | None = None,
        roots_of: Callable[[str], MediaRoots] | None = None,
    ) -> None:
        """``roots_of(project_hash)``: each project's own media roots (a team server), in place of
        ``roots`` for every project (``labelport view``, one user's store)."""
        self.authenticate = authenticate
        self.base = base
        self.roots = roots
        self.roots_of = roots_of
        self.cache = cache
        self.serial = serial if serial is not None else contextlib.nullcontext()

    def _roots(self, project: Project) -> MediaRoots:
        return self.roots if self.roots_of is None else self.roots_of(project.project_hash)

    @contextlib.contextmanager
    def _project(self, request: Request, project_hash: str) -> Iterator[Project]:
        with self.serial:
            yield UserClient(self.authenticate(request)).get_project(project_hash)

    def _unit(self, project: Project, data_hash: str) -> DataUnit:
        found = project.get_data_units([data_hash])
        if not found:
            raise NotFoundError("data unit", data_hash)
        return found[0]

    def _image(self, project: Project, unit: DataUnit, frame: int) -> dict[str, Any]:
        located = self._roots(project).locate_frame(unit, frame)
        if located.url is not None:
            return {"src": located.url, "video": unit.data_type.value == "video"}
        if located.path is not None:
            src = f"{self.base}/media/{project.project_hash}/{unit.data_hash}/{frame}"
            return {"src": src, "video": located.video}
        return {"src": None, "note": located.reason, "short": located.short}

    # -- JSON --------------------------------------------------------------------------------------

    def projects_json(self, request: Request) -> Any:
        with self.serial:
            client = UserClient(self.authenticate(request))
            return {
                "user": client.service.user.name,
                "projects": [
                    {
                        "project_hash": p.project_hash,
                        "title": p.title,
                        "description": p.description,
                        "created_by": p.created_by,
                        "created_at": p.created_at,
                        "units": client.service.find_data_units(p.project_hash, UnitQuery(), 1, 0).total,
                    }
                    for p in client.list_projects()
                ],
            }

    def project_json(self, request: Request, project_hash: str) -> Any:
        with self._project(request, project_hash) as project:
            return {
                "project_hash": project.project_hash,
                "title": project.title,
                "description": project.record.description,
                "classes": [_class_json(o, i) for i, o in enumerate(project.ontology_structure.objects)],
                "branches": project.list_branches() or [MAIN_BRANCH],
                "data_types": ["image", "video", "img_group", "img_sequence", "dicom"],
            }

    def units_json(self, request: Request, project_hash: str) -> Any:
        query, compare = grid_query(request.query_params)
        per = _int(request.query_params, "per", PAGE_SIZE, 1, MAX_PER_PAGE)
        page = _int(request.query_params, "page", 1, 1, 10**9)
        errors = request.query_params.get("errors") or None
        with self._project(request, project_hash) as project:
            colors = class_colors(project.ontology_structure)
            evaluation = stored_for(project, query.branch, compare) if compare else None
            if errors is not None:
                found_units, total, counts = self._error_page(project, evaluation, query, errors, per, page)
            else:
                found = project.find_data_units(query, limit=per, offset=(page - 1) * per)
                found_units, total, counts = found.units, found.total, {}
            rows = project.label_rows_of(found_units, query.branch)
            other = project.label_rows_of(found_units, compare) if compare else None
            units = []
            for i, (unit, row) in enumerate(zip(found_units, rows, strict=True)):
                entry: dict[str, Any] = {
                    **self._unit_head(project, unit),
                    "thumb": f"{self.base}/thumbs/{project_hash}/{unit.data_hash}",
                    "marks": [m.to_json() for m in marks_of_row(row, 0, colors) if _keep(m, query)],
                }
                if other is not None:
                    entry["compare_marks"] = [
                        m.to_json() for m in marks_of_row(other[i], 0, colors) if _keep(m, query)
                    ]
                if evaluation is not None:
                    entry["matches"], entry["compare_matches"] = object_matches(evaluation, unit.data_hash)
                if errors is not None:
                    entry["errors"] = counts[unit.data_hash]
                units.append(entry)
        offset = (page - 1) * per
        return {
            "units": units,
            "total": total,
            "offset": offset,
            "per": per,
            "evaluated": evaluation is not None,
        }

    def _error_page(
        self, project: Project, evaluation: Any, query: UnitQuery, kind: str, per: int, page: int
    ) -> tuple[list[DataUnit], int, dict[str, int]]:
        """One page of the units with errors of ``kind``, worst first (``errors=fp|fn``)."""
        if evaluation is None:
            raise LabelportError(
                f"errors= needs a stored evaluation of {query.branch!r} against the compared branch; "
                "run `labelport eval --pred BRANCH --gt BRANCH` first (the viewer never computes one)."
            )
        ordered = error_units(evaluation, kind)
        chosen = ordered[(page - 1) * per : page * per]
        by_hash = {u.data_hash: u for u in project.get_data_units([h for h, _ in chosen])}
        return [by_hash[h] for h, _ in chosen if h in by_hash], len(ordered), dict(ordered)

    def evaluation_json(self, request: Request, project_hash: str) -> Any:
        """The stored evaluation of ``compare`` against ``branch`` (``main``), or a 404 saying how to make one."""
        params = request.query_params
        truth = params.get("branch") or MAIN_BRANCH
        prediction = params.get("compare") or ""
        if not prediction:
            raise LabelportError("compare= (the prediction branch) is needed for an evaluation.")
        with self._project(request, project_hash) as project:
            evaluation = stored_for(project, truth, prediction)
            if evaluation is None:
                raise NotFoundError(
                    "current stored evaluation",
                    f"{prediction} against {truth}",
                    key="branches",
                    hint=f"run `labelport eval --pred {prediction} --gt {truth}`; the viewer never computes one",
                )
            return evaluation_json(evaluation)

    def counts_json(self, request: Request, project_hash: str) -> Any:
        """Objects per class for the grid's filters (without the class filter), asked for after the
        page itself: over a whole train-scale project they take longer than the page."""
        query, _ = grid_query(request.query_params)
        with self._project(request, project_hash) as project:
            return {"counts": project.class_counts(query)}

    def _unit_head(self, project: Project, unit: DataUnit) -> dict[str, Any]:
        return {
            "data_hash": unit.data_hash,
            "title": unit.title,
            "data_type": unit.data_type.value,
            "width": unit.width,
            "height": unit.height,
            "frames": unit.frames,
            "image": self._image(project, unit, 0),
        }

    def unit_json(self, request: Request, project_hash: str, data_hash: str) -> Any:
        params = request.query_params
        branch = params.get("branch") or MAIN_BRANCH
        compare = params.get("compare") or None
        with self._project(request, project_hash) as project:
            unit = self._unit(project, data_hash)
            colors = class_colors(project.ontology_structure)
            row = project.label_rows_of([unit], branch)[0]
            frames = [
                {
                    **self._image(project, unit, f),
                    "width": unit.frame_size(f)[0],
                    "height": unit.frame_size(f)[1],
                    "title": unit.members[f].title if unit.members else f"frame {f}",
                }
                for f in range(unit.frames if unit.members else 1)
            ]
            data: dict[str, Any] = {
                **self._unit_head(project, unit),
                "fps": unit.fps,
                "branch": branch,
                "frame_images": frames,
                "marks": [m.to_json() for m in marks_of_row(row, None, colors)],
                "classifications": [
                    {"title": c.ontology_item.title, "frames": sorted(c.frames), "answer": c.answer}
                    for c in row.classification_instances
                ],
            }
            if compare:
                other = project.label_rows_of([unit], compare)[0]
                data["compare"] = compare
                data["compare_marks"] = [m.to_json() for m in marks_of_row(other, None, colors)]
                evaluation = stored_for(project, branch, compare)
                if evaluation is not None:
                    data["matches"], data["compare_matches"] = object_matches(
                        evaluation, unit.data_hash, unit.frames
                    )
        return data

    # -- pixels ------------------------------------------------------------------------------------

    def media(self, request: Request, project_hash: str, data_hash: str, frame: int) -> Response:
        with self._project(request, project_hash) as project:
            unit = self._unit(project, data_hash)
            roots = self._roots(project)
        if not 0 <= frame < unit.frames:
            raise LabelportError(f"frame {frame} is beyond {unit.title!r}, which has {unit.frames}.")
        located = roots.locate_frame(unit, frame)
        if located.path is None:
            error = LabelportError(f"{located.reason or 'the location is a URL'}; refused.")
            error.status = 403
            raise error
        served_as = media_type(located.path, located.video)
        if served_as is None:  # a file of any other kind is never served, whatever its name says
            error = LabelportError(
                f"the file of {unit.title!r} is not an image or a video the viewer serves."
            )
            error.status = 415
            raise error
        headers = {"Cache-Control": "private, max-age=300"}
        return FileResponse(located.path, media_type=served_as, headers=headers)

    def thumb(self, request: Request, project_hash: str, data_hash: str) -> Response:
        params = request.query_params
        with self._project(request, project_hash) as project:
            unit = self._unit(project, data_hash)
            if params.get("labels") == "1":
                drawn = picture(
                    project,
                    unit,
                    branch_name=params.get("branch") or None,
                    roots=self._roots(project),
                    cache=self.cache,
                )
                image, note = drawn.image, drawn.note
            else:
                image, _, note = base_image(unit, 0, self._roots(project), self.cache)
        headers = {"Cache-Control": "private, max-age=60"}
        if note:
            headers["X-Labelport-Note"] = note.encode("ascii", "replace").decode()
        return Response(jpeg_bytes(image), media_type="image/jpeg", headers=headers)

    # -- assembly ----------------------------------------------------------------------------------

    def router(self) -> APIRouter:
        """The routes, relative to ``base`` (mount the router with ``prefix=base``)."""
        router = APIRouter()

        def page(name: str, check: Callable[[Request, dict[str, str]], None] | None = None) -> Any:
            def show(request: Request) -> Response:
                data = {k: str(v) for k, v in request.path_params.items()}
                try:
                    if check is not None:
                        check(request, data)
                    else:
                        with self.serial:
                            self.authenticate(request)
                except LabelportError as exc:
                    return _shell(self.base, "error", exc.status, message=str(exc), status=str(exc.status))
                return _shell(self.base, name, 200, **{k.replace("_", "-"): v for k, v in data.items()})

            return show

        def see_project(request: Request, data: dict[str, str]) -> None:
            with self._project(request, data["project_hash"]) as project:
                if "data_hash" in data:
                    self._unit(project, data["data_hash"])

        def api(work: Callable[..., Any]) -> Any:
            def run(request: Request) -> Response:
                try:
                    result = work(request, **request.path_params)
                except LabelportError as exc:
                    return error_json(exc)
                return result if isinstance(result, Response) else _json(result)

            return run

        router.add_api_route("/", page("projects"), methods=["GET"], include_in_schema=False)
        router.add_api_route("/projects/{project_hash}", page("grid", see_project), methods=["GET"])
        router.add_api_route(
            "/projects/{project_hash}/units/{data_hash}", page("unit", see_project), methods=["GET"]
        )
        router.add_api_route(
            "/projects/{project_hash}/evaluation", page("evaluation", see_project), methods=["GET"]
        )
        router.add_api_route("/api/projects", api(self.projects_json), methods=["GET"])
        router.add_api_route(
            "/api/projects/{project_hash}/evaluation", api(self.evaluation_json), methods=["GET"]
        )
        router.add_api_route("/api/projects/{project_hash}", api(self.project_json), methods=["GET"])
        router.add_api_route("/api/projects/{project_hash}/units", api(self.units_json), methods=["GET"])
        router.add_api_route(
            "/api/projects/{project_hash}/units/{data_hash}", api(self.unit_json), methods=["GET"]
        )
        router.add_api_route("/api/projects/{project_hash}/counts", api(self.counts_json), methods=["GET"])

        def media(request: Request, project_hash: str, data_hash: str, frame: str) -> Response:
            if not frame.isdigit():
                raise LabelportError(f"a frame is a whole number, not {frame!r}.")
            return self.media(request, project_hash, data_hash, int(frame))

        router.add_api_route("/media/{project_hash}/{data_hash}/{frame}", api(media), methods=["GET"])
        router.add_api_route("/thumbs/{project_hash}/{data_hash}", api(self.thumb), methods=["GET"])

        def static(request: Request, name: str) -> Response:
            if name not in _STATIC:
                raise NotFoundError("file", name, key="name")
            data = resources.files("labelport.viewer").joinpath(f"static/{name}").read_bytes()
            return Response(data, media_type=_STATIC[name], headers={"Cache-Control": "no-cache"})

        router.add_api_route("/static/{name}", api(static), methods=["GET"])
        return router
