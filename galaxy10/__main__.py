"""``python -m galaxy10``: see :mod:`galaxy10.cli`."""

import sys

from galaxy10.cli import main

# guarded: worker processes started by `spawn` (Dask's local cluster) import this module
# again under another name, and must not run the command line a second time
if __name__ == "__main__":
    sys.exit(main())
