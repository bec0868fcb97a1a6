"""Qt-free and epics-free core: PV state, value formatting, PV names and lists, CA environment."""
