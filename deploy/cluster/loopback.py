"""A real Spark standalone cluster on 127.0.0.1, started from the pyspark installation: one master, N workers.

Each application then gets one executor JVM per worker, with its own Python workers: the shape of a real cluster,
on one machine. pyspark's wheel ships `bin/spark-class` but not `sbin/start-master.sh` / `start-worker.sh`, so the
daemons run as child processes (`spark-class org.apache.spark.deploy.master.Master` / `...worker.Worker`), each in
its own process group so that stop() ends exactly what start() began.

    python deploy/cluster/loopback.py --workers 2        # prints the master URL, stops on Ctrl-C

Used by tests/e2e/test_standalone_cluster.py and described in docs/CLUSTER.md.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


def pyspark_home(python: str = sys.executable) -> Path:
    """SPARK_HOME of a pip-installed pyspark: the package folder (it holds bin/ and jars/)."""
    out = subprocess.run([python, "-c", "import os, pyspark; print(os.path.dirname(pyspark.__file__))"],
                         check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class LoopbackCluster:
    """One master and `workers` workers bound to 127.0.0.1 with free ports; use as a context manager."""

    spark_home: Path
    workdir: Path
    workers: int = 2
    cores_per_worker: int = 1
    memory_per_worker: str = "2g"
    start_timeout_s: float = 90.0
    master_port: int = field(default_factory=free_port)
    master_ui_port: int = field(default_factory=free_port)
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def master_url(self) -> str:
        return f"spark://{HOST}:{self.master_port}"

    def __enter__(self) -> "LoopbackCluster":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._spawn("master", MASTER_CLASS, "--host", HOST, "--port", str(self.master_port),
                        "--webui-port", str(self.master_ui_port))
            for index in range(self.workers):
                work_dir = self.workdir / f"worker-{index}"
                work_dir.mkdir(exist_ok=True)
                self._spawn(f"worker-{index}", WORKER_CLASS, "--host", HOST, "--port", str(free_port()),
                            "--webui-port", str(free_port()), "--cores", str(self.cores_per_worker),
                            "--memory", self.memory_per_worker, "--work-dir", str(work_dir), self.master_url)
            self.wait_until_alive()
        except BaseException:
            self.stop()
            raise

    def _spawn(self, name: str, main_class: str, *args: str) -> None:
        log = open(self.workdir / f"{name}.log", "wb")
        command = [str(self.spark_home / "bin" / "spark-class"), main_class, *args]
        self.processes.append(subprocess.Popen(command, env=self.environment(), stdout=log,
                                               stderr=subprocess.STDOUT, start_new_session=True))
        log.close()

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(SPARK_HOME=str(self.spark_home), SPARK_LOCAL_IP=HOST, SPARK_MASTER_HOST=HOST,
                   SPARK_WORKER_DIR=str(self.workdir), SPARK_LOG_DIR=str(self.workdir),
                   SPARK_NO_DAEMONIZE="1")
        return env

    def master_state(self) -> dict:
        with urllib.request.urlopen(f"http://{HOST}:{self.master_ui_port}/json/", timeout=5) as response:
            return json.load(response)

    def wait_until_alive(self) -> None:
        """Until the master reports every worker ALIVE; a daemon that exits early fails with its log."""
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a Spark daemon exited with {process.returncode}:\n{self.logs()}")
            try:
                if self.master_state().get("aliveworkers", 0) >= self.workers:
                    return
            except OSError:
                pass  # the master's web UI is not up yet
            time.sleep(1.0)
        raise TimeoutError(f"{self.workers} workers not alive after {self.start_timeout_s:.0f}s:\n{self.logs()}")

    def logs(self, tail_chars: int = 3000) -> str:
        parts = []
        for log in sorted(self.workdir.glob("*.log")):
            parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-tail_chars:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        """SIGTERM each daemon's process group, SIGKILL whatever is left after 20 s."""
        for process in reversed(self.processes):
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in reversed(self.processes):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(timeout=10)
        self.processes.clear()


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cores", type=int, default=1, help="cores per worker")
    parser.add_argument("--memory", default="2g", help="memory per worker")
    parser.add_argument("--workdir", help="logs and executor folders (default: a new temporary folder)")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="postmix-cluster-"))
    with LoopbackCluster(pyspark_home(), workdir, args.workers, args.cores, args.memory) as cluster:
        print(f"master {cluster.master_url} (web UI http://{HOST}:{cluster.master_ui_port}), logs in {workdir}",
              flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
