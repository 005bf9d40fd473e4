"""Units of the collector's request processing: the array splitter used when a body does not
decode as a whole, and the duplicate re-check after processing ran in a worker thread."""

from __future__ import annotations

from datetime import UTC, datetime

from ingestion.collector.landing_log import DedupIndex, event_key
from ingestion.collector.processing import decode_items, process_batch, recheck_duplicates, split_json_array
from tests.collector.conftest import event

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def test_split_json_array_keeps_strings_and_nesting_intact() -> None:
    body = b' [ {"a": "x,]}\\"[{"}, [[1, 2]], "s", 3 ] '
    assert split_json_array(body) == [b' {"a": "x,]}\\"[{"}', b" [[1, 2]]", b' "s"', b" 3 "]
    assert split_json_array(b"[]") == []
    assert split_json_array(b'{"a": 1}') is None  # not an array
    assert split_json_array(b"[1, [2]") is None  # unbalanced
    assert split_json_array(b'["open') is None  # unterminated string


def test_each_element_decodes_alone() -> None:
    deep = b"[" * 3000 + b"]" * 3000
    items, pre = decode_items([b'{"a": 1.5}', deep, b'"\\ud800"', b"{oops"])
    assert items[0] == {"a": __import__("decimal").Decimal("1.5")}
    assert sorted(pre) == [1, 2, 3]
    assert "nested too deeply" in pre[1].reason and pre[2].rule == pre[3].rule == "json"


def test_recheck_turns_keys_staged_meanwhile_into_duplicates() -> None:
    """Two requests carry evt-2; both were validated in threads before either staged: the second
    to reach the loop must answer duplicate and land nothing for it."""
    index = DedupIndex(100)
    out = process_batch(
        [event(1), event(2), event(3)], tenant_id="acme", index=index, now=NOW, endpoint="/v1/events"
    )
    assert out.accepted == 3
    index.add_pending(event_key("acme", "evt-2"))  # the other request staged evt-2 meanwhile
    recheck_duplicates(out, index)
    assert [(a.event_id, a.status) for a in out.results] == [
        ("evt-1", "accepted"),
        ("evt-2", "duplicate"),
        ("evt-3", "accepted"),
    ]
    assert (out.accepted, out.duplicate, len(out.lines), len(out.keys)) == (2, 1, 2, 2)
    assert out.keys == [event_key("acme", "evt-1"), event_key("acme", "evt-3")]
    assert [b'"evt-1"' in line for line in out.lines] == [True, False]
