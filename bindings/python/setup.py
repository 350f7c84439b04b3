# SPDX-License-Identifier: MIT
"""Build of plkv's extension module; metadata is in pyproject.toml.

libplkv is found, first match wins, in:
  1. $PLKV_INCLUDE_DIR and $PLKV_LIB_DIR;
  2. the plkv source tree this directory sits in, after `make` there
     (the module then loads that lib/libplkv.so through its run path);
  3. where an sdist made from that tree recorded it (build-paths.json);
  4. pkg-config's libplkv (after `make install`).
"""

import json
import os
import subprocess
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent
TOP = HERE.parent.parent
RECORD = HERE / "build-paths.json"


def from_env():
    inc, lib = os.environ.get("PLKV_INCLUDE_DIR"), os.environ.get("PLKV_LIB_DIR")
    return (inc, lib) if inc and lib else None


def from_tree():
    if (TOP / "include" / "plkv.h").exists() and (TOP / "lib" / "libplkv.so").exists():
        return str(TOP / "include"), str(TOP / "lib")
    return None


def from_record():
    if RECORD.exists():
        paths = json.loads(RECORD.read_text())
        if Path(paths["lib"], "libplkv.so").exists():
            return paths["include"], paths["lib"]
    return None


def from_pkg_config():
    try:
        out = subprocess.run(
            ["pkg-config", "--variable=includedir", "--variable=libdir", "libplkv"],
            check=True, capture_output=True, text=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return None
    return tuple(out) if len(out) == 2 else None


def find_libplkv():
    for how in (from_env, from_tree, from_record, from_pkg_config):
        found = how()
        if found:
            return found
    raise SystemExit(
        "plkv: libplkv not found: run `make` in the plkv source tree, "
        "`make install`, or set PLKV_INCLUDE_DIR and PLKV_LIB_DIR")


class SdistRecordingPaths(sdist):
    """An sdist built from the tree remembers where that tree's libplkv
    is, so `python3 -m build` (wheel from the unpacked sdist) finds it."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        found = from_env() or from_tree()
        if found:
            Path(base_dir, RECORD.name).write_text(
                json.dumps({"include": found[0], "lib": found[1]}))


include_dir, lib_dir = find_libplkv()

setup(
    # here, not in pyproject.toml: Debian 12's setuptools calls
    # [tool.setuptools] beta and warns
    package_dir={"": "src"},
    packages=["plkv"],
    ext_modules=[
        Extension(
            "plkv._plkv",
            sources=["src/plkv/_plkv.c"],
            include_dirs=[include_dir],
            library_dirs=[lib_dir],
            runtime_library_dirs=[lib_dir],
            libraries=["plkv"],
            extra_compile_args=["-std=gnu11", "-Wall", "-Wextra", "-Werror",
                                "-Wno-missing-field-initializers",
                                "-Wno-cast-function-type"],
        )
    ],
    cmdclass={"sdist": SdistRecordingPaths},
)
