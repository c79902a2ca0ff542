"""Service facades exposed through proxies (09 §6)."""

from .community_stats import CommunityStatsService

__all__ = ("CommunityStatsService",)
