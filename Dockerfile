# syntax=docker/dockerfile:1
# flowpreview: `docker build -t flowpreview .`, then `docker run --env-file … -p 3000:3000 flowpreview`.
# `docker build --target demo -t flowpreview-demo .` adds the demo, the emulator and their stand-ins.
# tests/unit/project/test_container.py checks what can be checked without building: the command,
# the ports, the health check, the user and that no secret is baked in.

# Both stages on the same base, so that the virtualenv's python links resolve in the final one.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: flowpreview and its dependencies, pinned by constraints.txt, in a virtualenv ----
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src
RUN python -m venv /opt/flowpreview
# Only what the wheel is built from: the code, its metadata, and the pins.
COPY pyproject.toml constraints.txt README.md LICENSE ./
COPY bot ./bot
# A regular (not editable) install: pip builds the wheel and installs it with the extras that
# replicas need: redis (REDIS_URL) and postgres (a shared DATABASE_URL).
RUN /opt/flowpreview/bin/pip install --constraint constraints.txt ".[postgres,redis]"
# The demo's virtualenv is that one whole; production's leaves out the demo and emulator
# commands, the stand-ins for Slack and Alibaba Cloud, the CAMS emulator and the test harness,
# none of which `serve` loads. Both are later copied to the same path, which the virtualenv's
# scripts name.
RUN cp -a /opt/flowpreview /opt/flowpreview-demo \
    && cd /opt/flowpreview/lib/python*/site-packages/bot \
    && rm -r standin cli/demo.py cli/emulator.py

# ---- runtime: what both images share, run by an unprivileged user ----
FROM ${PYTHON_IMAGE} AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/flowpreview/bin:$PATH

# A fixed UID, so that Kubernetes' runAsNonRoot can check it and volume permissions are stable.
RUN groupadd --system --gid 10001 flowpreview \
    && useradd --system --uid 10001 --gid flowpreview --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin flowpreview \
    && install --directory --owner=10001 --group=10001 --mode=0700 /var/lib/flowpreview

# Without DATABASE_URL the audit trail and access rules live in SQLite here: a volume, so that
# they outlive the container and the root filesystem can stay read-only. Replicas need a shared
# PostgreSQL instead (DATABASE_URL).
ENV DATABASE_PATH=/var/lib/flowpreview/flowpreview.sqlite3
VOLUME ["/var/lib/flowpreview"]

# The Slack port (PORT, default 3000): /slack/events in HTTP mode and /healthz in both modes.
# 9100 is where compose.yaml serves /metrics (METRICS_PORT); metrics are off unless it is set.
EXPOSE 3000 9100

# /healthz on PORT, with the standard library only (slim images have no curl), bypassing any
# HTTP(S)_PROXY the bot is given for its replies. Any failure exits 1: unhealthy.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; port = os.environ.get('PORT', '').strip() or '3000'; urllib.request.build_opener(urllib.request.ProxyHandler({})).open(f'http://127.0.0.1:{port}/healthz', timeout=4).close()"]

# SIGTERM starts the drain, over within SHUTDOWN_DRAIN_S + 5 s (15 s by default): give
# `docker stop --time 20` (compose.yaml sets stop_grace_period), Kubernetes' 30 s is enough.
STOPSIGNAL SIGTERM
ENTRYPOINT ["flowpreview"]
CMD ["serve"]

# ---- demo: `flowpreview demo` and `flowpreview emulator`, for compose's demo profile ----
FROM runtime AS demo
COPY --from=builder /opt/flowpreview-demo /opt/flowpreview
USER 10001:10001

# ---- production, the default target: the virtualenv without the stand-ins ----
FROM runtime AS production
COPY --from=builder /opt/flowpreview /opt/flowpreview
USER 10001:10001
