"""Benchmark: lazy greedy (exact gain, mig-gradient) vs the dense MIG gradient sampler; RandGreeDi vs single node.

Not part of the default test run. Example (small, a minute or two):
    PYTHONPATH=lib .venv/bin/python tests/benchmarks/bench_select.py --sizes 20000 --labels 2000 --budgets 1000 \
        --out build/bench_select.json
Full run (the lead's): --sizes 100000,300000,1000000 --labels 2000,3000,5000 --budgets 1000,5000,20000

Methods (--methods): `lazy` (method mig: lazy greedy on the exact marginal gain), `lazy-gradient` (method
mig-gradient: the same lazy greedy on the MIG paper's linearised score, the picks of the dense sampler),
`gradient` (the dense float32 sampler as the paper's reference code does it), `randgreedi`.

Method of measurement:
- every case runs in a fresh subprocess (python this_file --case JSON), so memory figures do not mix;
- wall time: time.perf_counter around the selection, including building the information matrix (sparse Xp for
  the lazy methods, dense n x K float32 for the gradient sampler); pool generation is not timed; both lazy
  methods run --repeats times in their subprocess and the median is reported (a one-second run varies by tens of
  percent here); the dense gradient sampler, tens of seconds or more, runs once;
- peak memory: the subprocess's peak RSS (Linux VmHWM) during the selection, the high-water mark being reset
  just before it starts (postmix.select.measure); `rss_before_mib` is the RSS holding the pool at that point;
- objective: every method's picks scored by the same exact objective F;
- the gradient sampler runs in full when its dense matrix fits --dense-limit-gib and a probe of --probe-steps
  steps predicts it finishes within --gradient-cap-s; otherwise its time is extrapolated from the probe
  (setup + per-step time x budget; when the dense matrix does not fit, the probe runs on the first
  --probe-rows rows and the step time is scaled by n / probe_rows) and the figure is marked "extrapolated";
  an extrapolated run has no objective value;
- RandGreeDi: the in-process implementation (same partitions and algorithm as the Spark path) against the
  single-node lazy greedy on the same pool, for the budgets in --randgreedi-budgets.
Pools: postmix.select.synthetic (task + top-3 semantic labels per row, ring label graph of degree --degree,
Beta(5,2) quality; see its module doc), or a real pool written by the select job with --pool-npz.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "lib"))

from postmix.select.gradient import dense_information, gradient_steps  # noqa: E402
from postmix.select.constraints import ConstraintState, candidate_mask, resolve_quotas  # noqa: E402
from postmix.select.distributed import randgreedi  # noqa: E402
from postmix.select.frames import load_pool_npz  # noqa: E402
from postmix.select.greedy import lazy_greedy  # noqa: E402
from postmix.select.measure import _peak_rss_bytes, _reset_peak_rss  # noqa: E402
from postmix.select.objective import build_objective  # noqa: E402
from postmix.select.params import SelectParams  # noqa: E402
from postmix.select.synthetic import synthetic_pool  # noqa: E402

MIB = 2**20
LAZY_RULES = {"lazy": "exact", "lazy-gradient": "linearised"}  # benchmark method -> lazy greedy's gain rule
METHODS = ("lazy", "lazy-gradient", "gradient")  # per size and budget, in table order (then randgreedi)


def make_pool(case: dict):
    if case.get("pool_npz"):
        return load_pool_npz(case["pool_npz"])
    return synthetic_pool(case["rows"], case["labels"], np.random.default_rng(case["seed"]), degree=case["degree"])


def run_case(case: dict) -> dict:
    pool, graph = make_pool(case)
    params = SelectParams(budget=case["budget"], progress=False, partitions=case.get("partitions"))
    resolved = resolve_quotas((), params)
    mask = candidate_mask(pool, params)
    out = {**case, "rows": len(pool), "labels": pool.n_labels, "rss_before_mib": _rss_now() / MIB}
    if case["method"] in LAZY_RULES:
        rule = LAZY_RULES[case["method"]]
        out.update(_median_of(case.get("repeats", 1), lambda: _measure(lambda: _lazy(pool, graph, params, resolved,
                                                                                     mask, rule))))
    elif case["method"] == "randgreedi":
        out.update(_randgreedi(pool, graph, params, resolved, mask))
    else:
        out.update(_gradient(pool, graph, params, resolved, mask, case))
    return out


def _median_of(repeats: int, measure) -> dict:
    """The run of median wall time among `repeats` (seconds-long runs vary by tens of percent on a small machine)."""
    runs = sorted((measure() for _ in range(max(1, repeats))), key=lambda r: r["wall_s"])
    median = dict(runs[len(runs) // 2])
    if len(runs) > 1:
        median["wall_s_all"] = [round(r["wall_s"], 3) for r in runs]
        median["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    return median


def _lazy(pool, graph, params, resolved, mask, rule="exact"):
    objective = build_objective(pool, graph, params)
    picks = lazy_greedy(objective, ConstraintState.start(pool, resolved, mask), pool.id_ranks(), rule=rule)
    return objective.value_of(picks)


def _randgreedi(pool, graph, params, resolved, mask) -> dict:
    single = _measure(lambda: _lazy(pool, graph, params, resolved, mask))
    distributed = _measure(lambda: build_objective(pool, graph, params).value_of(
        randgreedi(pool, graph, params, resolved)[0]))
    return {"wall_s": distributed["wall_s"], "peak_rss_mib": distributed["peak_rss_mib"],
            "objective": distributed["objective"], "single_objective": single["objective"],
            "single_wall_s": single["wall_s"], "ratio": distributed["objective"] / single["objective"]}


def _gradient(pool, graph, params, resolved, mask, case) -> dict:
    dense_gib = len(pool) * pool.n_labels * 4 / 2**30
    fits = dense_gib <= case["dense_limit_gib"]
    probe_pool = pool if fits else pool.subset(np.arange(min(case["probe_rows"], len(pool))))
    scale = len(pool) / len(probe_pool)
    steps = min(case["probe_steps"], case["budget"])
    probe = _measure(lambda: _gradient_run(probe_pool, graph, params, resolved, candidate_mask(probe_pool, params),
                                           steps))
    per_step = (probe["wall_s"] - probe["setup_s"]) / steps * scale
    estimate = probe["setup_s"] * scale + per_step * case["budget"]
    if fits and estimate <= case["gradient_cap_s"]:
        full = _measure(lambda: _gradient_run(pool, graph, params, resolved, mask, None))
        return {**full, "extrapolated": False, "note": "full run"}
    reason = "dense matrix over memory limit" if not fits else f"estimated {estimate:.0f}s over the time cap"
    return {"wall_s": estimate, "peak_rss_mib": probe["peak_rss_mib"] if fits else dense_gib * 1024,
            "objective": None, "extrapolated": True,
            "note": f"extrapolated from {steps} steps on {len(probe_pool)} rows ({reason})"}


def _gradient_run(pool, graph, params, resolved, mask, max_steps):
    """(objective of the picks, seconds spent building Xp and its dense copy before the first step)."""
    started = time.perf_counter()
    objective = build_objective(pool, graph, params)
    order, dense = dense_information(objective, pool.id_ranks())
    setup = time.perf_counter() - started
    picks = gradient_steps(objective, order, dense, ConstraintState.start(pool, resolved, mask), max_steps=max_steps)
    return objective.value_of(picks), setup


def _measure(work) -> dict:
    _reset_peak_rss()
    started = time.perf_counter()
    value = work()
    wall = time.perf_counter() - started
    result = {"wall_s": wall, "peak_rss_mib": _peak_rss_bytes() / MIB}
    if isinstance(value, tuple):
        result.update({"objective": value[0], "setup_s": value[1]})
    else:
        result["objective"] = value
    return result


def _rss_now() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def spawn(case: dict, timeout_s: float) -> dict:
    """One case in a fresh interpreter; its JSON result is the last stdout line."""
    completed = subprocess.run([sys.executable, __file__, "--case", json.dumps(case)], capture_output=True,
                               text=True, timeout=timeout_s)
    if completed.returncode != 0:
        raise RuntimeError(f"case {case} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def plan(args) -> list[dict]:
    sizes = [int(s) for s in args.sizes.split(",")]
    labels = [int(k) for k in args.labels.split(",")]
    if len(labels) == 1:
        labels = labels * len(sizes)
    if len(labels) != len(sizes):
        raise SystemExit("--labels takes one value or one per size")
    budgets = [int(b) for b in args.budgets.split(",")]
    rg_budgets = {int(b) for b in args.randgreedi_budgets.split(",") if b}
    methods = set(args.methods.split(","))
    common = {"seed": args.seed, "degree": args.degree, "pool_npz": args.pool_npz, "probe_steps": args.probe_steps,
              "probe_rows": args.probe_rows, "dense_limit_gib": args.dense_limit_gib,
              "gradient_cap_s": args.gradient_cap_s, "partitions": args.partitions, "repeats": args.repeats}
    if args.pool_npz:
        sizes, labels = [0], [0]
    cases = []
    for rows, k in zip(sizes, labels):
        for budget in budgets:
            for method in METHODS:
                if method in methods:
                    cases.append({**common, "rows": rows, "labels": k, "budget": budget, "method": method})
            if budget in rg_budgets and "randgreedi" in methods:
                cases.append({**common, "rows": rows, "labels": k, "budget": budget, "method": "randgreedi"})
    return cases


def markdown(results: list[dict]) -> str:
    lines = ["| rows | labels | budget | method | wall s | peak RSS MiB | objective | note |",
             "|---:|---:|---:|---|---:|---:|---:|---|"]
    for r in results:
        objective = "n/a" if r["objective"] is None else f"{r['objective']:.2f}"
        note = r.get("note", "")
        if r.get("wall_s_all"):
            note = f"median of {len(r['wall_s_all'])}: {', '.join(f'{w:.2f}' for w in r['wall_s_all'])} s"
        if r["method"] == "randgreedi":
            note = (f"single-node {r['single_objective']:.2f} in {r['single_wall_s']:.1f}s; "
                    f"ratio distributed/single = {r['ratio']:.4f}")
        lines.append(f"| {r['rows']} | {r['labels']} | {r['budget']} | {r['method']} | {r['wall_s']:.2f} | "
                     f"{r['peak_rss_mib']:.0f} | {objective} | {note} |")
    lines += ["", "| rows | labels | budget | speed-up lazy vs gradient | objective lazy / gradient | "
              "time lazy-gradient / lazy | objective lazy-gradient / gradient |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    by_key = {(r["rows"], r["labels"], r["budget"], r["method"]): r for r in results}
    for rows, k, budget in dict.fromkeys(key[:3] for key in by_key if key[3] in METHODS):
        lazy, linearised, gradient = (by_key.get((rows, k, budget, method)) for method in METHODS)
        mark = " (extrapolated)" if gradient and gradient.get("extrapolated") else ""
        speedup = _ratio(gradient, lazy, "wall_s", "{:.1f}x") + (mark if gradient and lazy else "")
        lines.append(f"| {rows} | {k} | {budget} | {speedup} | {_ratio(lazy, gradient, 'objective')} | "
                     f"{_ratio(linearised, lazy, 'wall_s', '{:.2f}')} | "
                     f"{_ratio(linearised, gradient, 'objective')} |")
    return "\n".join(lines)


def _ratio(top: dict | None, bottom: dict | None, key: str, form: str = "{:.4f}") -> str:
    """top[key] / bottom[key] formatted, or n/a when either run or value is missing."""
    if not top or not bottom or top.get(key) is None or bottom.get(key) is None:
        return "n/a"
    return form.format(top[key] / bottom[key])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--labels", default="2000,3000,5000", help="one value, or one per size")
    parser.add_argument("--budgets", default="1000,5000,20000")
    parser.add_argument("--methods", default="lazy,lazy-gradient,gradient,randgreedi",
                        help="subset of lazy,lazy-gradient,gradient,randgreedi")
    parser.add_argument("--randgreedi-budgets", default="1000,5000")
    parser.add_argument("--partitions", type=int, default=8, help="RandGreeDi partitions")
    parser.add_argument("--degree", type=int, default=10, help="average label-graph degree of synthetic pools")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pool-npz", default=None, help="a real pool written by the select job")
    parser.add_argument("--gradient-cap-s", type=float, default=600.0)
    parser.add_argument("--repeats", type=int, default=3, help="runs per lazy case; the median is reported")
    parser.add_argument("--probe-steps", type=int, default=20)
    parser.add_argument("--probe-rows", type=int, default=100_000)
    parser.add_argument("--dense-limit-gib", type=float, default=8.0)
    parser.add_argument("--case-timeout-s", type=float, default=3600.0)
    parser.add_argument("--out", required=False, help="write all results as JSON here")
    args = parser.parse_args(argv)
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return 0
    results = []
    for case in plan(args):
        print(f"running {case['method']} rows={case['rows']} labels={case['labels']} budget={case['budget']}",
              file=sys.stderr, flush=True)
        results.append(spawn(case, args.case_timeout_s))
    print(markdown(results))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
