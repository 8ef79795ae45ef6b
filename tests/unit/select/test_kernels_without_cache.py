"""Where numba has nowhere to write its cache, the kernels compile in memory instead of failing at import."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from postmix.select import select
from postmix.select.params import SelectParams

from helpers import random_instance

LIB = Path(__file__).resolve().parents[3] / "lib"
HERE = Path(__file__).resolve().parent

SCRIPT = """
import json, sys
import numba.core.caching
from postmix.select import kernels, select
from postmix.select.params import SelectParams
from helpers import random_instance
assert kernels.row_gains._cache.__class__.__name__ == "NullCache", "expected the in-memory fallback"
pool, graph = random_instance(11)
print(json.dumps(select(pool, graph, SelectParams(budget=12, progress=False)).index.tolist()))
"""


def test_no_writable_cache_location_falls_back_to_in_memory_compilation(tmp_path):
    # a cache locator that never finds a place: what numba meets on a read-only install with a read-only home
    (tmp_path / "nowhere.py").write_text("class Nowhere:\n    @classmethod\n"
                                         "    def from_function(cls, py_func, py_file):\n        return None\n")
    env = {**os.environ, "NUMBA_CACHE_LOCATOR_CLASSES": "nowhere.Nowhere",
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(LIB), str(HERE)])}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    pool, graph = random_instance(11)
    expected = select(pool, graph, SelectParams(budget=12, progress=False)).index.tolist()
    assert json.loads(done.stdout.strip().splitlines()[-1]) == expected
    assert np.asarray(expected).size == 12
