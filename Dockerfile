# The outreach API. Point DATABASE_URL (app role) and DATABASE_OWNER_URL (schema owner) at
# PostgreSQL; see docker-compose.yml. `outreach serve` migrates, then serves on port 8000;
# `outreach worker` (docker-compose.yml's worker) runs the background jobs.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md LICENSE alembic.ini ./
COPY migrations ./migrations
COPY src ./src
# Editable install: the service finds alembic.ini and migrations/ next to src/ (in /app).
# .data/ is the service's own: the mail catcher's port, the tracking spool, serve.json.
RUN pip install -e . \
    && useradd --system --no-create-home --home-dir /app outreach \
    && mkdir /app/.data && chown outreach /app/.data

USER outreach
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2)"]
CMD ["outreach", "serve", "--host", "0.0.0.0", "--port", "8000"]
