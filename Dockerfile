# syntax=docker/dockerfile:1
# casebinder: the API server, with its SQLite database and blob store in the /data volume.
#   docker build -t casebinder .
#   docker run -d -p 8000:8000 -v casebinder-data:/data casebinder
# compose.yaml runs the same image as API nodes and workers on PostgreSQL and S3 ("Running in production" in the
# README). tests/test_deployment.py runs hadolint on this file.

# The Python release is pinned to the patch level and the Debian release by name: a rebuild gets the same
# interpreter, and only the Debian security updates that apt-get brings.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# The wheel of casebinder itself is built in a stage of its own, so the source tree never lands in a layer of the
# image that runs.
FROM ${PYTHON_IMAGE} AS wheel
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api api
COPY models models
COPY migrations migrations
COPY templates templates
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="casebinder" \
      org.opencontainers.image.description="Self-hosted evidence locker for fake-review litigation"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# Pango and HarfBuzz for WeasyPrint, libmagic for type sniffing, Tesseract for OCR, DejaVu and Noto fonts for pages in any
# script (scripts/system-deps.sh's runtime list; its test-only poppler-utils and Chromium stay out); tini as PID 1,
# which reaps what a stopped bundle build leaves. Versions are not pinned (DL3008): the base image fixes the Debian
# release, and a pin to a point version would fail the build at the release's next security update.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 libmagic1 tesseract-ocr tesseract-ocr-eng \
        fonts-dejavu-core \
        fonts-noto-core fonts-noto-mono fonts-noto-cjk tini \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 casebinder \
    && useradd --system --uid 10001 --gid casebinder --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin casebinder

# The locked dependencies come first, in a layer of their own: a change to the source reuses it and installs only
# the package itself. The lock and the wheel are mounted for the one command, not copied into a layer.
RUN --mount=type=bind,source=requirements/server.txt,target=/tmp/requirements.txt \
    pip install --require-hashes -r /tmp/requirements.txt

# Migrations and templates ship inside the package, so a plain install migrates from any directory; `pip check`
# fails the build if the lock no longer satisfies pyproject.toml.
WORKDIR /
RUN --mount=type=bind,from=wheel,source=/wheels,target=/wheels \
    pip install --no-deps /wheels/casebinder-*.whl \
    && pip check \
    && python -c "import api.migrate as m; assert (m.SCRIPTS / 'env.py').is_file(), m.SCRIPTS" \
    && python -c "import pathlib, templates; assert (pathlib.Path(templates.__file__).parent / 'bundle' / 'front.html').is_file()"

ENV CASEBINDER_DATABASE_URL=sqlite:////data/casebinder.db \
    CASEBINDER_DATA_DIR=/data/blobs

# Created and owned before VOLUME, so a new volume starts out writable by the service user. With PostgreSQL and S3
# (compose.yaml) /data holds only what one process needs for a while (scratch, the preview cache).
RUN mkdir -p /data/blobs && chown -R 10001:10001 /data
VOLUME /data
WORKDIR /data

# Numeric, so that a runtime can tell it is not root without reading the image's /etc/passwd.
USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# Migrate first, then run the command: by default the server. Other commands also work, e.g.
#   docker run --rm -it -v casebinder-data:/data casebinder casebinder user create you@example.com --admin
# compose.yaml migrates once, in a service of its own, and gives the API nodes and workers the entrypoint
# without it.
ENTRYPOINT ["/usr/bin/tini", "--", "/bin/sh", "-c", "casebinder migrate && exec \"$@\"", "casebinder-entrypoint"]
CMD ["casebinder", "serve", "--host", "0.0.0.0", "--port", "8000"]
