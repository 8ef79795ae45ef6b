"""The pipeline on a real Spark standalone cluster (one master, two workers on 127.0.0.1), submitted the way PySpark
users ship a package: the Delta jars through --jars, and a packed Python environment through --archives holding
postmix installed from the wheel that deploy/cluster/build_wheel.sh builds (checked with `unzip -l` to carry every
module, schema and model). The tables must equal the local-mode run's. This catches what local mode hides:
driver-only paths, package data missing from what is shipped, closures that do not serialize to another process.

Why not --py-files with the wheel: Python imports it as a zip, where `postmix.schemas` (a namespace package) is not
importable and fastText cannot open the bundled models by path; see docs/CLUSTER.md, "Known limits".
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
SUBMIT_TIMEOUT_S = 1800  # a hang guard, not a performance bound


def test_job_scripts_do_not_shadow_standard_library_modules():
    """spark-submit puts jobs/ first on sys.path: a jobs/select.py would replace `select` for every job there."""
    shadowing = sorted(p.name for p in (REPO_ROOT / "jobs").glob("*.py") if p.stem in sys.stdlib_module_names)
    assert shadowing == [], f"rename {shadowing}: they shadow standard library modules in every job"


def test_every_stage_has_a_spark_submit_entry_point():
    from postmix.pipeline import STAGES

    names = [f"{s}_stage" if s in sys.stdlib_module_names else s for s, _ in STAGES] + ["pipeline"]
    missing = [n for n in names if not (REPO_ROOT / "jobs" / f"{n}.py").is_file()]
    assert missing == []


@pytest.fixture(scope="module")
def wheel(project, tmp_path_factory) -> Path:
    """postmix built from this checkout as a wheel (no dependencies) by deploy/cluster/build_wheel.sh, which also
    refuses a wheel without the schemas and models: what the shipped environment installs."""
    out = tmp_path_factory.mktemp("wheel")
    script = REPO_ROOT / "deploy" / "cluster" / "build_wheel.sh"
    built = subprocess.run([str(script), str(out)], capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, PYTHON=str(project["python"])))
    assert built.returncode == 0, built.stderr[-3000:]
    return Path(built.stdout.strip().splitlines()[-1])


def test_wheel_ships_package_data(wheel):
    """Every module, declared table schema and bundled model of the checkout is inside the wheel."""
    listing = subprocess.run(["unzip", "-l", str(wheel)], check=True, capture_output=True, text=True).stdout
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    assert all(name in listing for name in shipped)
    package = REPO_ROOT / "lib" / "postmix"
    wanted = {f"postmix/schemas/{p.name}" for p in (REPO_ROOT / "schemas").glob("*.json")}
    wanted |= {f"postmix/annotate/models/{p.name}" for p in (package / "annotate" / "models").iterdir()
               if p.is_file()}
    wanted |= {"postmix/" + p.relative_to(package).as_posix() for p in package.rglob("*.py")}
    missing = sorted(wanted - shipped)
    assert missing == [], f"{len(missing)} files of the checkout are not in {wheel.name}: {missing[:10]}"


@pytest.fixture(scope="module")
def shipped_env(project, wheel, tmp_path_factory) -> dict:
    """The environment shipped to executors with --archives, built the way venv-pack users do: a venv with postmix
    installed from the wheel (real files: fastText loads its models by path) and the dependencies, packed as
    tar.gz. The dependencies come from .venv's site-packages through a .pth line (same machine; a real cluster
    packs them too), which does not run .venv's editable-install hook: postmix resolves only to the installed
    wheel. bin/python-logged records where each interpreter starts (executor work folders) before running it."""
    python = str(project["python"])
    env_dir = tmp_path_factory.mktemp("shipped-env")
    venv = env_dir / "environment"
    base = subprocess.run([python, "-c", "import sys; print(sys._base_executable)"], check=True,
                          capture_output=True, text=True).stdout.strip()
    subprocess.run([base, "-m", "venv", "--without-pip", str(venv)], check=True)
    deps_site = _purelib(python)
    own_site = _purelib(str(venv / "bin" / "python"))
    Path(own_site, "postmix-dependencies.pth").write_text(deps_site + "\n")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", own_site,
                    str(wheel)], check=True, capture_output=True, timeout=300)
    log = env_dir / "starts.log"
    logged = venv / "bin" / "python-logged"
    logged.write_text(f"#!/bin/sh\necho \"$(pwd) $*\" >> {log}\nexec \"$(dirname \"$0\")/python\" \"$@\"\n")
    logged.chmod(0o755)
    probe = subprocess.run([str(logged), "-c", "import pyspark, delta, deltalake, postmix; print(postmix.__file__)"],
                           capture_output=True, text=True, env=_without_pythonpath())
    assert probe.returncode == 0 and probe.stdout.startswith(own_site), probe.stdout + probe.stderr
    log.unlink()
    archive = env_dir / "postmix-env.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(venv, arcname=".")
    return {"driver_python": logged, "archive": archive, "log": log}


def _purelib(python: str) -> str:
    return subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], check=True,
                          capture_output=True, text=True).stdout.strip()


def _without_pythonpath() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


@pytest.fixture(scope="module")
def cluster(project, tmp_path_factory):
    """One master and two 1-core workers from the pyspark installation, stopped however the test ends."""
    from loopback import LoopbackCluster, pyspark_home

    home = pyspark_home(str(project["python"]))
    if not (home / "bin" / "spark-class").is_file():
        pytest.skip(f"pyspark at {home} has no bin/spark-class: reinstall pyspark (`make env`)")
    with LoopbackCluster(home, tmp_path_factory.mktemp("cluster"), workers=2, cores_per_worker=1,
                         memory_per_worker="2g") as running:
        yield running


@pytest.fixture(scope="module")
def cluster_run(project, cluster, shipped_env, write_config, run_command, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("cluster-run")
    config = write_config(folder / "conf.yaml", folder / "warehouse")
    command = [
        str(cluster.spark_home / "bin" / "spark-submit"), "--master", cluster.master_url, "--deploy-mode", "client",
        "--name", "postmix-e2e", "--driver-memory", "2g", "--executor-memory", "1g", "--total-executor-cores", "2",
        "--jars", ",".join(str(p) for p in project["jars"]),
        "--archives", f"{shipped_env['archive']}#environment",
        "--conf", "spark.pyspark.python=./environment/bin/python-logged",
        "--conf", f"spark.pyspark.driver.python={shipped_env['driver_python']}",
        "--conf", "spark.executorEnv.HF_HUB_OFFLINE=1", "--conf", "spark.executorEnv.TOKENIZERS_PARALLELISM=false",
        str(REPO_ROOT / "jobs" / "pipeline.py"), "--config", str(config),
    ]
    env = _without_pythonpath()
    for name in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON"):
        env.pop(name, None)  # the interpreter comes from the spark-submit conf above, as on a real cluster
    env.update(SPARK_HOME=str(cluster.spark_home), SPARK_LOCAL_IP="127.0.0.1", POSTMIX_JARS_DIR=str(project["jars_dir"]),
               HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    run_command(command, folder / "spark-submit.log", env, SUBMIT_TIMEOUT_S, cwd=folder)
    starts = shipped_env["log"].read_text().splitlines()
    return {"warehouse": folder / "warehouse", "starts": starts, "cluster_dir": cluster.workdir,
            "log": folder / "spark-submit.log"}


@pytest.mark.cluster
def test_every_executor_ran_postmix_from_the_shipped_environment(cluster_run):
    """Both workers launched an executor, and each executor's Python workers ran the interpreter unpacked from the
    --archives environment in the executor's own work folder."""
    workers = sorted(d.name for d in cluster_run["cluster_dir"].glob("worker-*") if any(d.glob("app-*/*")))
    assert workers == ["worker-0", "worker-1"], workers
    executor_starts = [line for line in cluster_run["starts"] if "/worker-" in line and "pyspark" in line]
    for worker in workers:
        assert any(f"/{worker}/app-" in line for line in executor_starts), \
            f"no Python worker started in {worker}'s executor: {cluster_run['starts'][:5]}"


@pytest.mark.cluster
def test_cluster_tables_equal_local_mode(cluster_run, local_reference, assert_same_tables):
    tables = assert_same_tables(cluster_run["warehouse"], local_reference, local_reference["run_id"])
    assert {"samples", "rejects", "runs"} <= set(tables)


@pytest.mark.cluster
def test_cluster_run_recorded_every_stage_as_succeeded(cluster_run, local_reference):
    from deltalake import DeltaTable

    runs = DeltaTable(str(cluster_run["warehouse"] / "runs")).to_pyarrow_table().to_pylist()
    status = {r["stage"]: r["status"] for r in runs if r["run_id"] == local_reference["run_id"]}
    assert status == {stage: "succeeded" for stage in local_reference["stages"]}


def test_example_configs_load(tmp_path):
    """deploy/*.yaml are valid configs: the demo one over the files `postmix demo` writes beside it."""
    import shutil

    from postmix.config import load_config
    from postmix.demo.generate import write_demo_sources

    (tmp_path / "deploy").mkdir()
    shutil.copy(REPO_ROOT / "deploy" / "demo.yaml", tmp_path / "deploy" / "demo.yaml")
    specs = write_demo_sources(tmp_path / "demo-warehouse-sources", seed=0)
    demo = load_config(tmp_path / "deploy" / "demo.yaml")
    assert sorted((s.name, s.path) for s in demo.sources) == sorted((s.name, s.path) for s in specs)
    assert demo.warehouse == str(tmp_path / "demo-warehouse")
    cluster = load_config(REPO_ROOT / "deploy" / "cluster-example.yaml")
    assert cluster.spark.master is None and cluster.warehouse.startswith("s3a://")
