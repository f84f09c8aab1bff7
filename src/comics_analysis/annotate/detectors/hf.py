"""Panel detection with any ``transformers`` object detector (``AutoModelForObjectDetection``),
by Hub name or local folder: ``--detector hf:NAME_OR_PATH``.

Which classes are panels comes from the checkpoint's ``id2label``: labels named like a panel
("panel", "frame", CoMix's "panel") are kept; a one-class model's only class is taken as panels.
torch and transformers are imported only when such a detector is built.
"""

from __future__ import annotations

from functools import lru_cache

from .base import Detection

PANEL_NAMES = ("panel", "frame", "panels", "frames")


class HfDetector:
    def __init__(self, name_or_path: str, threshold: float = 0.5, device: str | None = None):
        try:
            import torch
            from transformers import AutoImageProcessor, AutoModelForObjectDetection
        except ImportError:
            raise RuntimeError(
                "the hf detector needs torch and transformers: pip install 'comics-analysis[ml]'"
            ) from None
        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.processor = AutoImageProcessor.from_pretrained(name_or_path)
        self.model = AutoModelForObjectDetection.from_pretrained(name_or_path).to(self.device).eval()
        labels = {int(k): str(v).lower() for k, v in self.model.config.id2label.items()}
        self.panel_ids = {k for k, v in labels.items() if v in PANEL_NAMES}
        if not self.panel_ids and len(labels) == 1:
            self.panel_ids = set(labels)
        if not self.panel_ids:
            raise ValueError(f"{name_or_path}: no panel class among its labels {sorted(labels.values())}")
        self.threshold = threshold
        self.name = name_or_path

    def __call__(self, image, source: str | None = None) -> list[Detection]:
        image = image.convert("RGB")
        inputs = self.processor(images=image, return_tensors="pt").to(self.device)
        with self.torch.no_grad():
            outputs = self.model(**inputs)
        result = self.processor.post_process_object_detection(
            outputs, threshold=self.threshold, target_sizes=[(image.height, image.width)]
        )[0]
        detections = []
        for score, label, box in zip(
            result["scores"].tolist(), result["labels"].tolist(), result["boxes"].tolist()
        ):
            if label not in self.panel_ids:
                continue
            x0, y0 = max(0.0, box[0]), max(0.0, box[1])
            x1, y1 = min(float(image.width), box[2]), min(float(image.height), box[3])
            if x1 - x0 >= 1 and y1 - y0 >= 1:
                detections.append(Detection((x0, y0, x1 - x0, y1 - y0), round(float(score), 4)))
        return detections


@lru_cache(maxsize=2)
def hf_detector(name_or_path: str, threshold: float = 0.5) -> HfDetector:
    """One model per process and checkpoint."""
    return HfDetector(name_or_path, threshold)
