"""The Spark settings the session builder applies, and how --master/--conf reach them: no JVM."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from postmix import cli
from postmix.commands import COMMANDS
from postmix.errors import ConfigError
from postmix.spark.params import SparkParams
from postmix.spark import session
from postmix.spark.session import (DELTA_CATALOG, DELTA_EXTENSION, DRIVER_JAVA, FILE_LOG_STORE, LOCAL_DEFAULTS,
                                   LOCAL_LOG_STORE_JAR, QUIET_SHARING, console_conf, session_conf)
from postmix.subcommand import load_pipeline_config


@pytest.fixture(autouse=True)
def no_jars_env(monkeypatch):
    """The jar folder must come from the params alone, whatever the developer's environment says."""
    monkeypatch.delenv("POSTMIX_JARS_DIR", raising=False)


@pytest.fixture
def jars(tmp_path) -> Path:
    folder = tmp_path / "jars"
    folder.mkdir()
    for name in ("delta-storage-4.4.0.jar", "delta-spark_4.2_2.13-4.4.0.jar"):
        (folder / name).write_bytes(b"PK")
    (folder / "README.txt").write_text("not a jar")
    return folder


def test_local_defaults_delta_and_jars_are_all_set(jars):
    conf = session_conf(SparkParams(jars_dir=str(jars), shuffle_partitions=5, driver_memory="3g"))
    for key, value in LOCAL_DEFAULTS.items():
        assert conf[key] == value, key
    assert conf["spark.sql.session.timeZone"] == "UTC"  # the reproducibility default, named
    assert conf["spark.sql.extensions"] == DELTA_EXTENSION == "io.delta.sql.DeltaSparkSessionExtension"
    assert conf["spark.sql.catalog.spark_catalog"] == DELTA_CATALOG \
        == "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    assert conf["spark.sql.shuffle.partitions"] == "5" and conf["spark.driver.memory"] == "3g"
    assert conf["spark.jars"] == ",".join([str(jars / "delta-spark_4.2_2.13-4.4.0.jar"),
                                           str(jars / "delta-storage-4.4.0.jar")])  # sorted, jars only
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in conf.items())


def test_user_conf_overrides_defaults_and_params(jars):
    user = {"spark.sql.session.timeZone": "Europe/Paris", "spark.ui.enabled": "true",
            "spark.sql.shuffle.partitions": "64", "spark.executor.memory": "8g"}
    conf = session_conf(SparkParams(jars_dir=str(jars), shuffle_partitions=5, conf=user))
    assert {k: conf[k] for k in user} == user
    untouched = set(LOCAL_DEFAULTS) - set(user)
    assert untouched and all(conf[k] == LOCAL_DEFAULTS[k] for k in untouched)
    assert conf["spark.sql.extensions"] == DELTA_EXTENSION


def test_local_tables_get_postmix_log_store_when_its_jar_is_in_the_jar_folder(jars):
    assert FILE_LOG_STORE not in session_conf(SparkParams(jars_dir=str(jars)))  # no jar: Delta's default store
    (jars / LOCAL_LOG_STORE_JAR).write_bytes(b"PK")
    assert session_conf(SparkParams(jars_dir=str(jars)))[FILE_LOG_STORE] == "dev.postmix.delta.LocalAtomicLogStore"
    theirs = {FILE_LOG_STORE: "io.delta.storage.HDFSLogStore"}
    assert session_conf(SparkParams(jars_dir=str(jars), conf=theirs))[FILE_LOG_STORE] == theirs[FILE_LOG_STORE]
    # spark-submit --jars ".jars/*" (docs/CLUSTER.md, the Airflow DAG) ships it too
    shipped = f"file:/opt/x/delta-spark.jar,file:/opt/x/{LOCAL_LOG_STORE_JAR}"
    submitted = session_conf(SparkParams(), launcher_jars=shipped)
    assert submitted[FILE_LOG_STORE] == "dev.postmix.delta.LocalAtomicLogStore"
    assert FILE_LOG_STORE not in session_conf(SparkParams(), launcher_jars="file:/opt/x/delta-spark.jar")


def test_jars_env_variable_is_used_when_params_name_no_folder(jars, monkeypatch):
    monkeypatch.setenv("POSTMIX_JARS_DIR", str(jars))
    assert session_conf(SparkParams())["spark.jars"].split(",") == sorted(str(p) for p in jars.glob("*.jar"))


@pytest.mark.parametrize("folder", ["empty", "missing"])
def test_no_delta_jars_is_a_config_error_when_they_are_needed(tmp_path, folder):
    path = tmp_path / folder
    if folder == "empty":
        path.mkdir()
        (path / "notes.txt").write_text("no jars here")
    with pytest.raises(ConfigError, match="Delta Lake jars not found.*make env"):
        session_conf(SparkParams(jars_dir=str(path)))


@pytest.mark.parametrize("user_conf, launcher", [
    ({"spark.jars.packages": "io.delta:delta-spark_2.13:4.4.0"}, ""),
    ({"spark.jars": "/opt/delta/delta-spark.jar"}, ""),
    ({}, "file:/opt/delta/delta-spark.jar"),  # spark-submit --jars/--packages
])
def test_no_jar_folder_needed_when_delta_comes_another_way(tmp_path, user_conf, launcher):
    conf = session_conf(SparkParams(jars_dir=str(tmp_path / "missing"), conf=user_conf), launcher_jars=launcher)
    assert conf.get("spark.jars") == user_conf.get("spark.jars")  # the user's own, or none: never a local folder
    assert conf.get("spark.jars.packages") == user_conf.get("spark.jars.packages")
    assert conf["spark.sql.extensions"] == DELTA_EXTENSION and conf["spark.sql.catalog.spark_catalog"] == DELTA_CATALOG



# ---------------------------------------------------------------- the driver JVM's class archive (make env)


@pytest.fixture
def archive(tmp_path, monkeypatch) -> Path:
    """A class archive where `make env` would build it (the session only checks that the file exists)."""
    path = tmp_path / "a dir" / "postmix-classes.jsa"
    path.parent.mkdir()
    path.write_bytes(b"archive")
    monkeypatch.setattr(session, "CLASS_ARCHIVE", path)
    return path


def test_the_class_archive_is_mapped_quietly(jars, archive):
    conf = session_conf(SparkParams(jars_dir=str(jars), conf={DRIVER_JAVA: "-Da=b"}))
    # quoted: Spark splits the options on spaces, and this path has one
    assert conf[DRIVER_JAVA] == f'-Da=b "-XX:SharedArchiveFile={archive}" {QUIET_SHARING}'
    quiet = console_conf(conf, verbose=False)[DRIVER_JAVA]  # the log4j option comes after, nothing is lost
    assert quiet.startswith(conf[DRIVER_JAVA] + " -Dlog4j2.configurationFile=")


def test_no_archive_adds_no_java_options(jars, archive):
    archive.unlink()
    assert DRIVER_JAVA not in session_conf(SparkParams(jars_dir=str(jars)))
    assert session_conf(SparkParams(jars_dir=str(jars), conf={DRIVER_JAVA: "-Da=b"}))[DRIVER_JAVA] == "-Da=b"


@pytest.mark.parametrize("own", ["-Xshare:off", "-XX:SharedArchiveFile=/opt/my.jsa", "-XX:ArchiveClassesAtExit=x.jsa"])
def test_a_users_own_class_sharing_is_left_alone(jars, archive, own):
    assert session_conf(SparkParams(jars_dir=str(jars), conf={DRIVER_JAVA: own}))[DRIVER_JAVA] == own


# ---------------------------------------------------------------- --master / --conf through the CLI


def parsed_config(argv: list[str]):
    args = cli.build_parser(COMMANDS).parse_args(argv)
    return load_pipeline_config(args, COMMANDS[args.command])


def test_master_and_repeated_conf_land_in_the_config(tmp_path, jars):
    config = parsed_config(["ingest", "--warehouse", str(tmp_path / "wh"), "--master", "spark://h:7077",
                            "--conf", "spark.executor.cores=3", "--conf", "spark.sql.shuffle.partitions=12",
                            "--conf", "spark.driver.extraJavaOptions=-Da=b -Dc=d"])
    assert config.spark.master == "spark://h:7077"
    assert config.spark.conf == {"spark.executor.cores": "3", "spark.sql.shuffle.partitions": "12",
                                 "spark.driver.extraJavaOptions": "-Da=b -Dc=d"}  # split at the first '=' only
    conf = session_conf(replace(config.spark, jars_dir=str(jars)))
    assert conf["spark.executor.cores"] == "3" and conf["spark.sql.shuffle.partitions"] == "12"


def test_cli_flags_override_and_merge_with_the_config_file(tmp_path):
    path = tmp_path / "conf.yaml"
    path.write_text("spark:\n  master: local[1]\n  driver_memory: 2g\n"
                    "  conf: {spark.executor.cores: '1', spark.eventLog.enabled: 'false'}\n", encoding="utf-8")
    config = parsed_config(["ingest", "--config", str(path), "--master", "local[3]",
                            "--conf", "spark.executor.cores=4"])
    assert config.spark.master == "local[3]" and config.spark.driver_memory == "2g"
    assert config.spark.conf == {"spark.executor.cores": "4", "spark.eventLog.enabled": "false"}
    assert parsed_config(["ingest", "--config", str(path)]).spark.master == "local[1]"


@pytest.mark.parametrize("bad", ["spark.executor.cores", "=4"])
def test_malformed_conf_is_one_clear_error_before_anything_runs(tmp_path, capsys, bad):
    with pytest.raises(ConfigError, match="must look like KEY=VALUE"):
        parsed_config(["ingest", "--warehouse", str(tmp_path / "wh"), "--conf", bad])
    code = cli.main(["ingest", "--warehouse", str(tmp_path / "wh"), "--conf", "spark.a=1", "--conf", bad])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip() == f"postmix: error: --conf {bad!r} must look like KEY=VALUE"
    assert not (tmp_path / "wh").exists()
