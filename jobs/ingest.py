"""spark-submit entry point: `spark-submit jobs/ingest.py --config conf.yaml` == `postmix ingest --config conf.yaml`."""

import sys

from postmix.cli import main

if __name__ == "__main__":
    sys.exit(main(["ingest", *sys.argv[1:]]))
