"""Alert lifecycle: fingerprints, the pending → firing → resolved state machine, notifications."""
