"""The figures layer: every number a user sees is defined once here, with what it is measured against.

A figure is computed by one function and carries its scope (which period or window, which instant), so that the
console, alert evidence, ``alerts list``, ``slo status``, the reports and the post-mortems show the same number for
the same fact and say in words what it is a share of. Views format figures; they never re-derive them.

- :mod:`.slo_budget` — an SLO's error budget: consumed and remaining of its own period, and the share an alert's burn
  (or any window of data time) used of it; where an alert's burn began.
- :mod:`.spend` — a cost budget's spend to date, forecast and what each is measured against; a warehouse's idle share.
- :mod:`.incident_times` — an incident's onset, detection, acknowledgement, mitigation, impact end and resolution,
  and the spans between them (TTD, TTA, TTM, TTR, the alerts' tail).
- :mod:`.text` — how figures are written: percentages, credits, money, bytes, durations, dates.

Everything here is pure: no I/O, no clock, no SDK.
"""
