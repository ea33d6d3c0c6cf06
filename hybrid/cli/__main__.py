"""``python -m hybrid.cli``: the ``hybrid`` command without its console script."""

import sys

from hybrid.cli import main

sys.exit(main())
