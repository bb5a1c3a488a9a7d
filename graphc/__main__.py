"""`python -m graphc`: the command line (graphc.cli)."""

import sys

from graphc.cli import main

sys.exit(main())
