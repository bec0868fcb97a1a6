"""The protocol-neutral engine: PV state, users' needs, coalescing, batches,
pacing and lean decisions. Nothing here knows Channel Access (or any protocol):
a protocol is a source behind it (``pvprobe.ca`` for CA)."""
