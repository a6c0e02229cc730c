# sre-agent container: slim Python, non-root, the project files baked in, `sre-agent run` by default.
# Without a mounted config it runs the embedded default (fake Snowflake + synthetic workload); mount a
# config and set SRE_AGENT_CONFIG for a real account (see docs/operations.md and docs/connecting-snowflake.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SRE_AGENT_HOME=/app

WORKDIR /app
COPY pyproject.toml README.md ./
COPY sre_agent ./sre_agent
# The embedded extra keeps the zero-config default working; a production image may drop it.
RUN pip install ".[embedded]"
COPY examples ./examples
COPY rules ./rules
COPY runbooks ./runbooks

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin agent \
    && mkdir -p /app/.sre-agent /var/lib/sre-agent \
    && chown -R agent:agent /app/.sre-agent /var/lib/sre-agent
USER agent
VOLUME ["/var/lib/sre-agent"]

# Healthy while evaluations keep running (the heartbeat is in the state store).
HEALTHCHECK --interval=60s --timeout=15s --start-period=180s --retries=3 CMD ["sre-agent", "health", "--max-age", "5m"]

ENTRYPOINT ["sre-agent"]
CMD ["run"]
