"""Allow `python -m sre_agent`."""

from sre_agent.cli import main

raise SystemExit(main())
