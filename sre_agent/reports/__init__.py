"""Reports people act on: cost (and, later, optimization, post-mortems, SLO compliance)."""
