"""Alias moves and index housekeeping of the migration (03 §4.5 steps 2 and 5, §4.6).

Every alias change is one ``_aliases`` request, so a month is never visible twice
(nor zero times) through the read alias.
"""

from __future__ import annotations

import time
from typing import Any

from ...search_indices.paging import count
from .months import MonthIndices
from .server_copy import written_count

BACKUP_POLL = 0.5
CANCEL_WAIT = 120
"""Seconds to wait for a cancelled backup reindex to stop."""


def create_target(client, entry: MonthIndices) -> None:
    """Create the target (the template applies) and take the read alias off it.

    The target is empty when the template attaches the read alias, so removing it
    at once never lets an event be counted twice.
    """
    if not client.indices.exists(index=entry.target):
        client.indices.create(index=entry.target, ignore=400)
    detach_read_alias(client, entry)


def detach_read_alias(client, entry: MonthIndices) -> None:
    """Remove the read alias from an unfinalised target (also a foreign partial one)."""
    aliases = client.indices.get_alias(index=entry.target, ignore=404)
    held = (aliases.get(entry.target) or {}).get("aliases") or {}
    if entry.read_alias in held:
        client.indices.delete_alias(index=entry.target, name=entry.read_alias)
    entry.target_aliases.discard(entry.read_alias)


def delete_target(client, entry: MonthIndices) -> bool:
    """Delete an unfinalised target (fresh start); True when it existed."""
    response = client.indices.delete(index=entry.target, ignore=404)
    entry.target_exists = False
    return bool(response.get("acknowledged"))


def move_read_alias(client, entry: MonthIndices) -> None:
    """Add the read alias to the target and remove it from the old index, at once."""
    actions: list[dict[str, Any]] = [
        {"add": {"index": entry.target, "alias": entry.read_alias}}
    ]
    if entry.source_exists and entry.read_alias in entry.source_aliases:
        actions.append({"remove": {"index": entry.source, "alias": entry.read_alias}})
    client.indices.update_aliases(body={"actions": actions})
    entry.target_aliases.add(entry.read_alias)
    entry.source_aliases.discard(entry.read_alias)


def swap_month_name(client, entry: MonthIndices) -> None:
    """Delete the old index and give its name and the read alias to the target.

    One request: ``remove_index`` of the old month, the old name as the target's
    write alias, and the read alias on the target (03 §4.6 step 5).
    """
    client.indices.update_aliases(
        body={
            "actions": [
                {"remove_index": {"index": entry.source}},
                {
                    "add": {
                        "index": entry.target,
                        "alias": entry.source,
                        "is_write_index": True,
                    }
                },
                {"add": {"index": entry.target, "alias": entry.read_alias}},
            ]
        }
    )
    entry.source_exists = False
    entry.target_aliases |= {entry.source, entry.read_alias}


def build_backup(client, entry: MonthIndices) -> int:
    """Rebuild ``backup-{old}`` with a server-side reindex; return its count.

    A partial backup of an earlier run is dropped first, after cancelling the
    server-side reindex a killed run may have left writing into it. The backup keeps
    the old index's mapping (its name matches no template).
    """
    cancel_backup_tasks(client, entry)
    client.indices.delete(index=entry.backup, ignore=404)
    mapping = client.indices.get_mapping(index=entry.source)[entry.source]["mappings"]
    client.indices.create(
        index=entry.backup,
        body={
            "settings": {
                "index": {"number_of_shards": 1, "auto_expand_replicas": "0-1"}
            },
            "mappings": mapping,
        },
    )
    expected = count(client, entry.source)
    task = client.reindex(
        body={"source": {"index": entry.source}, "dest": {"index": entry.backup}},
        wait_for_completion=False,
        refresh=True,
    )
    status = wait_for_task(client, task["task"])
    response = status.get("response") or {}
    if status.get("error") or response.get("failures"):
        raise RuntimeError(
            f"backup reindex failed: {status.get('error') or response['failures'][:1]}"
        )
    written = written_count(response)
    if written < expected:
        raise RuntimeError(
            f"backup reindex wrote {written} of {expected} events into {entry.backup}"
        )
    client.indices.refresh(index=entry.backup)
    entry.backup_exists = True
    return count(client, entry.backup)


def backup_tasks(client, entry: MonthIndices) -> list[str]:
    """Ids of the running reindex tasks that write into the month's backup."""
    response = client.tasks.list(actions="*reindex", detailed=True)
    marker = f"to [{entry.backup}]"
    return [
        task_id
        for node in (response.get("nodes") or {}).values()
        for task_id, task in (node.get("tasks") or {}).items()
        if marker in (task.get("description") or "")
    ]


def cancel_backup_tasks(client, entry: MonthIndices) -> int:
    """Cancel (and wait for) reindex tasks still writing into the backup.

    A run killed while it waited for its backup leaves the server-side task running;
    it would otherwise keep writing into, or re-create, the backup being rebuilt.
    """
    running = backup_tasks(client, entry)
    for task_id in running:
        client.tasks.cancel(task_id=task_id, ignore=404)
    deadline = time.monotonic() + CANCEL_WAIT
    while running and backup_tasks(client, entry):
        if time.monotonic() > deadline:
            raise RuntimeError(f"a reindex into {entry.backup} did not stop in time")
        time.sleep(BACKUP_POLL)
    return len(running)


def wait_for_task(client, task_id: str) -> dict[str, Any]:
    """Poll a server-side task until it completes; return its status document."""
    while True:
        status = client.tasks.get(task_id=task_id)
        if status.get("completed"):
            return status
        time.sleep(BACKUP_POLL)


def delete_index(client, name: str) -> bool:
    """Delete a concrete index; True when it was deleted."""
    response = client.indices.delete(index=name, ignore=404)
    return bool(response.get("acknowledged"))
