# casebinder: the API server, with its SQLite database and blob store in the /data volume.
#   docker build -t casebinder .
#   docker run -d -p 8000:8000 -v casebinder-data:/data casebinder
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Pango and HarfBuzz for WeasyPrint, libmagic for type sniffing, Tesseract for OCR, DejaVu and Noto fonts for pages in any
# script (scripts/system-deps.sh's runtime list; its test-only poppler-utils and Chromium stay out); tini as PID 1,
# which reaps what a stopped bundle build leaves.
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
# the package itself. `pip check` fails the build if the lock no longer satisfies pyproject.toml.
COPY requirements/server.txt /tmp/requirements.txt
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements.txt && rm /tmp/requirements.txt

# Migrations and templates ship inside the package, so a plain install migrates from any directory.
WORKDIR /src
COPY . /src
RUN pip install --no-cache-dir --no-deps /src \
    && pip check \
    && rm -rf /src \
    && cd / && python -c "import api.migrate as m; assert (m.SCRIPTS / 'env.py').is_file(), m.SCRIPTS" \
    && python -c "import pathlib, templates; assert (pathlib.Path(templates.__file__).parent / 'bundle' / 'front.html').is_file()"
WORKDIR /data

ENV CASEBINDER_DATABASE_URL=sqlite:////data/casebinder.db \
    CASEBINDER_DATA_DIR=/data/blobs

# Created and owned before VOLUME, so a new named volume starts out writable by the service user.
RUN mkdir -p /data/blobs && chown -R casebinder:casebinder /data
VOLUME /data

USER casebinder
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# Migrate first, then run the command: by default the server. Other commands also work, e.g.
#   docker run --rm -it -v casebinder-data:/data casebinder casebinder user create you@example.com --admin
ENTRYPOINT ["/usr/bin/tini", "--", "/bin/sh", "-c", "casebinder migrate && exec \"$@\"", "casebinder-entrypoint"]
CMD ["casebinder", "serve", "--host", "0.0.0.0", "--port", "8000"]
