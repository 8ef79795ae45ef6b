"""spark-submit entry point: `spark-submit jobs/embed.py --config conf.yaml` == `postmix embed --config conf.yaml`."""

import sys

from postmix.cli import main

if __name__ == "__main__":
    sys.exit(main(["embed", *sys.argv[1:]]))
