"""UMAP / clustering / plots / outliers over an embedding store (DESIGN 2).

Needs the ``store`` extra (zarr) and the ``space`` extra (umap-learn, scikit-learn; matplotlib is
a base dependency). umap-learn is imported only when a UMAP map is made.
"""

from .maps import (
    PLOTS,
    POINTS_FILE,
    AnalysisResult,
    ClusterInfo,
    analyze_store,
    cluster_pages,
    comic_reference,
    default_clusters,
    embed_2d,
    outlier_scores,
    read_points,
)
from .prose import PROSE_PAGE_LINES, ProseLines, not_a_comic_scores, prose_lines

__all__ = [
    "PLOTS",
    "POINTS_FILE",
    "PROSE_PAGE_LINES",
    "AnalysisResult",
    "ClusterInfo",
    "ProseLines",
    "analyze_store",
    "cluster_pages",
    "comic_reference",
    "default_clusters",
    "embed_2d",
    "not_a_comic_scores",
    "outlier_scores",
    "prose_lines",
    "read_points",
]
