"""The daemon: the runtime, polling, evaluation, the cycle and the scheduler."""
