"""The architecture rules of docs/ARCHITECTURE.md ("Rules (checked)"), checked rather than only written down.

The import contracts live in pyproject.toml ([tool.importlinter]); the engine-free list is read from there, so the
static check and the import check below cover the same packages.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ENGINE_FREE_CONTRACT = "engine-free"

# Runs in a fresh interpreter: a finder in front of every other one refuses the engine, so an import of it anywhere
# below a core package (even inside a third-party library) fails instead of quietly starting a JVM-bound module.
IMPORT_WITHOUT_ENGINE = r"""
import importlib, pkgutil, sys

BLOCKED = ("pyspark", "delta", "py4j")


class NoEngine:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: engine-free code)", name=name)
        return None


sys.meta_path.insert(0, NoEngine())
try:
    import pyspark  # the guard itself must hold, or the check below proves nothing
    sys.exit("pyspark imported despite the guard")
except ModuleNotFoundError:
    pass
failed, imported = [], 0
for package in sys.argv[1:]:
    names = [package]
    try:
        names += [info.name for info in pkgutil.walk_packages(importlib.import_module(package).__path__,
                                                              package + ".", onerror=lambda name: None)]
    except Exception as exc:
        failed.append(f"{package}: {type(exc).__name__}: {exc}")
        continue
    for name in names:
        try:
            importlib.import_module(name)
            imported += 1
        except Exception as exc:
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print(f"imported {imported} modules; engine modules loaded: {loaded}")
for line in failed:
    print("FAILED", line)
sys.exit(1 if failed or loaded else 0)
"""


def importlinter_config() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["importlinter"]


def engine_free_packages() -> list[str]:
    contracts = {c.get("id"): c for c in importlinter_config()["contracts"]}
    return sorted(contracts[ENGINE_FREE_CONTRACT]["source_modules"])


def lib_env() -> dict[str, str]:
    """This checkout's lib/ first, so the code checked is the code here (not another editable install)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "lib"), env.get("PYTHONPATH")) if p)
    return env


def lint_imports_command() -> list[str]:
    beside = Path(sys.executable).parent / "lint-imports"
    found = str(beside) if beside.exists() else shutil.which("lint-imports")
    assert found, "lint-imports not found: install the dev extra (pip install -e '.[dev]', done by `make env`)"
    return [found]


def test_import_contracts_are_kept():
    # --no-cache: nothing written into the checkout, and never a stale graph
    done = subprocess.run(lint_imports_command() + ["--no-cache"], cwd=ROOT, env=lib_env(), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, f"import contracts broken (pyproject.toml [tool.importlinter]):\n" \
                                 f"{done.stdout}\n{done.stderr}"


def test_every_engine_free_module_imports_without_pyspark():
    packages = engine_free_packages()
    done = subprocess.run([sys.executable, "-c", IMPORT_WITHOUT_ENGINE, *packages], cwd=ROOT, env=lib_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"engine-free modules that need Spark:\n{done.stdout}\n{done.stderr}"
    assert "imported" in done.stdout


def test_the_engine_free_list_names_every_core_folder():
    """A new core package must join the contract; the adapters and entry points are the only other folders."""
    not_cores = {"spark", "storage", "schemas"}  # the two adapters, and the JSON schemas' package
    folders = {p.name for p in (ROOT / "lib" / "postmix").iterdir() if (p / "__init__.py").is_file()}
    assert {f"postmix.{name}" for name in folders - not_cores} == set(engine_free_packages())
