"""spark-submit entry point: `spark-submit jobs/select_stage.py --config c.yaml` == `postmix select --config c.yaml`.

Not jobs/select.py: spark-submit puts the script's folder first on sys.path, and a file named like a standard
library module (`select`) would be imported in its place by every job in jobs/ (pyspark imports socket -> select).
"""

import sys

from postmix.cli import main

if __name__ == "__main__":
    sys.exit(main(["select", *sys.argv[1:]]))
