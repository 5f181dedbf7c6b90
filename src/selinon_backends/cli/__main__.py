"""``python -m selinon_backends.cli``: the same as the ``selinon-cli`` script."""

import sys

from selinon_backends.cli import main

sys.exit(main())
