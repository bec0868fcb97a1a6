"""Build steps for the optional C/C++ update paths.

- ``pvprobe.ca._fastmon`` (C): a libca monitor callback.
- ``pvprobe.pva._pvafast`` (C++): pvxs monitors of plain scalars, built against the
  pvxslibs and epicscorelibs headers (build requirements in pyproject.toml), with
  their old C++ string ABI; it loads only with the pvxs it was built for (same
  soname, ABI checked at import).

Everything else is in pyproject.toml. Without a compiler (or without those headers)
the install still succeeds and the engine falls back to Python (slower at 100,000
updates/s, otherwise the same).
"""

import sysconfig

from setuptools import Extension, setup


def pvafast() -> list:
    try:
        import epicscorelibs.path
        import pvxslibs.path
    except ImportError:      # no headers: p4p alone serves pvAccess
        return []
    import os
    if sysconfig.get_platform().startswith("win"):
        return []
    pvxs_lib = os.path.join(os.path.dirname(pvxslibs.path.include_path), "lib")
    return [Extension(
        "pvprobe.pva._pvafast", ["pvprobe/pva/_pvafast.cpp"],
        include_dirs=[pvxslibs.path.include_path, epicscorelibs.path.include_path],
        library_dirs=[pvxs_lib, epicscorelibs.path.lib_path],
        libraries=["pvxs"],
        define_macros=[("_GLIBCXX_USE_CXX11_ABI", "0"), ("_GNU_SOURCE", None),
                       ("_DEFAULT_SOURCE", None), ("linux", None), ("UNIX", None)],
        extra_compile_args=["-std=c++11", "-O2"],
        # found next to p4p's copies once p4p is imported (pvprobe.pva imports it first)
        runtime_library_dirs=["$ORIGIN/../../pvxslibs/lib", "$ORIGIN/../../epicscorelibs/lib"],
        language="c++",
        optional=True,
    )]


setup(ext_modules=[Extension("pvprobe.ca._fastmon", ["pvprobe/ca/_fastmon.c"], optional=True),
                   *pvafast()])
