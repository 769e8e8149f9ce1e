"""Settings, read once from CASEBINDER_* environment variables."""

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

GiB = 1024**3


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASEBINDER_", env_file=".env", extra="ignore")

    database_url: str = Field("sqlite:///./var/casebinder.db", description="SQLAlchemy URL of the database.")
    data_dir: Path = Field(
        Path("./var/blobs"),
        description="Root of the content-addressed blob store; with the S3 backend, only this process's own work "
        "files (scratch files of jobs, local copies for tools), none of them needed by another process.",
    )
    blob_backend: Literal["local", "s3"] = Field(
        "local", description="Where blobs are kept: `local` (under data_dir) or `s3` (the bucket below)."
    )
    s3_endpoint_url: str | None = Field(
        None, description="URL of the S3-compatible object store (none: AWS S3 itself, found by region)."
    )
    s3_bucket: str | None = Field(
        None,
        description="Bucket of the blobs, created beforehand (the server refuses to start without it); with object "
        "lock enabled, legal holds become S3 Object Lock legal holds on the blobs.",
    )
    s3_region: str = Field("us-east-1", description="Region the requests are signed for.")
    s3_access_key_id: str | None = Field(None, description="Access key id (none: boto3's usual sources).")
    s3_secret_access_key: SecretStr | None = Field(None, description="Secret access key that goes with it.")
    s3_path_style: bool = Field(
        False, description="Address the bucket in the path (`http://host/bucket/key`), as MinIO and SeaweedFS want."
    )
    max_upload_bytes: int = Field(2 * GiB, gt=0, description="Largest accepted evidence file, in bytes.")
    max_image_pixels: int = Field(
        100_000_000, gt=0, description="Images claiming more pixels are stored but not measured or decoded."
    )
    token_ttl_hours: int = Field(24 * 30, gt=0, description="Lifetime of API tokens issued at login.")
    web_session_idle_minutes: int = Field(
        30, gt=0, description="A browser session unused this long ends; the next page asks to sign in again."
    )
    web_session_max_hours: int = Field(
        12, gt=0, description="A browser session ends this long after sign-in, however busy it has been."
    )
    login_window_minutes: int = Field(15, gt=0, description="Failed logins count against the limits below this long.")
    login_max_failures_per_account: int = Field(
        10, gt=0, description="Failed logins for one email (since its last success) before attempts get 429."
    )
    login_max_failures_per_ip: int = Field(
        50, gt=0, description="Failed logins from one client address, any email, before its attempts get 429."
    )
    password_hash_profile: Literal["rfc9106_low_memory", "rfc9106_high_memory", "cheapest"] = Field(
        "rfc9106_low_memory",
        description="argon2 parameters for password hashes (RFC 9106's; a hash made with others is re-made at the "
        "next login). `cheapest` is for test suites only: it gives passwords next to no protection.",
    )
    sqlite_busy_timeout_ms: int = Field(30_000, ge=0)
    sqlite_cache_mib: int = Field(
        32,
        ge=1,
        description="SQLite page cache of each connection, in MiB. Events of a big case lie on pages in the order "
        "they arrived, not in time; a page of 100 reads a hundred scattered rows, cheaper from this cache.",
    )
    database_pool_size: int = Field(10, gt=0, description="Database connections each server process keeps open.")
    database_max_overflow: int = Field(
        20, ge=0, description="Connections a server process may open beyond the pool size when all are busy."
    )
    database_pool_timeout_seconds: float = Field(
        10, gt=0, description="How long a request waits for a free database connection before it gets 503."
    )
    upload_stall_timeout_seconds: float = Field(
        60,
        gt=0,
        description="An upload or import whose body sends nothing for this long gets 408 and is thrown away.",
    )
    max_concurrent_uploads_per_user: int = Field(
        6,
        gt=0,
        description="Uploads and imports one user may have in flight at once, per server process; more get 429.",
    )
    import_job_threshold_bytes: int = Field(
        8 * 1024**2,
        ge=0,
        description="An events import whose body is larger (or any, with `Prefer: respond-async`) is staged and run "
        "as a job: 202 with its Location, progress at GET /imports/{id}. Smaller ones answer when done.",
    )
    bundle_convert_timeout: float = Field(
        60, gt=0, description="Seconds one original may take to convert before it becomes a placeholder page."
    )
    # What a bundle prints of a text-like original (CSV, JSON, e-mail, plain text). Past a limit the exhibit is
    # "truncated": the bundle says so, and its native file is identified on a page of its own.
    bundle_table_max_pages: int = Field(
        200,
        gt=0,
        description="Most pages one printed table (a CSV, or JSON Lines shown as a table) may take; the rows past "
        "it are not printed.",
    )
    bundle_text_max_chars: int = Field(
        1_000_000,
        gt=0,
        description="Most characters of a plain-text, JSON or e-mail original printed (some 130 to 250 pages).",
    )
    bundle_cell_max_chars: int = Field(
        2_000, gt=0, description="Most characters printed of one table cell or e-mail header; a longer one is cut."
    )
    # The evidence preview (GET /evidence/{id}/preview and its page images): what it shows of an original on screen.
    preview_pdf_pages: int = Field(
        20, gt=0, description="Pages of a PDF the preview shows as thumbnails, from the first; the rest are counted."
    )
    preview_text_chars: int = Field(
        200_000,
        gt=0,
        description="Most characters of a text, JSON or e-mail original the preview shows; also the most characters "
        "of cells in a table preview.",
    )
    preview_table_rows: int = Field(500, gt=0, description="Most rows of a CSV or JSON Lines table the preview shows.")
    preview_render_timeout_seconds: float = Field(
        20,
        gt=0,
        description="Seconds a render process may take to open a PDF or draw one page image; past it, it is stopped.",
    )
    preview_render_memory_mib: int = Field(
        1024,
        ge=256,
        description="Address space, in MiB, of each render process: a PDF that needs more cannot be drawn, and the "
        "server is unharmed.",
    )
    preview_renderers: int = Field(
        2, gt=0, description="Render processes each server process keeps for PDF page images (pages drawn at once)."
    )
    preview_cache_dir: Path | None = Field(
        None,
        description="Where drawn page images are kept, by SHA-256, page and width; default `<data_dir>/previews`. "
        "Only a cache: deleting it costs the next views a new drawing, nothing else.",
    )
    import_max_manifest_bytes: int = Field(
        256 * 1024**2, gt=0, description="Largest manifest.json `casebinder import` reads (it is parsed in memory)."
    )
    import_max_total_bytes: int = Field(
        256 * GiB,
        gt=0,
        description="Most bytes of files one `casebinder import` may bring (each file at most max_upload_bytes).",
    )
    producer_name: str = Field(
        "casebinder",
        min_length=1,
        max_length=200,
        description="The firm or producing party named as Author in the document information of bundle PDFs.",
    )
    bundle_build_timeout_seconds: float = Field(
        1800, gt=0, description="Seconds one bundle build may take; a build still going then is stopped and fails."
    )
    bundle_store_wait_seconds: float = Field(
        300,
        ge=0,
        description="Seconds a build waits, trying again, for an object store that does not answer before it fails.",
    )
    records_max_inflated_bytes: int = Field(
        64 * GiB,
        gt=0,
        description="Most bytes a compressed record set file may inflate to; past it the import fails (a gzip bomb).",
    )
    records_max_line_bytes: int = Field(
        4 * 1024**2,
        ge=1024,
        description="Longest line of a record set file, in bytes; a longer line is refused (and reading goes on).",
    )
    records_max_rejected: int = Field(
        10_000,
        ge=0,
        description="Lines of a record set file that may be refused; one more fails the import (a wrong mapping or "
        "format, most likely), and nothing of it is kept.",
    )
    records_import_processes: int = Field(
        default_factory=lambda: min(os.cpu_count() or 1, 4),
        ge=1,
        le=32,
        description="Processes that read a large JSON record set file side by side (1: read in the import's own "
        "thread); by default one per processor, at most four.",
    )
    records_parallel_min_bytes: int = Field(
        32 * 1024**2,
        ge=0,
        description="Size from which a JSON record set file is read by several processes: below it, starting them "
        "costs more than they save.",
    )
    records_indexed_from_rows: int = Field(
        10_000,
        ge=0,
        description="Records from which a record set gets indexes of its own, on its key fields and its time. A "
        "smaller set is looked up through the primary key, which keeps a set's rows together (at most a few "
        "milliseconds), and its import builds no index (on SQLite each build reads the whole records table; on "
        "PostgreSQL the set's own partition).",
    )
    records_phone_region: str = Field(
        "US",
        pattern=r"^[A-Z]{2}$",
        description="Region (ISO 3166 code) of phone numbers written without a country code in record sets, read "
        "to E.164.",
    )
    text_language: str = Field(
        "eng",
        min_length=1,
        max_length=200,
        pattern=r"^[A-Za-z0-9_]+(\+[A-Za-z0-9_]+)*$",
        description="Tesseract language(s) new evidence is read in, joined by + (eng, eng+chi_sim); each must be "
        "installed (Debian tesseract-ocr-<lang>).",
    )
    text_ocr: bool = Field(True, description="OCR pictures and image-only PDF pages (false: only text files' text).")
    text_max_chars: int = Field(10_000_000, gt=0, description="Most characters of text kept for one item.")
    text_max_pages: int = Field(2000, gt=0, description="Most pages (or 4,000-character sections) read of one item.")
    text_ocr_max_pages: int = Field(500, gt=0, description="Most pages of one item read by OCR.")
    text_ocr_page_timeout_seconds: float = Field(
        300, gt=0, description="Seconds Tesseract may take on one page; a page past it fails the item's text."
    )
    text_job_timeout_seconds: float = Field(
        3600, gt=0, description="Seconds reading one item's text may take in all; past it, the job fails."
    )
    text_nice: int = Field(
        10, ge=0, le=19, description="Niceness of the text reader and Tesseract: OCR yields the CPU to requests."
    )
    forwarded_allow_ips: str = Field(
        "",
        description="Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For and "
        "X-Forwarded-Proto `casebinder serve` believes, so the audit trail and the per-address login limit see "
        "the real client. Empty (the default): forwarded headers are ignored. Name only your proxies: a client "
        "that can reach the server directly from a trusted address can claim any address.",
    )
    job_queue: Literal["inprocess", "procrastinate"] = Field(
        "inprocess",
        description="Who runs background jobs (bundle builds, verify runs, event imports, text): `inprocess`, "
        "runner threads in each server process; `procrastinate`, a queue in PostgreSQL (needs a PostgreSQL "
        "database) whose jobs `casebinder worker` processes run, while `casebinder serve` only queues them.",
    )
    queue_heartbeat_seconds: float = Field(
        10, gt=0, description="With the queue: how often each `casebinder worker` tells the queue it is alive."
    )
    queue_stalled_seconds: float = Field(
        30,
        gt=0,
        description="With the queue: a worker silent this long is taken for dead, and its jobs are retried by "
        "another. Keep it several heartbeats long.",
    )
    queue_sweep_seconds: float = Field(
        15,
        gt=0,
        description="With the queue: how often each worker looks for the jobs of dead workers (and for queued jobs "
        "the queue does not hold). A job whose worker died is retried within stalled + sweep seconds.",
    )
    runner_recover_seconds: float = Field(
        60,
        gt=0,
        description="How often each server's runners look for work left running by a process that died (on "
        "PostgreSQL, perhaps on another host), and fail it so it can be rebuilt.",
    )
    runner_stuck_seconds: float = Field(
        120,
        gt=0,
        description="A background runner whose loop has not come round for this long (a verify run in progress "
        "aside), or whose every round has failed for this long, makes /healthz and /readyz answer 503.",
    )

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxy_addresses(cls, value: str) -> str:
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            try:
                ipaddress.ip_network(part, strict=False)
            except ValueError:
                raise ValueError(f"{part!r} is not an IP address or network (e.g. 10.0.0.5 or 172.28.0.0/24)") from None
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
