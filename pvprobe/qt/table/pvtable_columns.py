"""The PV table's columns, roles and fixed texts (shared by the model, its parts and the
widgets)."""

from __future__ import annotations

import enum

from PyQt5.QtCore import Qt


class Col(enum.IntEnum):
    """Column indices of :class:`PVTableModel`."""

    NAME = 0
    VALUE = 1
    UNITS = 2
    SEVERITY = 3
    STATUS = 4
    TIMESTAMP = 5
    CONNECTION = 6
    ACCESS = 7
    DESCRIPTION = 8
    COMPLETION = 9
    SAVED = 10
    PROTOCOL = 11


HEADERS = ("Name", "Value", "Units", "Severity", "Status", "Timestamp", "Connection",
           "Access", "Description", "Completion", "Saved", "Protocol")

#: The role whose data is the row's :class:`PVState`.
STATE_ROLE = Qt.UserRole
#: True when the live value differs from the saved (snapshot) value, False when it
#: matches, None when there is nothing to compare (no saved value, no live value).
DIFF_ROLE = Qt.UserRole + 1

CONNECTING_TEXT = "connecting…"
DISCONNECTED_TEXT = "DISCONNECTED"
PUTTING_TEXT = "putting…"
READ_ONLY_TEXT = "read-only"
DESC_SUFFIX = ".DESC"
