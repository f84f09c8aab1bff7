"""Hand results back to the tools comic readers use: ComicInfo.xml (page types for readers and
library managers). Reads annotate folders; writes files whole (atomic)."""

from .comicinfo import TYPE_OF_PAGE, ExportResult, comicinfo_xml, export_comicinfo

__all__ = ["TYPE_OF_PAGE", "ExportResult", "comicinfo_xml", "export_comicinfo"]
