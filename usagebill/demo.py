"""Old entry point kept for `python -m usagebill.demo`: the demo composes every layer, so it lives
in the command line layer, cli/demo.py (`python -m cli.demo`, `make demo`). Shim only: the library
imports nothing else from cli/, and this file imports it only when run
(tests/architecture/test_layers.py)."""

if __name__ == "__main__":
    from cli.demo import main

    raise SystemExit(main())
