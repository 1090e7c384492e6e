"""``python -m vaultgate.cli``: the same as the ``vaultgate`` command."""

import sys

from vaultgate.cli import main

sys.exit(main())
