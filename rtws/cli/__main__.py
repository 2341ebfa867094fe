"""``python -m rtws.cli``: the same as the ``rtws`` console script."""

from . import main

raise SystemExit(main())
