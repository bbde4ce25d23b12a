"""The bounds every input is held to, in one place (docs/importing.md's validation table names each).

Each bound keeps a hostile file or request from costing the server or the command more than a
fixed amount of memory or time; real data stays well inside them.

>>> MAX_KEYPOINTS, MAX_IMAGE_PIXELS
(1000, 178956970)
"""

from __future__ import annotations

#: Key points of one category (a YOLO ``kpt_shape``, a COCO category's ``keypoints``): COCO-WholeBody
#: has 133, a face mesh 478.
MAX_KEYPOINTS = 1000

#: Frames of a video that an import creates from the frames its file names (the highest frame + 1).
MAX_VIDEO_FRAMES = 1_000_000

#: Numbers on one line of a YOLO label file after its class id (a polygon of 50,000 points).
MAX_LINE_NUMBERS = 100_000

#: Bytes of one line of a YOLO label file.
MAX_LINE_BYTES = 4 * 1024 * 1024

#: Bytes of one label file of a folder format (a YOLO ``.txt`` or split list, a Pascal VOC ``.xml``),
#: and of each such member of an uploaded archive once inflated: the objects of one file are held
#: together, and 16 MiB of YOLO boxes (930,000 of them) take about 650 MiB.
MAX_LABEL_FILE_BYTES = 16 * 1024 * 1024

#: Bytes of a one-file format read whole into records (a CVAT XML file, a Label Studio JSON export):
#: its records take about 24 bytes of memory for each of its bytes, so 32 MiB stays under 1 GiB.
#: (COCO files are read by their own importer, which holds no record per annotation: no such cap.)
MAX_DOCUMENT_BYTES = 32 * 1024 * 1024
#: What a refusal of such a file says after its limit.
READ_WHOLE = ", as it is read whole (split a larger one, as a project export splits into tasks)"

#: What a member of an uploaded archive is, when its name ends so: a label file (capped as above).
LABEL_FILE_SUFFIXES = (".txt", ".xml", ".json", ".yaml", ".yml", ".meta")

#: Pixels of an image labelport decodes (a rendered unit, a thumbnail, a VOC mask): Pillow's own
#: decompression-bomb limit, 2^28 / 1.5 (about 13,400 x 13,400).
MAX_IMAGE_PIXELS = 178_956_970

#: Values of each list of an evaluation's parameters.
MAX_IOU_THRESHOLDS = 20
MAX_MAX_DETS = 8
MAX_AREA_RANGES = 8
MAX_EVAL_CATEGORIES = 10_000
