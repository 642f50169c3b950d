"""``python -m driftlock``: the ``driftlock`` command."""

from driftlock.cli import main

raise SystemExit(main())
