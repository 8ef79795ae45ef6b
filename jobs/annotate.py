"""spark-submit entry point: `spark-submit jobs/annotate.py --config conf.yaml` == `postmix annotate --config conf.yaml`."""

import sys

from postmix.cli import main

if __name__ == "__main__":
    sys.exit(main(["annotate", *sys.argv[1:]]))
