"""sre-agent: SRE observability and cost control for Snowflake + Azure data platforms."""

__version__ = "0.1.0"
