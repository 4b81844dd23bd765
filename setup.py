"""Builds the one compiled module, hallkpi.core._engine, from ext/.

Metadata lives in pyproject.toml. Environment switches:
  HALLKPI_SANITIZE=1  build with -fsanitize=address,undefined (preload the ASan runtime)
  HALLKPI_DEBUG=1     build with -O0 -g
"""

import os

from pybind11.setup_helpers import Pybind11Extension
from setuptools import setup

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
            ["ext/src/binding.cpp"],
            include_dirs=["ext/include"],
            cxx_std=17,
            extra_compile_args=flags,
            extra_link_args=link,
        )
    ]
)
