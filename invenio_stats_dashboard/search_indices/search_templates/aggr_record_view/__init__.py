"""Composable copy of InvenioRDM's record-view aggregation template."""
