"""Rule unit tests (`sre-agent test`): promtool-shaped files replayed through the agent's evaluator."""
