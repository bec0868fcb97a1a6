"""The application: startup, main window, docks, file actions, settings, diagnostics."""
