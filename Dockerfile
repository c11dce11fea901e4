# The FlexPipelines image for Kubernetes (deploy/helm/flex-pipelines): the code location, the
# Dagster webserver and daemon, and the dagster-celery workers all run from it.
#   docker build -t flex-pipelines:0.1.0 .
# The repository sits in /app (deploy/celery-worker runs from there); the virtual environment in
# /opt/venv (FLEXPIPE_VENV) holds the pinned versions of constraints.txt.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    FLEXPIPE_VENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/home

WORKDIR /app

# dependencies first (a code change does not reinstall them)
COPY pyproject.toml constraints.txt README.md ./
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir uv==0.13.9 \
    && mkdir -p flex_pipelines assets_defs resources schedules \
    && touch flex_pipelines/__init__.py assets_defs/__init__.py resources/__init__.py schedules/__init__.py \
    && /opt/venv/bin/uv pip install --no-cache --python /opt/venv/bin/python -c constraints.txt '.[celery]' \
    && /opt/venv/bin/uv pip uninstall --python /opt/venv/bin/python flex-pipelines

COPY . .
# editable: the code imports from /app everywhere (the bundled data/ is found next to it)
RUN /opt/venv/bin/uv pip install --no-cache --python /opt/venv/bin/python --no-deps -c constraints.txt -e . \
    && groupadd --gid 1000 flexpipe \
    && useradd --uid 1000 --gid 1000 --no-create-home --home-dir /tmp flexpipe \
    && mkdir -p /opt/dagster/home \
    && chown flexpipe:flexpipe /opt/dagster/home

USER 1000:1000
EXPOSE 3000 3030
CMD ["dagster", "api", "grpc", "--host", "0.0.0.0", "--port", "3030", "--module-name", "flex_pipelines.definitions"]
