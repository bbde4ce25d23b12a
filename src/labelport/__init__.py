"""labelport: a self-hostable label store for computer-vision annotation, with lossless COCO import and export.

>>> import labelport
>>> "UserClient" in labelport.__all__
True
"""

from labelport.client import FrameIndex, Project, UserClient
from labelport.convert import convert_labels
from labelport.data import DataType, DataUnit, Member
from labelport.errors import (
    AmbiguousTitle,
    AuthError,
    CocoError,
    DataError,
    FormatError,
    ImportFailed,
    KeyFileError,
    LabelError,
    LabelportError,
    NotFoundError,
    OntologyError,
    PermissionDenied,
    StoreError,
    TitleTaken,
)
from labelport.imports.report import ImportReport, Problem
from labelport.labels import (
    Bitmask,
    BoundingBox,
    ClassificationInstance,
    LabelRow,
    ObjectInstance,
    Point,
    Polygon,
    Polyline,
    RotatableBoundingBox,
    Skeleton,
)
from labelport.ontology import (
    Attribute,
    AttributeType,
    Classification,
    Object,
    OntologyStructure,
    Option,
    Shape,
)
from labelport.version import __version__

EncordUserClient = UserClient


__all__ = [
    "AmbiguousTitle",
    "Attribute",
    "AttributeType",
    "AuthError",
    "Bitmask",
    "BoundingBox",
    "Classification",
    "ClassificationInstance",
    "CocoError",
    "DataError",
    "DataType",
    "DataUnit",
    "EncordUserClient",
    "FormatError",
    "FrameIndex",
    "ImportFailed",
    "ImportReport",
    "KeyFileError",
    "LabelError",
    "LabelRow",
    "LabelportError",
    "Member",
    "NotFoundError",
    "Object",
    "ObjectInstance",
    "OntologyError",
    "OntologyStructure",
    "Option",
    "PermissionDenied",
    "Point",
    "Polygon",
    "Polyline",
    "Problem",
    "Project",
    "RotatableBoundingBox",
    "Shape",
    "Skeleton",
    "StoreError",
    "TitleTaken",
    "UserClient",
    "__version__",
    "convert_labels",
]
