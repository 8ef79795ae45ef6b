"""The ingest path never brings pool-sized data to the driver: every collect-like call on it is pinned here."""

from __future__ import annotations

import re
from pathlib import Path

import postmix

PACKAGE = Path(postmix.__file__).resolve().parent
# The modules the ingest stage runs on the driver, and the only driver-side reads they may make (each bounded:
# one row per reject reason, one aggregate, one history row, one runs row).
INGEST_DRIVER_MODULES = ("spark/ingest.py", "spark/stage.py", "storage/delta.py", "storage/runs.py")
ALLOWED = {
    # one row per (kind, reject reason): a closed vocabulary
    "spark/ingest.py": (r'groupBy\("kind", "reason"\)\.agg\(.*F\.countDistinct\("sample_id"\).*\)\.collect\(\)',),
    "storage/delta.py": (r'history\(1\)\.select\("version"\)\.first\(\)',),
    # one run's rows of one stage (a handful: attempts of that stage); that row and the successes of the same work
    # (one per run that did it, whatever the pool's size)
    "storage/runs.py": (r'where\(\(F\.col\("run_id"\) == F\.lit\(run_id\)\) & \(F\.col\("stage"\) == F\.lit\(stage\)\)\)'
                        r'\.collect\(\)',
                        r'\(F\.col\("run_id"\) == F\.lit\(run_id\)\) \| same_work\)\) '
                        r'\.withColumn\(_SAME_WORK, same_work\)\.collect\(\)'),
}
DRIVER_READ = re.compile(r"\.(collect|toPandas|toLocalIterator|take|head|first|tail|toArrow)\(")


def driver_reads(module: str, root: Path = PACKAGE) -> list[str]:
    """Lines of `module` that pull rows to the driver, each joined with the line before (split statements)."""
    lines = (root / module).read_text(encoding="utf-8").splitlines()
    found = []
    for index, line in enumerate(lines):
        if DRIVER_READ.search(line):
            found.append(" ".join(part.strip() for part in lines[max(0, index - 1): index + 1]))
    return found


def unexpected_reads(root: Path = PACKAGE) -> dict[str, list[str]]:
    out = {}
    for module in INGEST_DRIVER_MODULES:
        if not (root / module).exists():
            continue
        bad = [read for read in driver_reads(module, root)
               if not any(re.search(rule, read) for rule in ALLOWED.get(module, ()))]
        if bad:
            out[module] = bad
    return out


def test_the_ingest_path_collects_nothing_that_grows_with_the_pool(outcome):
    bad = unexpected_reads()
    allowed = sum(len(rules) for rules in ALLOWED.values())
    outcome("bounds", "driver_reads_on_the_ingest_path",
            "every collect/first/take/toPandas in " + ", ".join(INGEST_DRIVER_MODULES),
            f"only the {allowed} pinned bounded reads", "only the pinned reads" if not bad else f"UNPINNED: {bad}")
    assert not bad, f"a new driver-side read on the ingest path: pin it here if it is bounded: {bad}"


def test_the_pin_catches_a_new_collect(tmp_path):
    (tmp_path / "spark").mkdir()
    (tmp_path / "spark" / "ingest.py").write_text("x = 1\nrows = parsed.where('x').collect()\n", encoding="utf-8")
    assert unexpected_reads(tmp_path) == {"spark/ingest.py": ["x = 1 rows = parsed.where('x').collect()"]}
