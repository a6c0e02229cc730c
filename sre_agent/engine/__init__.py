"""Pure evaluation: (spec, frames, now) → conditions. No I/O, no clock, no SDK imports."""
