"""Writer of the live community events queued after each commit (02 §3 steps 2–4)."""

import logging

from celery import shared_task
from invenio_search.proxies import current_search_client

from ..community_events.intents import Intent
from ..community_events.writer import apply_intents
from ..proxies import current_community_stats

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
"""Attempts per queued write: the first one and four retries with back-off."""


@shared_task(bind=True, ignore_result=True, max_retries=MAX_ATTEMPTS - 1)
def write_community_events(self, intents: list[dict]) -> None:
    """Write the captured intents; retry with exponential back-off, then log ERROR."""
    try:
        current_community_stats.ensure_search_setup()
        apply_intents(current_search_client, [Intent.from_dict(i) for i in intents])
    except Exception as error:
        if self.request.retries >= self.max_retries:
            parents = sorted({i["version"]["parent_id"] for i in intents})
            logger.error(
                "Community events for parent(s) %s were not written after %d "
                "attempts (%s); 'invenio community-stats community-events "
                "generate' repairs them.",
                ", ".join(parents),
                MAX_ATTEMPTS,
                error,
            )
            return
        raise self.retry(exc=error, countdown=2**self.request.retries) from error
