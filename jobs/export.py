"""spark-submit entry point: `spark-submit jobs/export.py --run ID --out mix.jsonl` == `postmix export ...`."""

import sys

from postmix.cli import main

if __name__ == "__main__":
    sys.exit(main(["export", *sys.argv[1:]]))
