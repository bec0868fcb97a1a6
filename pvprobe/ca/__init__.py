"""Channel Access engine: the only pvprobe package allowed to import epics (pyepics)."""
