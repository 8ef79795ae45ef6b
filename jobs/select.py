"""spark-submit entry point: `spark-submit jobs/select.py --config conf.yaml` == `postmix select --config conf.yaml`."""

import sys

from postmix.cli import main

if __name__ == "__main__":
    sys.exit(main(["select", *sys.argv[1:]]))
