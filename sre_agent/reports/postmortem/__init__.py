"""The postmortem report: data first (data.py), then renderers (render.py)."""
