"""COCO import: one pass validates every annotation, matches images and categories, and writes rows.

The import is one store transaction (all of it lands or none), and it is idempotent: each annotation
is keyed by (branch, source name, COCO annotation id) — results lists, which have no ids, by their
1-based position — so importing the same file again updates the same objects. Nothing is converted
on the way in: each annotation's original bytes are stored, and an export gives them back.

``import_coco(store, project_hash, "instances.json", user="ada")`` returns an ``ImportReport``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from labelport.data import DataUnit
from labelport.errors import ImportFailed
from labelport.formats.coco import schema
from labelport.formats.coco.annotations import Pass
from labelport.formats.coco.dict_annotations import AnnotationsChild, annotations_in_child
from labelport.formats.coco.images import image_problems, plan_images
from labelport.formats.coco.plan import Learned, Plan, ShapesLearned, plan_categories
from labelport.formats.coco.read import ParsedCoco, read_coco
from labelport.formats.subsets import given_subset
from labelport.imports.fingerprint import refuse_repeat
from labelport.imports.policy import ErrorPolicy
from labelport.imports.report import ImportReport
from labelport.labels import MAIN_BRANCH
from labelport.ontology import OntologyStructure
from labelport.plural import plural
from labelport.progress import Progress
from labelport.store.base import LabelStore, ProjectRecord


def import_coco(
    store: LabelStore,
    project_hash: str,
    source: Any,
    *,
    user: str,
    progress: Progress | None = None,
    match: Any = "auto",
    categories: Any = "by-name",
    on_error: str = "fail",
    dry_run: bool = False,
    branch_name: str | None = None,
    confidence_field: str | None = None,
    create_missing_data_units: bool = False,
    replace: bool = False,
    source_name: str | None = None,
    subset: str | None = None,
    places: Callable[[str], str] | None = None,
    repeat_check: bool | None = None,
    check_units: Callable[[Sequence[DataUnit]], None] | None = None,
) -> ImportReport:
    """Import a COCO source into a project; see the module docstring and README "Importing COCO".

    ``places`` names each problem's place in the files a format reader read (its
    :meth:`~labelport.formats.base.Dataset.locate`), instead of the COCO path into what it made.
    ``repeat_check``: refuse annotations an earlier import brought under another name
    (``already_imported``); by default unless ``source_name`` is given (a reader of another format
    names its source itself, and asks for the check). ``check_units`` sees the data units the import
    would create before anything is stored, and may refuse them (a team server's media roots).
    """
    started = time.perf_counter()
    on_error = ErrorPolicy.of(on_error).name  # an unknown policy fails here, before reading
    subset = given_subset(subset)
    with _collector_paused(), annotations_in_child(source) as (now, child):
        parsed = read_coco(now)
        parsed.release()  # decoding read every page; the pass maps each slice again as it goes
        options: dict[str, Any] = dict(
            user=user,
            progress=progress,
            match=match,
            categories=categories,
            on_error=on_error,
            dry_run=dry_run,
            branch_name=branch_name,
            confidence_field=confidence_field,
            create_missing_data_units=create_missing_data_units,
            replace=replace,
            source_name=source_name,
            repeat_check=source_name is None if repeat_check is None else repeat_check,
            subset=subset,
            started=started,
            child=child,
            places=places,
            check_units=check_units,
        )
        try:
            return _import(store, project_hash, parsed, **options)
        except ShapesLearned as first:  # rare: see plan.settle_created; the first attempt wrote nothing
            return _import(store, project_hash, parsed, learned=first.learned, **options)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector out of the import: it allocates millions of objects that
    form no cycles, and every full collection would walk all of them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _import(
    store: LabelStore,
    project_hash: str,
    parsed: ParsedCoco,
    *,
    user: str,
    progress: Progress | None,
    match: Any,
    categories: Any,
    on_error: str,
    dry_run: bool,
    branch_name: str | None,
    confidence_field: str | None,
    create_missing_data_units: bool,
    replace: bool,
    source_name: str | None,
    repeat_check: bool,
    subset: str | None,
    started: float,
    child: AnnotationsChild | None,
    places: Callable[[str], str] | None,
    check_units: Callable[[Sequence[DataUnit]], None] | None,
    learned: Learned | None = None,
) -> ImportReport:
    branch = branch_name or MAIN_BRANCH
    report = ImportReport(
        source=source_name or parsed.name,
        branch=branch,
        kind=parsed.kind,
        dry_run=dry_run,
        on_error=on_error,
        replace=replace,
    )
    project = store.get_project(project_hash)
    ontology = store.get_ontology(project.ontology_hash).structure
    units = store.list_data_units(project_hash)
    plan = Plan()
    plan_categories(parsed, ontology, categories, plan, report, learned)
    plan_images(parsed, units, match, create_missing_data_units, plan, report, subset)
    if check_units is not None and plan.new_units:
        check_units(plan.new_units)
    if child is not None:  # a dict's annotations, written by a child meanwhile
        child.fill(parsed)
    # The workers start validating now, while the data units are stored.
    # (a dry run ends in _RolledBack: everything but the rows themselves was done, and undone)
    # imports whose annotations this one may repeat under another name (unless told which name)
    check = repeat_check and not replace and parsed.kind == "instances"
    earlier = store.imports(project_hash) if check else []
    with Pass(parsed, plan, report, user, confidence_field) as importer, suppress(_RolledBack):
        _write(
            store,
            project,
            parsed,
            plan,
            report,
            importer,
            ontology,
            replace,
            progress,
            started,
            places,
            earlier,
        )
    report.seconds = round(time.perf_counter() - started, 3)
    return report


class _RolledBack(Exception):
    """Ends a dry run's transaction: the store rolls back what it did."""


def _write(
    store: LabelStore,
    project: ProjectRecord,
    parsed: ParsedCoco,
    plan: Plan,
    report: ImportReport,
    importer: Pass,
    ontology: OntologyStructure,
    replace: bool,
    progress: Progress | None,
    started: float,
    places: Callable[[str], str] | None,
    earlier: list[dict[str, Any]],
) -> None:
    """The import's one transaction: data units, rows, ontology and project records, the report.

    A dry run takes the same path, so that it reports exactly what the real run would (objects it
    would update, rows it would replace, the same failure): it writes no rows, and rolls back.
    """
    with store.bulk(project.project_hash, report.branch, report.source, importer.user) as session:
        if plan.new_units:
            session.add_data_units(plan.new_units)
            plan.new_units = []  # stored: nothing else holds them, so their memory goes now
        row_ids = session.label_row_ids(sorted({img.data_hash for img in plan.images.values()}))
        for img in plan.images.values():
            img.row_id = row_ids[img.data_hash]
        if replace:
            report.counts.replaced = session.clear(sorted(set(row_ids.values())))
        extras = plan.unit_extras
        # the image records kept on existing units are stored by the writer thread while the
        # workers validate, off the import's path; a failed import rolls them back with the rest
        first = (lambda: session.set_data_unit_extra(extras)) if extras else None
        importer.run(session, progress, not report.dry_run, first)
        image_problems(parsed, plan, report)
        importer.fingerprint.add_images((i, t.data_hash, t.frame) for i, t in plan.images.items())
        report.fingerprint = importer.fingerprint.text()
        if report.counts.created:
            refuse_repeat(report, earlier, session.source_has_objects)
        if places is not None:  # before the failure's sentence and the stored report are made
            report.relocate(places)
        if ErrorPolicy.of(report.on_error).stops(len(report.errors)) or report.errors_of("already_imported"):
            report.seconds = round(time.perf_counter() - started, 3)
            raise ImportFailed(_failure(report), report)
        if plan.ontology_changed:
            # what the import made of the ontology must read back, or the project could not be opened
            OntologyStructure.from_dict(ontology.to_dict())
        if report.dry_run:
            raise _RolledBack
        if plan.ontology_changed:
            session.save_ontology(ontology)
        extra = project.extra
        if "coco" not in extra and parsed.kind == "instances":
            session.set_project_extra({**extra, "coco": _dataset_records(parsed)})
        report.written = True
        report.seconds = round(time.perf_counter() - started, 3)
        session.commit(report.to_json())


def _dataset_records(parsed: ParsedCoco) -> dict[str, Any]:
    """The file's ``info`` and ``licenses``, kept so that an export can give them back."""
    kept: dict[str, Any] = {}
    if parsed.info is not None:
        kept["info"] = schema.any_decoder.decode(parsed.info)
    if parsed.licenses is not None:
        kept["licenses"] = schema.any_decoder.decode(parsed.licenses)
    return kept


def _failure(report: ImportReport) -> str:
    first = str(report.errors[0]).rstrip(".")
    more = f" (and {plural(len(report.errors) - 1, 'more problem')})" if len(report.errors) > 1 else ""
    verb = "would be" if report.dry_run else "was"
    return f"Nothing {verb} imported from {report.source}: {first}{more}."
