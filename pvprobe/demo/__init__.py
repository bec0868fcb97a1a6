"""Demo IOC (a real pythonSoftIOC process) and its launcher; never imports epics."""
