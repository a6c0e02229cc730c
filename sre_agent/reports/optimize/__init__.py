"""The optimize report: data first (data.py), then renderers (render.py)."""
