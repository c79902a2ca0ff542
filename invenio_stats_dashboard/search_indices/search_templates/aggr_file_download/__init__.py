"""Composable copy of InvenioRDM's file-download aggregation template."""
