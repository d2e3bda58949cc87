"""``python -m pond``: the pond command line."""
from pond.cli import main

raise SystemExit(main())
