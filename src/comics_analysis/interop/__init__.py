"""Hand results back to the tools people already use: ComicInfo.xml (page types for readers and
library managers), ACBF (panels and lettering for panel-by-panel reading), COCO and YOLO
(detector training elsewhere). Reads annotate folders; writes files whole (atomic)."""

from .acbf import TYPE_OF_KIND, acbf_xml, export_acbf
from .archive import ExportResult
from .comicinfo import TYPE_OF_PAGE, comicinfo_xml, export_comicinfo
from .detection import YOLO_CLASSES, DetectionExport, export_coco, export_yolo

__all__ = [
    "TYPE_OF_KIND",
    "TYPE_OF_PAGE",
    "YOLO_CLASSES",
    "DetectionExport",
    "ExportResult",
    "acbf_xml",
    "comicinfo_xml",
    "export_acbf",
    "export_coco",
    "export_comicinfo",
    "export_yolo",
]
