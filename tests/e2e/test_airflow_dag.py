"""The Airflow DAG in deploy/airflow, in its own virtual environment (.venv-airflow: Airflow 3 pins differ from
ours): it loads into a DagBag with no import errors, has one task per pipeline stage in order, and
`airflow dags test postmix_pipeline` runs the whole pipeline through spark-submit on local Spark over the demo data,
writing the same tables as the local-mode run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_VENV = REPO_ROOT / ".venv-airflow"
DAG_FOLDER = REPO_ROOT / "deploy" / "airflow"
CONN_ID = "spark_postmix"
DAG_TEST_TIMEOUT_S = 2400  # a hang guard: every stage is a fresh spark-submit

# Runs inside .venv-airflow: what the DagBag holds, as JSON on the last line of stdout.
DESCRIBE_DAGBAG = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
sys.path.insert(0, sys.argv[1])
import postmix_dag
bag = DagBag(dag_folder=sys.argv[1])
dag = bag.dags.get("postmix_pipeline")
tasks = [] if dag is None else [
    {"task_id": t.task_id, "upstream": sorted(t.upstream_task_ids), "retries": t.retries,
     "application": t.application, "application_args": list(t.application_args), "conn_id": t._conn_id,
     "env_python": (t.env_vars or {}).get("PYSPARK_PYTHON"), "jars": t.jars}
    for t in dag.topological_sort()]
print(json.dumps({"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}, "tasks": tasks,
                  "run_id_example": postmix_dag.postmix_run_id("manual__2026-01-01T00:00:00.123+00:00")}))
"""


@pytest.fixture(scope="module")
def airflow_python(project) -> Path:
    """.venv-airflow, built by deploy/airflow/install.sh when missing (first time: a few minutes, pip caches)."""
    if not (AIRFLOW_VENV / ".installed").is_file():
        python = os.environ.get("PYTHON", "python3.11")
        if shutil.which(python) is None:
            pytest.skip(f"needs {python} to build {AIRFLOW_VENV} (set PYTHON, or run deploy/airflow/install.sh)")
        subprocess.run([str(DAG_FOLDER / "install.sh"), str(AIRFLOW_VENV)], check=True, timeout=1800)
    return AIRFLOW_VENV / "bin" / "python"


@pytest.fixture(scope="module")
def airflow_env(project, project_env, write_config, tmp_path_factory) -> dict[str, str]:
    """AIRFLOW_HOME in a tmp folder (SQLite), the DAG folder, and the POSTMIX_* settings the DAG reads."""
    folder = tmp_path_factory.mktemp("airflow")
    env = dict(project_env)
    env.update(
        AIRFLOW_HOME=str(folder / "home"), AIRFLOW__CORE__DAGS_FOLDER=str(DAG_FOLDER),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        POSTMIX_HOME=str(REPO_ROOT), POSTMIX_CONFIG=str(write_config(folder / "conf.yaml", folder / "warehouse")),
        POSTMIX_SPARK_CONN_ID=CONN_ID,
        # the provider runs `spark-submit` from PATH: the pyspark one in the project venv
        PATH=f"{project['python'].parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return env


@pytest.fixture(scope="module")
def dagbag(airflow_python, airflow_env) -> dict:
    out = subprocess.run([str(airflow_python), "-c", DESCRIBE_DAGBAG, str(DAG_FOLDER)], env=airflow_env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_dag_loads_without_import_errors(dagbag):
    assert dagbag["import_errors"] == {}
    assert dagbag["tasks"], "the DagBag has no postmix_pipeline DAG"


def test_one_task_per_stage_in_pipeline_order(dagbag):
    from postmix.pipeline import STAGES

    stages = [name for name, _ in STAGES]
    tasks = dagbag["tasks"]
    assert [t["task_id"] for t in tasks] == stages
    assert [t["upstream"] for t in tasks] == [[]] + [[s] for s in stages[:-1]]


def test_tasks_submit_the_stage_entry_points_with_config_retries_and_run_id(dagbag, airflow_env, project):
    for task in dagbag["tasks"]:
        assert Path(task["application"]).parent == REPO_ROOT / "jobs"
        assert Path(task["application"]).stem in (task["task_id"], f"{task['task_id']}_stage")
        assert task["application_args"] == ["--config", "{{ params.config }}",
                                            "--run-id", "{{ params.run_id or (run_id | postmix_run_id) }}"]
        assert task["conn_id"] == CONN_ID and task["retries"] == 2
        assert task["env_python"] == str(project["python"])
        assert task["jars"].split(",") == [str(p) for p in project["jars"]]
    assert dagbag["run_id_example"] == "manual__2026-01-01T00_00_00.123_00_00"


def airflow(airflow_python: Path, *args: str) -> list[str]:
    return [str(airflow_python.parent / "airflow"), *args]


@pytest.fixture(scope="module")
def dag_test_run(airflow_python, airflow_env, run_command, tmp_path_factory) -> dict:
    """`airflow db migrate`, the Spark connection (master local[2]), then `airflow dags test postmix_pipeline`."""
    logs = tmp_path_factory.mktemp("airflow-logs")
    env = dict(airflow_env, POSTMIX_RETRIES="0")  # a failure fails the test now, not after retry delays
    run_command(airflow(airflow_python, "db", "migrate"), logs / "migrate.log", env, 300)
    run_command(airflow(airflow_python, "connections", "add", CONN_ID, "--conn-type", "spark",
                        "--conn-host", "local[2]"), logs / "connection.log", env, 120)
    run_command(airflow(airflow_python, "dags", "test", "postmix_pipeline"), logs / "dags-test.log", env,
                DAG_TEST_TIMEOUT_S)
    warehouse = Path(airflow_env["POSTMIX_CONFIG"]).parent / "warehouse"
    return {"warehouse": warehouse, "log": (logs / "dags-test.log").read_text(errors="replace")}


@pytest.mark.cluster
def test_dags_test_ran_every_stage_under_the_airflow_run_id(dag_test_run, local_reference):
    from deltalake import DeltaTable

    runs = DeltaTable(str(dag_test_run["warehouse"] / "runs")).to_pyarrow_table().to_pylist()
    run_ids = {r["run_id"] for r in runs}
    assert len(run_ids) == 1, run_ids
    (run_id,) = run_ids
    assert run_id.startswith("manual__") and ":" not in run_id and "+" not in run_id
    assert {r["stage"]: r["status"] for r in runs} == {s: "succeeded" for s in local_reference["stages"]}
    assert "spark-submit --master local[2]" in dag_test_run["log"]


@pytest.mark.cluster
def test_dags_test_tables_equal_local_mode(dag_test_run, local_reference, assert_same_tables):
    from deltalake import DeltaTable

    runs = DeltaTable(str(dag_test_run["warehouse"] / "runs")).to_pyarrow_table().to_pylist()
    assert_same_tables(dag_test_run["warehouse"], local_reference, runs[0]["run_id"])
