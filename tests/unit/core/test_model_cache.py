"""A long-lived process (a reused Spark Python worker) keeps one stage's models at a time."""

import pytest

from postmix import model_cache


@pytest.fixture
def releasers(monkeypatch):
    """Two stages with a release log, on a clean registry (the real modules' releasers are put back after)."""
    log = []
    monkeypatch.setattr(model_cache, "_RELEASERS", {})
    monkeypatch.setattr(model_cache, "_current", None)
    model_cache.register("embed", lambda: log.append("embed"))
    model_cache.register("annotate", lambda: log.append("annotate"))
    return log


def test_starting_a_stage_drops_the_models_of_the_others(releasers):
    assert model_cache.use_models("annotate") == ["embed"]
    assert releasers == ["embed"]
    assert model_cache.use_models("embed") == ["annotate"]
    assert releasers == ["embed", "annotate"]


def test_nothing_is_dropped_while_one_stage_goes_on(releasers):
    model_cache.use_models("embed")
    assert model_cache.use_models("embed") == [] and model_cache.use_models("embed") == []
    assert releasers == ["annotate"]


def test_a_stage_without_models_drops_every_cached_model(releasers):
    assert model_cache.use_models("ingest") == ["annotate", "embed"]


def test_the_model_caches_register_themselves(monkeypatch):
    from postmix.annotate import models
    from postmix.embed import encoder

    # Start from no cached model and no current stage, whatever earlier tests in this process loaded.
    models.clear_caches()
    monkeypatch.setattr(model_cache, "_current", None)
    model_cache.use_models("annotate")
    models.load_model("task", models.MODELS_DIR / "task_magpie12.ftz")
    encoder._ENCODERS[("sentinel",)] = object()  # as if this process had embedded before
    assert models._load_validated.cache_info().currsize == 1
    model_cache.use_models("semantic")
    assert ("sentinel",) not in encoder._ENCODERS
    assert models._load_validated.cache_info().currsize == 0


def test_a_tasks_batches_declare_the_stage_first_and_hand_the_heap_back_after(releasers, monkeypatch):
    trims = []
    monkeypatch.setattr(model_cache, "_trim_heap", lambda: trims.append(len(releasers)))
    batches = model_cache.stage_batches("embed", iter([1, 2]))
    assert releasers == [] and trims == []  # nothing happens before Spark asks for the first batch
    assert next(batches) == 1 and releasers == ["annotate"]
    assert list(batches) == [2]
    assert len(trims) == 2  # once for the dropped models, once when the task's batches are done
