"""``python -m fairbridge``: the same as the ``fairbridge`` command."""

import sys

from fairbridge._cli import main

if __name__ == "__main__":
    sys.exit(main())
