"""Hand results back to the tools people already use: ComicInfo.xml (page types for readers and
library managers), COCO and YOLO (detector training elsewhere). Reads annotate folders; writes
files whole (atomic)."""

from .comicinfo import TYPE_OF_PAGE, ExportResult, comicinfo_xml, export_comicinfo
from .detection import YOLO_CLASSES, DetectionExport, export_coco, export_yolo

__all__ = [
    "TYPE_OF_PAGE",
    "YOLO_CLASSES",
    "DetectionExport",
    "ExportResult",
    "comicinfo_xml",
    "export_coco",
    "export_comicinfo",
    "export_yolo",
]
