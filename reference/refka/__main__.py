"""``python -m refka``: the ``refka`` command."""

from refka.cli import main

raise SystemExit(main())
