# devteam-runner: the service with git, node (TypeScript gates) and aider in its own venv.
FROM python:3.11-slim

ARG AIDER_VERSION=0.86.2
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# git for PREP, node/npm for TypeScript verification, tini to reap tool processes.
# Debian's stable versions are what we want; pinning exact revisions breaks on every update.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git nodejs npm tini ca-certificates \
    && rm -rf /var/lib/apt/lists/*

# aider pins its own dependencies, so it lives in a virtualenv of its own (as in the Makefile).
RUN python -m venv /opt/aider \
    && /opt/aider/bin/pip install --quiet "aider-chat==${AIDER_VERSION}"

WORKDIR /app
COPY pyproject.toml README.md ./
COPY runner ./runner
RUN python -m venv /opt/runner \
    && /opt/runner/bin/pip install --quiet . \
    && useradd --create-home --uid 10001 runner \
    && mkdir -p /workspace/repos /var/lib/devteam-runner \
    && chown -R runner:runner /workspace /var/lib/devteam-runner

ENV PATH=/opt/runner/bin:$PATH \
    DEVTEAM_RUNNER_HOST=0.0.0.0 \
    DEVTEAM_RUNNER_PORT=8081 \
    WORKSPACE_DIR=/workspace/repos \
    DATABASE_URL=sqlite:////var/lib/devteam-runner/runner.db \
    AIDER_PATH=/opt/aider/bin/aider \
    PYTHON_PATH=/usr/local/bin/python \
    ALLOW_LOCAL_REPOS=false \
    LOG_FORMAT=json

USER 10001
VOLUME ["/workspace/repos", "/var/lib/devteam-runner"]
EXPOSE 8081
HEALTHCHECK --interval=30s --timeout=10s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8081/healthz', timeout=5)"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["devteam-runner", "serve"]
