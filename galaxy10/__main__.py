"""``python -m galaxy10``: see :mod:`galaxy10.cli`."""

import sys

from galaxy10.cli import main

sys.exit(main())
