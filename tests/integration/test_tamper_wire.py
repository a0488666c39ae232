"""Tampering through raw pymongo is detected, naming the first bad position (SPEC §2)."""

from __future__ import annotations

from typing import Any

import pytest

from core.clock import FixedClock
from events.checkpoints import Checkpoint, CheckpointSigner, CheckpointStore, seal
from events.integrity import Report, verify_log
from events.model import Context, NewEvent, StreamAppend
from events.mongo import MongoEventStore

pytestmark = pytest.mark.integration

SIGNER = CheckpointSigner("signing-secret-for-tests-" + "z" * 20)
EVENTS = 12  # positions 1..12, sealed in checkpoints of at most 5: [1-5], [6-10], [11-12]


class Log:
    def __init__(self, client: Any, name: str, clock: FixedClock) -> None:
        self.db = client[name]
        self.store = MongoEventStore(client, name, clock)
        self.store.ensure_indexes()
        self.checkpoints = CheckpointStore(self.db["checkpoints"])
        for n in range(EVENTS):
            stream = f"s-{n % 3}"
            self.store.append([StreamAppend(stream, n // 3, (NewEvent("test.happened", {"n": n}),))], Context())
            clock.advance(seconds=1)
        seal(self.store, self.checkpoints, SIGNER, clock, max_events=5)
        self.checkpoints_made = self.checkpoints.all()

    def verify(self) -> Report:
        allocated = self.db["counters"].find_one({"_id": "events"})["position"]
        return verify_log(self.store.read_all(), self.checkpoints.all(), SIGNER, allocated=allocated)

    def events(self) -> Any:
        return self.db["events"]


@pytest.fixture
def log(wire_client: Any, wire_db_name: str, clock: FixedClock) -> Log:
    return Log(wire_client, wire_db_name, clock)


def assert_first_failure(report: Report, position: int) -> None:
    assert not report.ok
    assert report.first_failure is not None
    assert report.first_failure.position == position, report.first_failure


def test_intact_log_verifies(log: Log) -> None:
    report = log.verify()
    assert report.ok, report.first_failure
    assert (report.events_checked, report.checkpoints_checked) == (EVENTS, 3)
    assert [(c.first_position, c.last_position) for c in log.checkpoints_made] == [(1, 5), (6, 10), (11, 12)]


def test_changed_data_field(log: Log) -> None:
    log.events().update_one({"_id": 7}, {"$set": {"data.n": 999}})
    assert_first_failure(log.verify(), 7)


def test_changed_occurred_at(log: Log) -> None:
    doc = log.events().find_one({"_id": 4})
    log.events().update_one({"_id": 4}, {"$set": {"occurred_at": doc["occurred_at"].replace(year=2020)}})
    assert_first_failure(log.verify(), 4)


def test_deleted_event_in_the_middle(log: Log) -> None:
    log.events().delete_one({"_id": 6})
    assert_first_failure(log.verify(), 6)


def test_two_swapped_events(log: Log) -> None:
    a, b = log.events().find_one({"_id": 3}), log.events().find_one({"_id": 8})
    log.events().delete_many({"_id": {"$in": [3, 8]}})
    log.events().insert_many([{**b, "_id": 3}, {**a, "_id": 8}])
    assert_first_failure(log.verify(), 3)


def test_truncated_tail_after_a_checkpoint(log: Log) -> None:
    log.events().delete_many({"_id": {"$gte": 9}})
    assert_first_failure(log.verify(), 9)


def test_truncated_unsealed_tail_is_caught_by_the_position_counter(log: Log, clock: FixedClock) -> None:
    log.store.append([StreamAppend("s-new", 0, (NewEvent("test.happened", {"n": 13}),))], Context())
    log.events().delete_many({"_id": {"$gte": 13}})
    assert_first_failure(log.verify(), 13)


def test_rehashed_edit_is_caught_by_the_checkpoint_root(log: Log) -> None:
    """An attacker who edits an event and recomputes its stream's chain still breaks the Merkle root."""
    from events.canonical import chain_hash
    from events.mongo import from_document

    victim = from_document(log.events().find_one({"_id": 7}))
    stream = victim.stream
    prev = victim.prev_hash
    for doc in log.events().find({"stream": stream, "_id": {"$gte": 7}}).sort("_id", 1):
        event = from_document(doc)
        data = {**event.data, "n": 999} if event.position == 7 else event.data
        content = {**event.content(), "data": data}
        new_hash = chain_hash(prev, content)
        log.events().update_one({"_id": doc["_id"]}, {"$set": {"data": data, "prev_hash": prev, "hash": new_hash}})
        prev = new_hash
    assert_first_failure(log.verify(), 6)  # the first position of the checkpoint whose root broke


def test_forged_checkpoint_root(log: Log) -> None:
    log.db["checkpoints"].update_one({"_id": 2}, {"$set": {"root": "ab" * 32}})
    assert_first_failure(log.verify(), 6)


def test_checkpoint_resigned_with_a_wrong_key(log: Log) -> None:
    other = CheckpointSigner("a-different-secret-" + "q" * 30)
    doc = log.db["checkpoints"].find_one({"_id": 1})
    fields = {k: doc[k] for k in ("first_position", "last_position", "root", "prev_root")}
    forged = Checkpoint(seq=1, key_id=SIGNER.key_id, signature="", created_at=doc["created_at"], **fields)
    log.db["checkpoints"].update_one({"_id": 1}, {"$set": {"signature": other.sign(forged.signed_bytes())}})
    assert_first_failure(log.verify(), 1)


def test_inclusion_proof_checks_out_for_a_client(log: Log) -> None:
    from events import merkle
    from events.checkpoints import proof

    found = proof(log.store, log.checkpoints, 8)
    assert found is not None
    checkpoint = found["checkpoint"]
    assert SIGNER.verify(checkpoint)
    leaf = bytes.fromhex(found["leaf"])
    path = [bytes.fromhex(p) for p in found["audit_path"]]
    root = bytes.fromhex(checkpoint.root)
    assert merkle.verify_inclusion(leaf, found["leaf_index"], found["tree_size"], path, root)
    assert not merkle.verify_inclusion(b"\x00" * 32, found["leaf_index"], found["tree_size"], path, root)
