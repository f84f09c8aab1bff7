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

__all__ = [
    "PLOTS",
    "POINTS_FILE",
    "AnalysisResult",
    "ClusterInfo",
    "analyze_store",
    "cluster_pages",
    "comic_reference",
    "default_clusters",
    "embed_2d",
    "outlier_scores",
    "read_points",
]
