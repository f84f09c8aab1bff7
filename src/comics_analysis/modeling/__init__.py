"""Models (DESIGN 4). Each sub-package holds files that are uploaded as remote code next to the
weights, so they import only torch, transformers and each other."""
