"""`python -m cli <command>`: the same as the `usagebill` script."""

from cli.main import main

raise SystemExit(main())
