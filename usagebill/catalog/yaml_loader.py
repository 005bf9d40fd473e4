"""A YAML safe loader that refuses duplicate keys in any mapping.

PyYAML's loaders keep the LAST value of a repeated key without a word: two `plans:` blocks in one
file silently drop the first, a repeated `unit_price:` silently changes a price. The catalog is
read with `DuplicateKeySafeLoader`, which raises `DuplicateKeyError` (a `yaml.YAMLError` whose
marks give the line of the repeated key and of its first occurrence). YAML merge keys (`<<`) are
still allowed: only keys written twice in the same mapping are refused.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError

# the C parser when libyaml is there (about 10x faster); the constructor is Python either way
_BASE: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DuplicateKeyError(ConstructorError):
    """A mapping repeats a key; `problem_mark` is the repeated key, `context_mark` the first one."""


class DuplicateKeySafeLoader(_BASE):  # type: ignore[misc, valid-type]
    """SafeLoader that raises DuplicateKeyError instead of keeping the last of repeated keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, yaml.Node] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:  # unhashable key: the base constructor reports it
                    continue
                if first is not None:
                    raise DuplicateKeyError(
                        f"while reading a mapping (first {key!r} at line {first.start_mark.line + 1})",
                        first.start_mark,
                        f"duplicate key {key!r} (first at line {first.start_mark.line + 1}); YAML would keep "
                        "only the last one: remove one or merge them",
                        key_node.start_mark,
                    )
                seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """Parse one YAML document with the duplicate-key-refusing safe loader."""
    return yaml.load(text, Loader=DuplicateKeySafeLoader)  # noqa: S506 (a safe loader)


def yaml_error_location(exc: yaml.YAMLError) -> str:
    """'line N, column M' of the problem, or '' when PyYAML gives no position."""
    mark = getattr(exc, "problem_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
