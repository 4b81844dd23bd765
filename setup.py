"""Builds the one compiled module, hallkpi.core._engine, from ext/.

Metadata lives in pyproject.toml. Environment switches:
  HALLKPI_SANITIZE=1  build with -fsanitize=address,undefined (preload the ASan runtime)
  HALLKPI_DEBUG=1     build with -O0 -g
"""

import os
from glob import glob

from pybind11.setup_helpers import ParallelCompile, Pybind11Extension
from setuptools import setup

# The binding is several small files (ext/src/register_*.cpp): compile them side by side.
ParallelCompile("HALLKPI_BUILD_JOBS", default=2).install()

flags = ["-Wall", "-Wextra", "-Wno-unused-parameter"]
link: list[str] = []
if os.environ.get("HALLKPI_DEBUG"):
    flags += ["-O0", "-g"]
else:
    flags += ["-O3"]
if os.environ.get("HALLKPI_SANITIZE"):
    flags += ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
    link += ["-fsanitize=address,undefined"]

setup(
    ext_modules=[
        Pybind11Extension(
            "hallkpi.core._engine",
            sorted(glob("ext/src/*.cpp")),
            include_dirs=["ext/include"],
            cxx_std=17,
            extra_compile_args=flags,
            extra_link_args=link,
        )
    ]
)
