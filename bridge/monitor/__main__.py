"""``python -m fairbridge.monitor``: the ``fairbridge monitor`` command, standalone."""

from ._cli import main

raise SystemExit(main())
