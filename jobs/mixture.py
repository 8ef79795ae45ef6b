"""spark-submit entry point: `spark-submit jobs/mixture.py --config conf.yaml` == `postmix mixture --config conf.yaml`."""

import sys

from postmix.cli import main

if __name__ == "__main__":
    sys.exit(main(["mixture", *sys.argv[1:]]))
