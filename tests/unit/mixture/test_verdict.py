"""The selection-vs-random verdict: directions per metric, worse / better / tie, and the console lines."""

import pandas as pd
import pytest

from postmix.mixture import METRIC_BETTER, METRIC_INFO, verdict_of
from postmix.mixture.metrics import HIGHER, LOWER, NEUTRAL
from postmix.mixture.verdict import BETTER, TIE, UNJUDGED, WORSE, outcome_of

# every metric with selection better than random (higher or lower as declared), neutral ones equal
BEST = {"n_samples": (100, 100), "total_cost": (900, 1000), "objective": (50.0, 40.0), "label_coverage": (0.9, 0.8),
        "label_presence": (0.95, 0.9), "task_entropy_bits": (2.0, 1.5), "pool_task_entropy_bits": (1.8, 1.8),
        "task_entropy_ratio": (1.1, 0.83), "task_kl_bits": (0.05, 0.1), "mean_quality": (0.8, 0.6),
        "semantic_coverage": (0.9, 0.85), "near_duplicate_rate": (0.01, 0.03)}


def frame(values: dict) -> pd.DataFrame:
    return pd.DataFrame({"metric": list(values), "selection": [v[0] for v in values.values()],
                         "random": [v[1] for v in values.values()]})


def test_every_metric_declares_its_direction_once():
    assert set(METRIC_BETTER) == set(METRIC_INFO) == set(BEST)
    assert {name for name, way in METRIC_BETTER.items() if way == LOWER} == {"task_kl_bits", "near_duplicate_rate"}
    assert {name for name, way in METRIC_BETTER.items() if way == NEUTRAL} == {
        "n_samples", "total_cost", "pool_task_entropy_bits"}


def test_all_better():
    verdict = verdict_of(frame(BEST))
    assert verdict.judged == 9 and not verdict.worse
    assert verdict.sentence() == "The selection beats a random sample of the same budget on all 9 measures."
    assert verdict.of("total_cost") == UNJUDGED  # a lower cost is no merit: neutral


def test_some_worse_are_named_with_both_values():
    values = {**BEST, "semantic_coverage": (0.756, 0.886), "near_duplicate_rate": (0.04, 0.01)}
    verdict = verdict_of(frame(values))
    assert [o.metric for o in verdict.worse] == ["semantic_coverage", "near_duplicate_rate"]
    assert verdict.sentence() == ("Worse than a random sample of the same budget on 2 of 9 measures: "
                                  "semantic_coverage (0.756 vs 0.886), near_duplicate_rate (0.04 vs 0.01); "
                                  "better on 7.")


def test_ties_are_not_worse():
    values = {**BEST, "label_coverage": (1.0, 1.0), "near_duplicate_rate": (0.0, 0.0),
              "objective": (40.0 * (1 + 1e-12), 40.0)}  # rounding noise is a tie too
    verdict = verdict_of(frame(values))
    assert not verdict.worse
    assert [verdict.of(m) for m in ("label_coverage", "near_duplicate_rate", "objective")] == [TIE] * 3
    assert verdict.sentence() == ("The selection beats a random sample of the same budget on 6 of 9 measures and "
                                  "ties on 3 (objective, label_coverage, near_duplicate_rate); it is worse on none.")
    worse_and_tied = verdict_of(frame({**values, "mean_quality": (0.5, 0.6)}))
    assert worse_and_tied.sentence().endswith("better on 5, tied on 3.")


@pytest.mark.parametrize("selection, random, better, expected", [
    (2.0, 1.0, HIGHER, BETTER), (1.0, 2.0, HIGHER, WORSE), (1.0, 2.0, LOWER, BETTER), (2.0, 1.0, LOWER, WORSE),
    (1.0, 1.0, LOWER, TIE), (0.0, 0.0, HIGHER, TIE), (1.0, 1.0 + 1e-6, HIGHER, WORSE), (5.0, 1.0, NEUTRAL, UNJUDGED),
    (float("nan"), 1.0, HIGHER, UNJUDGED),
])
def test_outcome_of_one_metric(selection, random, better, expected):
    assert outcome_of(selection, random, better) == expected


def test_unknown_metrics_are_not_judged_and_an_empty_frame_says_so():
    verdict = verdict_of(frame({"some_new_metric": (1.0, 2.0), "objective": (3.0, 2.0)}))
    assert verdict.of("some_new_metric") == UNJUDGED and verdict.judged == 1
    assert "No measure" in verdict_of(frame({})).sentence()


def test_console_prints_the_verdict_under_the_mixture_stage(capsys):
    from postmix.subcommand import print_outcome
    from postmix.spark.mixture import mixture_message
    from postmix.spark.stage import StageOutcome

    values = {**BEST, "semantic_coverage": (0.756, 0.886)}
    message = mixture_message(12, "/w/mixtures", "r1", frame(values))
    print_outcome("mixture", "r1", StageOutcome(counts={"mixture_rows": 12}, message=message))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "[mixture] run r1: done"
    assert lines[-2] == ("  mixture: 12 rows in /w/mixtures (run_id = 'r1'); objective 50 vs random 40")
    assert lines[-1] == ("  vs random: Worse than a random sample of the same budget on 1 of 9 measures: "
                         "semantic_coverage (0.756 vs 0.886); better on 8.")


def test_rows_read_back_in_any_order_are_put_in_metric_order():
    from postmix.mixture import in_metric_order

    shuffled = frame({"zz_extra": (1.0, 1.0), **dict(reversed(list(BEST.items())))})
    ordered = in_metric_order(shuffled)
    assert list(ordered["metric"]) == list(METRIC_INFO) + ["zz_extra"]
    assert ordered.set_index("metric").loc["objective", "selection"] == 50.0
    assert verdict_of(ordered).sentence() == verdict_of(frame(BEST)).sentence()
