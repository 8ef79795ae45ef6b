"""spark-submit entry point: `spark-submit jobs/report.py --config conf.yaml` == `postmix report --config conf.yaml`."""

import sys

from postmix.cli import main

if __name__ == "__main__":
    sys.exit(main(["report", *sys.argv[1:]]))
