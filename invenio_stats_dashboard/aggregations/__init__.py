"""Aggregators that write the daily statistics documents (04)."""
