"""`python -m billet_studio` runs the command-line interface."""

from billet_studio.cli import main

raise SystemExit(main())
