"""`python -m sre_agent.cli`."""

import sys

from sre_agent.cli import main

sys.exit(main())
