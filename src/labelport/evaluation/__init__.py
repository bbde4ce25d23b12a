"""Predictions judged against ground truth: COCOeval's matching and metrics, and stored evaluations.

``project.evaluate(pred_branch)`` returns an :class:`Evaluation`; ``project.diff(a, b)`` compares two
label branches with the same matching. The engine (:mod:`.engine`) works on columns of numbers; the
store is read through :mod:`.run`; nothing here knows HTTP or the terminal.

>>> from labelport.evaluation import Evaluation, Params
>>> Params.make("segm").iou_type
'segm'
"""

from labelport.evaluation.params import Params
from labelport.evaluation.result import Evaluation

__all__ = ["Evaluation", "Params"]
