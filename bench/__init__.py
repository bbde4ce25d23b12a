"""The COCO-train-scale benchmark behind ``make bench`` (issue: "Import and export at COCO-train scale").

``python -m bench.run`` generates synthetic train2017-shaped COCO files with ``../shared/tools/make_coco.py``
at three scales, runs each job of :mod:`bench.jobs` as its own process, measures the process's wall time,
CPU time and peak RSS, and writes the tables, the target ratios and a linearity check to
``bench/results/latest.md`` and ``bench/results/latest.json``.
"""
