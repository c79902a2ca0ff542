"""Usage events through invenio-stats' real pipeline (09 §8.4, 01 §5.1).

``emit_view`` / ``emit_download`` build the event dict exactly as InvenioRDM 13's
``invenio_rdm_records.resources.stats.event_builders`` (plus ``check_if_via_api``
and, for views, ``drop_if_via_api``) would inside a request, but with the timestamp,
visitor and request data the test chooses, and publish it with
``current_stats.publish`` onto the invenio-queues queue (Redis broker).
``process_usage_events`` then runs invenio-stats' ``process_events`` task, so the
configured indexer and its preprocessors (``filter_robots``, ``flag_machines``,
``anonymize_user``, ``build_*_unique_id``) really run.

The pure helpers (``expected_visitor_id``, ``expected_unique_session_id``,
``expected_event_id``, ``event_index_suffix``) restate invenio-stats' rules for oracles.
"""

import hashlib
from datetime import UTC, datetime
from time import mktime

from invenio_rdm_records.records.api import RDMRecord
from invenio_search import current_search_client
from invenio_search.utils import prefix_index
from invenio_stats.proxies import current_stats
from invenio_stats.tasks import process_events
from pytz import utc

from .records import record_id

VIEW = "record-view"
DOWNLOAD = "file-download"
EVENT_TYPES = (VIEW, DOWNLOAD)

BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
"""A user agent that counter-robots classifies as neither robot nor machine."""
ROBOT_UA = "Googlebot/2.1 (+http://www.google.com/bot.html)"
"""A user agent ``filter_robots`` drops. (counter-robots 2025.11: every pattern of its
machine list also matches its robot list, so with InvenioRDM 13's preprocessor order no
stored live event ever has ``is_machine`` true.)"""
DEFAULT_IP = "127.0.0.1"
"""The Flask test client's ``remote_addr``; GeoIP gives no country for it."""


# --------------------------------------------------------------------------- time


def as_utc_naive(timestamp):
    """Return ``timestamp`` (datetime or ISO string) as a naive UTC datetime."""
    if isinstance(timestamp, str):
        timestamp = datetime.fromisoformat(timestamp)
    if timestamp.tzinfo is not None:
        timestamp = timestamp.astimezone(UTC).replace(tzinfo=None)
    return timestamp


def event_index_suffix(timestamp):
    """Month suffix of the live index an event goes to (``EventsIndexer`` ``%Y-%m``)."""
    return as_utc_naive(timestamp).strftime("%Y-%m")


def event_index(event_type, timestamp):
    """Full name ``{P}events-stats-<type>-YYYY-MM`` of the monthly index of an event."""
    return (
        f"{prefix_index('events-stats-' + event_type)}-{event_index_suffix(timestamp)}"
    )


# --------------------------------------------------------------------------- builders


def _record_ids(record):
    """Return ``(recid, parent_recid)`` of an item, a dict, an API record or a recid."""
    if isinstance(record, RDMRecord):
        return record["id"], record.parent["id"]
    if isinstance(record, dict):
        return record["id"], record["parent"]["id"]
    data = getattr(record, "data", None)
    if isinstance(data, dict) and "parent" in data:
        return data["id"], data["parent"]["id"]
    api_record = RDMRecord.pid.resolve(record_id(record))
    return api_record["id"], api_record.parent["id"]


def _who(ip, user_agent, user_id, session_id):
    # invenio_stats.utils.get_user(): remote_addr, user-agent string, the logged-in
    # user's id as a string (flask-login get_id) or None, and the session's "sid_s".
    return {
        "ip_address": ip,
        "user_agent": user_agent,
        "user_id": str(user_id) if user_id is not None else None,
        "session_id": session_id,
    }


def build_view_event(
    record,
    timestamp,
    *,
    user_id=None,
    session_id=None,
    ip=DEFAULT_IP,
    user_agent=BROWSER_UA,
    referrer=None,
    via_api=False,
):
    """The record-view event InvenioRDM 13's builder chain would queue, or ``None``.

    ``record_view_event_builder`` + ``check_if_via_api`` + ``drop_if_via_api``: an API
    view (``via_api=True``) is dropped before it is queued, so ``None`` is returned.
    """
    if via_api:
        return None
    recid, parent_recid = _record_ids(record)
    return {
        "timestamp": as_utc_naive(timestamp).isoformat(),
        "recid": recid,
        "parent_recid": parent_recid,
        "referrer": referrer,
        **_who(ip, user_agent, user_id, session_id),
        "via_api": False,
    }


def file_object(record, file_key):
    """Return the ``ObjectVersion`` of ``file_key`` of a published record."""
    api_record = (
        record
        if isinstance(record, RDMRecord)
        else RDMRecord.pid.resolve(_record_ids(record)[0])
    )
    return api_record.files[file_key].object_version


def build_download_event(
    record,
    file_key,
    timestamp,
    *,
    user_id=None,
    session_id=None,
    ip=DEFAULT_IP,
    user_agent=BROWSER_UA,
    referrer=None,
    via_api=False,
):
    """The file-download event InvenioRDM 13's builder chain would queue.

    ``file_download_event_builder`` + ``check_if_via_api`` (API downloads are kept, with
    ``via_api`` true). ``bucket_id``, ``file_id``, ``file_key`` and ``size`` come from
    the record's ``ObjectVersion``, as the builder's ``obj``.
    """
    recid, parent_recid = _record_ids(record)
    obj = file_object(record, file_key)
    return {
        "timestamp": as_utc_naive(timestamp).isoformat(),
        "bucket_id": str(obj.bucket_id),
        "file_id": str(obj.file_id),
        "file_key": obj.key,
        "size": obj.file.size,
        "recid": recid,
        "parent_recid": parent_recid,
        "referrer": referrer,
        **_who(ip, user_agent, user_id, session_id),
        "via_api": bool(via_api),
    }


# --------------------------------------------------------------------------- pipeline


def publish_events(event_type, events):
    """Queue events with ``current_stats.publish`` (no-op for an empty list)."""
    events = [e for e in events if e is not None]
    if events:
        current_stats.publish(event_type, events)
    return events


def emit_view(record, timestamp, **kwargs):
    """Build and queue a record-view event; return it (``None`` if dropped)."""
    event = build_view_event(record, timestamp, **kwargs)
    publish_events(VIEW, [event])
    return event


def emit_download(record, file_key, timestamp, **kwargs):
    """Build and queue a file-download event; return it."""
    event = build_download_event(record, file_key, timestamp, **kwargs)
    publish_events(DOWNLOAD, [event])
    return event


def refresh_event_indices():
    """Refresh every ``{P}events-stats-*`` index."""
    current_search_client.indices.refresh(
        index=prefix_index("events-stats-*"),
        ignore_unavailable=True,
        allow_no_indices=True,
    )


def process_usage_events(event_types=EVENT_TYPES):
    """Index the queued events with invenio-stats' ``process_events``; refresh.

    Returns the task's result: ``[(event_type, (indexed, errors)), ...]``.
    """
    results = process_events(list(event_types))
    refresh_event_indices()
    return results


def purge_event_queues(event_types=EVENT_TYPES):
    """Drop whatever is still queued for the event types (leftovers of earlier runs)."""
    from invenio_queues.proxies import current_queues

    current_queues.declare(queues=[f"stats-{t}" for t in event_types])
    current_queues.purge(queues=[f"stats-{t}" for t in event_types])


def search_events(event_type, query=None, size=1000):
    """Return the hits (with ``_id``, ``_index``, ``_source``) of one event type."""
    refresh_event_indices()
    body = {
        "query": query or {"match_all": {}},
        "size": size,
        "sort": [{"timestamp": "asc"}],
    }
    result = current_search_client.search(
        index=prefix_index(f"events-stats-{event_type}-*"),
        body=body,
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    return result["hits"]["hits"]


# --------------------------------------------------------------------------- oracles


def anonymization_salt(timestamp):
    """The salt ``anonymize_user`` uses for the event's UTC day (created if missing).

    Reads ``stats:salt:YYYY-MM-DD`` from invenio-cache through invenio-stats' own
    ``get_anonymization_salt``, so call it while the salt is still cached (24 h).
    """
    from dateutil import parser
    from invenio_stats.utils import get_anonymization_salt

    return get_anonymization_salt(parser.parse(as_utc_naive(timestamp).isoformat()))


def _visitor_material(timestamp, user_id, session_id, ip, user_agent):
    """What ``anonymize_user`` hashes after the salt (visitor, session)."""
    timeslice = as_utc_naive(timestamp).strftime("%Y%m%d%H")
    if user_id:
        return str(user_id), f"{user_id}|{timeslice}"
    if session_id:
        return session_id, f"{session_id}|{timeslice}"
    if ip and user_agent:
        both = f"{ip}|{user_agent}|{timeslice}"
        return both, both
    return "", ""


def expected_visitor_id(
    salt, timestamp, *, user_id=None, session_id=None, ip=None, user_agent=None
):
    """``visitor_id`` as invenio-stats' ``anonymize_user`` computes it (pure).

    SHA-224 of the day's salt followed by the user id, else the session id, else
    ``ip|user_agent|YYYYMMDDHH`` (so an anonymous visitor without a session gets a new
    id every hour), else nothing.
    """
    material, _ = _visitor_material(timestamp, user_id, session_id, ip, user_agent)
    return hashlib.sha224((salt + material).encode("utf-8")).hexdigest()


def expected_unique_session_id(
    salt, timestamp, *, user_id=None, session_id=None, ip=None, user_agent=None
):
    """``unique_session_id`` as ``anonymize_user`` computes it (pure): id + hour."""
    _, material = _visitor_material(timestamp, user_id, session_id, ip, user_agent)
    return hashlib.sha224((salt + material).encode("utf-8")).hexdigest()


def expected_unique_id(event):
    """``unique_id`` of ``build_record_unique_id`` / ``build_file_unique_id`` (pure)."""
    if "bucket_id" in event:
        return f"{event['bucket_id']}_{event['file_id']}"
    return f"{'api' if event.get('via_api') else 'ui'}_{event['recid']}"


def expected_event_id(timestamp, unique_id, visitor_id, double_click_window=10):
    """Document ``_id`` given by ``EventsIndexer`` (``hash_id``, windowed timestamp).

    Mirrors the upstream arithmetic exactly (``mktime`` of the UTC time tuple, then
    ``fromtimestamp``), which floors the wall-clock time to the window.
    """
    ts = as_utc_naive(timestamp).replace(microsecond=0)
    if double_click_window > 0:
        seconds = mktime(utc.localize(ts).utctimetuple())
        ts = ts.fromtimestamp(seconds // double_click_window * double_click_window)
    digest = hashlib.sha1(
        unique_id.encode("utf-8") + str(visitor_id).encode("utf-8")
    ).hexdigest()
    return f"{ts.isoformat()}-{digest}"
