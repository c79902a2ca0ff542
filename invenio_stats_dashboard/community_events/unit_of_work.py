"""One post-commit operation per unit of work, collecting every hook's intents.

``invenio_db.uow.UnitOfWork`` neither de-duplicates operations nor lets one look them
up, so the operation of each unit of work is kept here (weakly, so it dies with the
unit of work). Hooks add intents to it; after the database commit it writes them all
at once. A rollback never reaches ``on_post_commit``, so nothing is written.

``UnitOfWork.commit()`` commits the session and then runs every ``on_commit``
(InvenioRDM's indexing) before any ``on_post_commit``. When one of those raises, for
example because the search cluster is down, the membership change is already in the
database but ``on_post_commit`` never runs; the unit of work then calls
``on_exception``. Session commits are counted, so ``on_exception`` can tell this case
(write, or queue the retry) from a real rollback (write nothing).
"""

import logging
import weakref

from invenio_db.uow import Operation
from invenio_search.proxies import current_search_client
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..proxies import current_community_stats
from .intents import Intent
from .writer import apply_intents

logger = logging.getLogger(__name__)

_operations: "weakref.WeakKeyDictionary[object, CommunityEventsOperation]" = (
    weakref.WeakKeyDictionary()
)


_COMMITS_KEY = "invenio_stats_dashboard.community_events.commits"


@event.listens_for(Session, "after_commit")
def _count_commit(session) -> None:
    """Count commits of the database transaction (savepoint releases do not count)."""
    if session.in_nested_transaction():
        return
    session.info[_COMMITS_KEY] = session.info.get(_COMMITS_KEY, 0) + 1


def _commit_count(session) -> int:
    return session.info.get(_COMMITS_KEY, 0)


class CommunityEventsOperation(Operation):
    """Write the membership changes of one unit of work after it commits."""

    def __init__(self) -> None:
        """Start with no intents; hooks add them."""
        self.intents: list[Intent] = []
        self._commits_at_register = 0
        self._written = False

    def on_register(self, uow) -> None:
        """Remember how many times the session has committed so far."""
        self._commits_at_register = _commit_count(uow.session)

    def on_post_commit(self, uow) -> None:
        """Write now; on failure hand the same intents to the retry task."""
        self._written = True
        queue_write(self.intents)

    def on_exception(self, uow, exception) -> None:
        """Write when the database committed but a later operation raised."""
        if self._written or _commit_count(uow.session) <= self._commits_at_register:
            return
        self._written = True
        logger.warning(
            "Unit of work failed after its database commit (%s); writing the "
            "community events anyway.",
            exception,
        )
        queue_write(self.intents)


def register_intents(uow, intents: list[Intent]) -> None:
    """Add ``intents`` to the unit of work's operation (registered on first use).

    Without a unit of work (a caller outside the service layer) there is no commit
    to wait for, so the intents are written at once.
    """
    if not intents:
        return
    if uow is None:
        queue_write(intents)
        return
    operation = _operations.get(uow)
    if operation is None:
        operation = CommunityEventsOperation()
        _operations[uow] = operation
        uow.register(operation)
    operation.intents.extend(intents)


def queue_write(intents: list[Intent]) -> None:
    """Hand ``intents`` to the Celery writer task; write inline if it cannot queue.

    The task writes with ``refresh=wait_for``, which waits for the next index refresh
    (up to the template's 5 s), so the user's request never waits for it. The task
    retries failed writes with back-off (02 §3 step 4). When the broker cannot take
    the task, the intents are written here instead, so nothing is lost.
    """
    from ..tasks.community_events_tasks import write_community_events

    payload = [intent.to_dict() for intent in intents]
    try:
        write_community_events.delay(payload)
        return
    except Exception as error:
        logger.warning(
            "Community events task could not be queued (%s); writing inline.", error
        )
    try:
        current_community_stats.ensure_search_setup()
        apply_intents(current_search_client, intents)
    except Exception:
        parents = sorted({i.version.parent_id for i in intents})
        logger.exception(
            "Community events for parent(s) %s could not be written or queued; "
            "run 'invenio community-stats community-events generate' to repair.",
            ", ".join(parents),
        )
