"""spark-submit entry point: `spark-submit jobs/semantic.py --config conf.yaml` == `postmix semantic --config conf.yaml`."""

import sys

from postmix.cli import main

if __name__ == "__main__":
    sys.exit(main(["semantic", *sys.argv[1:]]))
