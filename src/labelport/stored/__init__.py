"""Stored geometry: what the store keeps of an object's coordinates, decoded and encoded in one place.

The store keeps an object's coordinates as their JSON, or as None when they are the ones in its
source record (a COCO annotation imported and not changed since, kept byte for byte). This package
reads both into the domain's coordinates (:mod:`.decode`), writes coordinates as a record's fields
(:mod:`.encode`: ``bbox``, ``segmentation``, ``keypoints``, ``area``), and numbers records the way
an export does (:mod:`.ids`). Evaluation, statistics, the client and the exporters all use it; it
imports nothing above the domain.
"""
