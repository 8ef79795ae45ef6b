"""Airflow DAG `postmix_pipeline`: one SparkSubmitOperator task per postmix stage, in pipeline order.

Every task runs `spark-submit jobs/<stage>.py --config <config> --run-id <id>` over one Spark connection, so a task
is exactly what a user types by hand (docs/CLUSTER.md). All tasks of a DAG run share one postmix run id (the
Airflow run id, made path-safe, unless the `run_id` param names one), so a retried or cleared task resumes the
same postmix run: finished work is skipped by the stage itself.

Settings come from the environment of the Airflow scheduler/workers (docs/AIRFLOW.md):
  POSTMIX_HOME          the postmix checkout (jobs/, lib/, .jars/); default: two folders above this file
  POSTMIX_CONFIG        the pipeline config (YAML), required; its `spark` section feeds --conf / --driver-memory
  POSTMIX_PYTHON        interpreter for the Spark driver and Python workers; default POSTMIX_HOME/.venv/bin/python
  POSTMIX_JARS          comma-separated jars for --jars; default every POSTMIX_HOME/.jars/*.jar (Delta)
  POSTMIX_PY_FILES      optional --py-files (e.g. the postmix wheel, for clusters without postmix installed)
  POSTMIX_ARCHIVES      optional --archives (e.g. a venv-pack archive `env.tar.gz#environment`)
  POSTMIX_SPARK_CONN_ID the Spark connection (default spark_postmix); its host is the master: local[2], spark://..
  POSTMIX_STAGES        optional comma-separated stage list; default: postmix.pipeline.STAGES read from the checkout
  POSTMIX_SCHEDULE      cron or preset (default none: triggered runs only); POSTMIX_RETRIES (default 2),
                        POSTMIX_RETRY_DELAY_S (default 120)
The Airflow environment does not import postmix (its pins differ): the stage list is read from
lib/postmix/pipeline.py as data, and the config's spark section with PyYAML.
"""

from __future__ import annotations

import ast
import glob
import os
import re
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import DAG, Param

DAG_ID = "postmix_pipeline"
_UNSAFE_IN_RUN_ID = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class DeploySettings:
    """Where postmix lives and how spark-submit reaches it, read once when the DAG file is parsed."""

    home: Path
    config: Path
    python: str
    jars: str
    py_files: str | None
    archives: str | None
    conn_id: str
    stages: tuple[str, ...]
    schedule: str | None
    retries: int
    retry_delay_s: int


def settings_from_env(env=os.environ) -> DeploySettings:
    home = Path(env.get("POSTMIX_HOME") or Path(__file__).resolve().parents[2])
    config = env.get("POSTMIX_CONFIG")
    if not config:
        raise RuntimeError("POSTMIX_CONFIG is not set: point it at the pipeline config (see docs/AIRFLOW.md)")
    stages = env.get("POSTMIX_STAGES")
    return DeploySettings(
        home=home,
        config=Path(config),
        python=env.get("POSTMIX_PYTHON") or str(home / ".venv" / "bin" / "python"),
        jars=env.get("POSTMIX_JARS") or delta_jars(home),
        py_files=env.get("POSTMIX_PY_FILES") or None,
        archives=env.get("POSTMIX_ARCHIVES") or None,
        conn_id=env.get("POSTMIX_SPARK_CONN_ID", "spark_postmix"),
        stages=tuple(s.strip() for s in stages.split(",") if s.strip()) if stages else pipeline_stages(home),
        schedule=env.get("POSTMIX_SCHEDULE") or None,
        retries=int(env.get("POSTMIX_RETRIES", "2")),
        retry_delay_s=int(env.get("POSTMIX_RETRY_DELAY_S", "120")),
    )


def delta_jars(home: Path) -> str:
    jars = sorted(glob.glob(str(home / ".jars" / "*.jar")))
    if not jars:
        raise RuntimeError(f"no Delta jars in {home / '.jars'}: run `make env` there, or set POSTMIX_JARS")
    return ",".join(jars)


def pipeline_stages(home: Path) -> tuple[str, ...]:
    """The stage names of postmix.pipeline.STAGES, read from the source as a literal (no import)."""
    source = home / "lib" / "postmix" / "pipeline.py"
    tree = ast.parse(source.read_text(encoding="utf-8"), str(source))
    for node in tree.body:
        target = getattr(node, "target", None) or (node.targets[0] if isinstance(node, ast.Assign) else None)
        if isinstance(target, ast.Name) and target.id == "STAGES":
            return tuple(name for name, _ in ast.literal_eval(node.value))
    raise RuntimeError(f"{source}: no STAGES list found")


def spark_section(config: Path) -> dict:
    """The config's `spark` section: its conf and driver memory become spark-submit flags."""
    data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    return data.get("spark") or {}


def postmix_run_id(airflow_run_id: str) -> str:
    """Airflow run ids hold ':' and '+', which Hadoop paths reject: keep letters, digits, '.', '_', '-'."""
    return _UNSAFE_IN_RUN_ID.sub("_", airflow_run_id).strip("_")


def entry_point(home: Path, stage: str) -> Path:
    """jobs/<stage>.py, or jobs/<stage>_stage.py where the stage shares a standard library module's name (select):
    spark-submit puts jobs/ first on sys.path, so jobs/select.py would shadow `select` for every job."""
    name = f"{stage}_stage" if stage in sys.stdlib_module_names else stage
    application = home / "jobs" / f"{name}.py"
    if not application.is_file():
        raise RuntimeError(f"stage {stage!r} has no entry point {application}")
    return application


def stage_task(stage: str, settings: DeploySettings, spark: dict) -> SparkSubmitOperator:
    application = entry_point(settings.home, stage)
    conf = {str(k): str(v) for k, v in (spark.get("conf") or {}).items()}
    conf.setdefault("spark.pyspark.python", settings.python)
    conf.setdefault("spark.pyspark.driver.python", settings.python)
    return SparkSubmitOperator(
        task_id=stage,
        conn_id=settings.conn_id,
        application=str(application),
        application_args=["--config", "{{ params.config }}",
                          "--run-id", "{{ params.run_id or (run_id | postmix_run_id) }}"],
        name=f"postmix-{stage}",
        conf=conf,
        jars=settings.jars,
        py_files=settings.py_files,
        archives=settings.archives,
        driver_memory=spark.get("driver_memory"),
        # Local and client mode: the driver and the workers run this interpreter (the project's venv).
        env_vars={"PYSPARK_PYTHON": settings.python, "PYSPARK_DRIVER_PYTHON": settings.python,
                  "POSTMIX_JARS_DIR": str(settings.home / ".jars"), "HF_HUB_OFFLINE": "1",
                  "TOKENIZERS_PARALLELISM": "false"},
        retries=settings.retries,
        retry_delay=timedelta(seconds=settings.retry_delay_s),
    )


def build_dag(settings: DeploySettings) -> DAG:
    spark = spark_section(settings.config)
    with DAG(
        dag_id=DAG_ID,
        description="postmix: raw post-training data -> curated mixture (one task per stage)",
        schedule=settings.schedule,
        start_date=datetime(2025, 1, 1),
        catchup=False,
        max_active_runs=1,  # runs share the warehouse; stages are idempotent but not meant to race
        params={
            "config": Param(str(settings.config), type="string", description="pipeline config (YAML)"),
            "run_id": Param("", type="string", description="postmix run id; empty: the Airflow run id"),
        },
        user_defined_filters={"postmix_run_id": postmix_run_id},
        tags=["postmix", "spark"],
    ) as dag:
        previous = None
        for stage in settings.stages:
            task = stage_task(stage, settings, spark)
            if previous is not None:
                previous >> task
            previous = task
    return dag


dag = build_dag(settings_from_env())
