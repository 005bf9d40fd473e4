"""The project test suite (a regular package, so an installed top-level "tests" package, such as
the one lago-python-client ships, cannot shadow it)."""
