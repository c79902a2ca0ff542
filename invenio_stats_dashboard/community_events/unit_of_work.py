"""One post-commit operation per unit of work, collecting every hook's intents.

``invenio_db.uow.UnitOfWork`` neither de-duplicates operations nor lets one look them
up, so the operation of each unit of work is kept here (weakly, so it dies with the
unit of work). Hooks add intents to it; after the database commit it writes them all
at once. A rollback never reaches ``on_post_commit``, so nothing is written.
"""

import logging
import weakref

from invenio_db.uow import Operation
from invenio_search.proxies import current_search_client

from ..proxies import current_community_stats
from .intents import Intent
from .writer import apply_intents

logger = logging.getLogger(__name__)

_operations: "weakref.WeakKeyDictionary[object, CommunityEventsOperation]" = (
    weakref.WeakKeyDictionary()
)


class CommunityEventsOperation(Operation):
    """Write the membership changes of one unit of work after it commits."""

    def __init__(self) -> None:
        """Start with no intents; hooks add them."""
        self.intents: list[Intent] = []

    def on_post_commit(self, uow) -> None:
        """Write now; on failure hand the same intents to the retry task."""
        write_or_retry(self.intents)


def register_intents(uow, intents: list[Intent]) -> None:
    """Add ``intents`` to the unit of work's operation (registered on first use).

    Without a unit of work (a caller outside the service layer) there is no commit
    to wait for, so the intents are written at once.
    """
    if not intents:
        return
    if uow is None:
        write_or_retry(intents)
        return
    operation = _operations.get(uow)
    if operation is None:
        operation = CommunityEventsOperation()
        _operations[uow] = operation
        uow.register(operation)
    operation.intents.extend(intents)


def write_or_retry(intents: list[Intent]) -> None:
    """Write ``intents``; if that fails, queue the Celery retry (02 §3 step 4)."""
    try:
        current_community_stats.ensure_search_setup()
        apply_intents(current_search_client, intents)
    except Exception as error:
        logger.warning("Community events write failed (%s); queued for retry.", error)
        _queue_retry(intents)


def _queue_retry(intents: list[Intent]) -> None:
    from ..tasks.community_events_tasks import write_community_events

    payload = [intent.to_dict() for intent in intents]
    try:
        write_community_events.delay(payload)
    except Exception:
        parents = sorted({i.version.parent_id for i in intents})
        logger.exception(
            "Community events for parent(s) %s could not be written or queued; "
            "run 'invenio community-stats community-events generate' to repair.",
            ", ".join(parents),
        )
