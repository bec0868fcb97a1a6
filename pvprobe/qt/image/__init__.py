"""The image view (areaDetector arrays)."""
