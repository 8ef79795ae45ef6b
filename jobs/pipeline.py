"""spark-submit entry point: `spark-submit jobs/pipeline.py --config conf.yaml` == `postmix run --config conf.yaml`."""

import sys

from postmix.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
