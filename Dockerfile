# csroi: slim image, non-root user, uvicorn via `csroi serve`.
# Migrations: `docker run IMAGE csroi migrate` as a release step; with CSROI_MIGRATE_ON_START=false,
# `serve` never migrates (several replicas must not race to migrate).
# The worker (scheduled jobs and webhook delivery) is the same image beside the API, with the same DATABASE_URL:
#   docker run -d -p 8000:8000 -v csroi-data:/data IMAGE                  # the API (this CMD)
#   docker run -d -v csroi-data:/data IMAGE csroi worker                  # the worker (SQLite: one; PostgreSQL: any)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_URL=sqlite:////data/csroi.db

WORKDIR /srv/csroi
RUN useradd --system --uid 10001 --home-dir /srv/csroi csroi && mkdir /data && chown csroi /data

# Dependencies first (cached layer), then the code. Editable install: Alembic's migrations/ stays beside app/.
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN pip install -e .

USER csroi
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD ["python", "-c", "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz').status != 200)"]
CMD ["csroi", "serve", "--host", "0.0.0.0", "--port", "8000"]
