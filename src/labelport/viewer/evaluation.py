"""Where a stored evaluation plugs into the viewer (issue 12 builds evaluations; this build has none).

The viewer is ready for one thing from an evaluation: for a ground-truth branch and a prediction
branch, the match of each drawn object. When the evaluation package lands, :func:`object_matches`
returns ``{object_hash: "tp" | "fp" | "fn" | "wrong_class"}`` read from the stored evaluation
(``project.evaluate(...)`` keeps it), and everything else already follows:

- the unit JSON's ``matches`` field (``routes.unit_json``) carries it; ``static/app.js`` colours
  each mark by its match instead of its class when ``matches`` is present (``matchColour``), and the
  legend shows TP / FP / FN / wrong class;
- the grid's ``errors=fp|fn`` filter (reserved in ``routes.grid_query``; refused with a sentence
  until then) pages the units with false positives / negatives, worst first;
- an evaluation page (``/projects/{hash}/evaluations/{id}``) shows the summary, the per-class table
  and the precision/recall curves.

Until then :func:`object_matches` says there is nothing to show, and the viewer colours by class.
"""

from __future__ import annotations

from labelport.client import Project

#: The kinds of match an evaluation gives a drawn object.
MATCH_KINDS = ("tp", "fp", "fn", "wrong_class")


def object_matches(project: Project, truth_branch: str, prediction_branch: str) -> dict[str, str] | None:
    """The stored evaluation's match per object hash, or None when no evaluation is stored (always,
    in this build: evaluations are not part of it)."""
    return None
