"""The selection benchmark script runs end to end on a tiny pool (the real figures come from the full run)."""

import importlib.util
import json
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_select.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_select", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_runs_small_and_writes_json(tmp_path, capsys):
    bench = _load()
    out = tmp_path / "bench.json"
    assert bench.main(["--sizes", "3000", "--labels", "200", "--budgets", "40", "--randgreedi-budgets", "40",
                       "--partitions", "2", "--probe-steps", "5", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    methods = {r["method"]: r for r in results}
    assert set(methods) == {"lazy", "gradient", "randgreedi"}
    assert methods["gradient"]["extrapolated"] is False  # small enough to run in full
    assert methods["lazy"]["objective"] >= methods["gradient"]["objective"] * 0.999
    assert methods["randgreedi"]["ratio"] > 0.9
    assert all(r["wall_s"] > 0 and r["peak_rss_mib"] > 0 for r in results)
    assert "speed-up lazy vs gradient" in capsys.readouterr().out


def test_benchmark_extrapolates_when_over_the_time_cap(tmp_path):
    bench = _load()
    out = tmp_path / "bench.json"
    bench.main(["--sizes", "3000", "--labels", "200", "--budgets", "40", "--randgreedi-budgets", "",
                "--probe-steps", "5", "--gradient-cap-s", "0", "--out", str(out)])
    gradient = [r for r in json.loads(out.read_text()) if r["method"] == "gradient"][0]
    assert gradient["extrapolated"] and gradient["objective"] is None and "extrapolated" in gradient["note"]
