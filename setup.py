"""Build step for the optional C monitor callback (pvprobe.ca._fastmon).

Everything else is in pyproject.toml. Without a C compiler the install still
succeeds and the engine falls back to Python callbacks (slower at 100,000
updates/s, otherwise the same).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("pvprobe.ca._fastmon", ["pvprobe/ca/_fastmon.c"], optional=True)])
