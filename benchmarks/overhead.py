"""Superseded by ``benchmarks/run.py`` (the whole suite); kept so old ``make bench`` lines still work.

.venv/bin/python benchmarks/overhead.py [run.py options]   # same as benchmarks/run.py
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.argv[0] = str(Path(__file__).with_name("run.py"))
    runpy.run_path(sys.argv[0], run_name="__main__")
