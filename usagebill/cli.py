"""Old entry point kept for `python -m usagebill.cli` and console scripts installed before the move:
the dispatcher composes every layer, so it lives in the command line layer, cli/main.py (the
`usagebill` script, `python -m cli`). Shim only: the library imports nothing else from cli/, and
this file imports it only when called (tests/architecture/test_layers.py)."""


def main(argv: list[str] | None = None) -> int:
    from cli.main import main as dispatch

    return dispatch(argv)


if __name__ == "__main__":
    raise SystemExit(main())
