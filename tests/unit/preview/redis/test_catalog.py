"""The shared catalog's keys: hashed, one cluster slot per space."""

from __future__ import annotations

from bot.preview.redis.catalog import catalog_key
from tests.shared.redis_catalog import KEY


async def test_the_keys_are_hashed_and_share_a_cluster_slot() -> None:
    snapshot, lock = catalog_key(("a", "space {x}:*"), "snapshot"), catalog_key(KEY, "lock")
    assert snapshot.startswith("flowpreview:catalog:{")
    assert snapshot.endswith("}:snapshot")
    assert "space" not in snapshot
    assert lock.endswith("}:lock")
    assert catalog_key(KEY, "snapshot").split(":")[2] == lock.split(":")[2]
