"""Statistics dashboards for InvenioRDM."""

__version__ = "0.1.0"
