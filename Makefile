# postmix: every set-up step lives here, so a fresh machine needs only `make demo` or `make test`.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
JARS   := .jars
JVM_ARCHIVE := .jvm/postmix-classes.jsa
# Spark workers must run the same interpreter as the driver.
export PYSPARK_PYTHON := $(abspath $(PY))
export PYSPARK_DRIVER_PYTHON := $(abspath $(PY))
export POSTMIX_JARS_DIR := $(abspath $(JARS))
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

AIRFLOW_VENV := .venv-airflow
.PHONY: env browser demo test test-unit test-cluster test-extended bench bench-curation bench-quality models clean-demo help airflow-env wheel cluster

help:
	@echo "make demo   - create the environment (first run) and run the pipeline on the bundled demo data"
	@echo "make test   - create the environment (first run) and run the tests"
	@echo "make test-cluster - pipeline on a loopback standalone cluster and through airflow dags test"
	@echo "make test-extended - the reliability suite with the pipeline killed inside every stage (docs/RELIABILITY.md)"
	@echo "make bench  - run the benchmarks (figures for docs/BENCHMARKS.md)"
	@echo "make bench-curation - every selection method against ground truth on held-out pools (docs/CURATION.md)"
	@echo "make bench-quality - quality scorers against held-out judgements (docs/ANNOTATE.md)"
	@echo "make models - rebuild the default models (fastText task/quality, LightGBM quality ranker) from ../shared/data"

env: $(VENV)/.installed $(JARS)/.resolved $(JVM_ARCHIVE)

# The virtual environment, rebuilt when the pins change. pip keeps its cache, so a rebuild is quick.
$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# Delta Lake's jars, resolved from Maven Central once (never at run time). Only the delta and unitycatalog
# artifacts are kept: everything else they depend on already ships inside pyspark. Beside them, postmix's own log
# store for local file systems (deploy/jars/logstore: an atomic put-if-absent for concurrent local writers).
LOGSTORE_SOURCES := $(shell find deploy/jars/logstore -name '*.java' -o -name pom.xml)
$(JARS)/.resolved: deploy/jars/pom.xml $(LOGSTORE_SOURCES)
	rm -rf $(JARS) && mkdir -p $(JARS)
	mvn -q -B -f deploy/jars/pom.xml dependency:copy-dependencies -DincludeScope=runtime \
	    -DincludeGroupIds=io.delta,io.unitycatalog -DoutputDirectory=$(abspath $(JARS))
	mvn -q -B -f deploy/jars/logstore/pom.xml package
	cp build/logstore/postmix-delta-logstore.jar $(JARS)/
	touch $@

# The driver JVM's class archive (deploy/jars/class_archive.py): the demo pipeline, small, run once so that every
# later local session maps Spark's and Delta's classes instead of loading them (seconds off each start).
$(JVM_ARCHIVE): $(VENV)/.installed $(JARS)/.resolved deploy/jars/class_archive.py
	$(PY) deploy/jars/class_archive.py $@

# Debian's Chromium, for the report screenshot test (tests/e2e/test_report_browser.py). Needs root (CI is root).
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

demo: env
	$(VENV)/bin/postmix demo --warehouse demo-warehouse

# The default run: unit, Spark, end-to-end on the demo data, reliability, the DAG import and the report screenshot.
test: env browser
	$(PY) -m pytest tests -q -m "not cluster and not extended" --durations=25

# Whole-pipeline runs on a loopback standalone cluster and through `airflow dags test` (each compares every table
# with a local-mode run); long on 2 cores, so outside the default run.
test-cluster: env airflow-env
	$(PY) -m pytest tests/e2e -q -m cluster

# The whole reliability suite, including `postmix run` SIGKILLed inside every stage in turn (each kill resumed by
# the next run, then compared with an uninterrupted run: too long for the default run); writes docs/RELIABILITY.md.
test-extended: env
	$(PY) -m pytest tests/reliability -q

test-unit: env
	$(PY) -m pytest tests/unit -q

bench: env
	$(PY) tests/benchmarks/run_all.py --out docs/BENCHMARKS.md

# Curation quality of every selection method side by side (docs/CURATION.md); engine-free, so no Spark jars needed.
# Embeddings are cached under .bench/curation/; the section of docs/BENCHMARKS.md: run_all.py --only curation.
bench-curation: $(VENV)/.installed
	$(PY) tests/benchmarks/bench_curation.py --out .bench/curation/results.json

# Quality scorers (length, fastText, the LightGBM ranker and its length-controlled variant) on the held-out split
# (docs/ANNOTATE.md, "Quality benchmark"); the section of docs/BENCHMARKS.md: run_all.py --only bench_quality.
bench-quality: $(VENV)/.installed
	$(PY) tests/benchmarks/bench_quality.py --out .bench/quality/results.json

# fastText task + quality models, then the LightGBM quality ranker (the default quality model).
models: env
	$(PY) -m postmix.annotate.defaults --data-dir ../shared/data

# Airflow 3 in its own venv (its pins differ from ours): deploy/airflow/requirements.txt + constraints.txt.
airflow-env: $(AIRFLOW_VENV)/.installed
$(AIRFLOW_VENV)/.installed: deploy/airflow/requirements.txt deploy/airflow/constraints.txt deploy/airflow/install.sh
	PYTHON=$(PYTHON) deploy/airflow/install.sh $(AIRFLOW_VENV)

wheel: env
	deploy/cluster/build_wheel.sh dist

cluster: env
	$(PY) deploy/cluster/loopback.py --workers 2

clean-demo:
	rm -rf demo-warehouse
