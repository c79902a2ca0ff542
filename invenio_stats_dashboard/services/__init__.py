"""Service facades exposed through proxies (09 §6)."""

from .community_stats import CommunityStatsService
from .event_reindexing import EventReindexingService

__all__ = ("CommunityStatsService", "EventReindexingService")
