"""The report's shared parts: HTML table pages (``pages``), provenance (``provenance``) and where the time went (``timing``)."""
