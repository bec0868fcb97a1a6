"""The Qt front end of pvprobe: the engine bridge, item models, widgets and windows.

Only this package imports Qt; nothing here imports ``epics`` (pyepics). Data
flows one way: engine (worker thread) -> :class:`~pvprobe.qt.bridge.EngineBridge`
(one queued signal per batch) -> models -> views.
"""
