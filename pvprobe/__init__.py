"""pvprobe: monitor and probe EPICS process variables over Channel Access."""

__version__ = "0.1.0"
