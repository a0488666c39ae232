"""Schema evolution: a stored v1 event is read as v2; its stored bytes still verify."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from events import upcasting
from events.integrity import verify_chains
from events.model import Context, NewEvent, StreamAppend
from tests.conftest import Api

TYPE = "test.profile_named"


@pytest.fixture
def name_split_upcaster() -> Iterator[None]:
    @upcasting.register(TYPE, 1)
    def split_name(data: dict[str, Any]) -> dict[str, Any]:
        given, _, family = data.pop("name").partition(" ")
        return {**data, "given_name": given, "family_name": family}

    yield
    upcasting._REGISTRY.pop((TYPE, 1))


def test_v1_event_is_read_as_v2(api: Api, name_split_upcaster: None) -> None:
    stored = api.deps.store.append(
        [StreamAppend("test-1", 0, (NewEvent(TYPE, {"subject": "s1", "name": "Ada Lovelace"}, schema=1),))], Context()
    )[0]
    auditor = api.user("upcast.auditor@example.com", ["auditor"])
    page = api.call("GET", "/api/audit/events?stream=test-1", token=auditor).json
    (event,) = page["items"]
    assert event["schema"] == 2
    assert event["data"] == {"subject": "s1", "given_name": "Ada", "family_name": "Lovelace"}
    # The log keeps the v1 bytes: verification hashes what was stored, not the upcast view.
    assert api.deps.store.read_stream("test-1")[0].data == {"subject": "s1", "name": "Ada Lovelace"}
    assert stored.schema == 1
    assert verify_chains(api.deps.store.read_all()).ok


def test_upcasters_chain_across_versions() -> None:
    table = {
        (TYPE, 1): lambda d: {**d, "v": 2},
        (TYPE, 2): lambda d: {**d, "v": 3},
    }
    from dataclasses import replace

    from events.memory import InMemoryEventStore
    from tests.contract.test_event_store import CTX  # a recorded event to upcast

    store = InMemoryEventStore()
    recorded = store.append([StreamAppend("test-2", 0, (NewEvent(TYPE, {"v": 1}),))], CTX)[0]
    assert upcasting.upcast(recorded, table).data == {"v": 3}
    assert upcasting.upcast(recorded, table).schema == 3
    assert upcasting.upcast(replace(recorded, schema=3), table).data == {"v": 1}
