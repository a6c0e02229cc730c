"""Configuration: YAML with positions, pydantic specs, loading and semantic checks."""
