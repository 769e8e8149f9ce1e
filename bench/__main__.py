"""`make bench`: every benchmark, printed as figures with their floors and ratios.

Environment: BENCH_REPEAT (upload repetitions, default 5), BENCH_UPLOAD_MIB (default 512), BENCH_S3_UPLOAD_MIB
(the S3 upload benchmark's file, default 256),
BENCH_TIMELINE_EVENTS (events in the timeline benchmark's case, default 1,000,000), BENCH_TIMELINE_REPEAT (times
the import is measured, default 2),
BENCH_BUNDLE_EXHIBITS (exhibits in the bundle and production benchmarks' case, default 500), the web app's pages
(10,000 exhibits, BENCH_TIMELINE_EVENTS events) and a 200 MB upload through the page in Chromium,
the OCR benchmarks' BENCH_OCR_PAGES (40), BENCH_OCR_LARGE (6), BENCH_OCR_ROUNDS (3), BENCH_OCR_UPLOAD_ROUNDS (5)
and BENCH_OCR_BACKLOG (16) (see bench/ocr.py and bench/ocr_uploads.py), BENCH_SEARCH_TEXTS (evidence texts
the search benchmark indexes and searches, default 200,000) and BENCH_SEARCH_REQUESTS (requests of each query shape
per round, default 100),
BENCH_RECORDS (records in the record-set import benchmark's leak-shaped dump, default 1,000,000; 13124962 for the
leak's full size) and BENCH_RECORDS_REPEAT (default 2), BENCH_FINDER_REVIEWS (reviews, and as many payments, in
the finder benchmark, default 1,000,000) and BENCH_FINDER_REPEAT (default 3),
BENCH_POSTGRES_URL (also run the PostgreSQL leg where it applies; `make bench` passes the test server's URL
when it is reachable).
"""

import os
import subprocess
import sys

from bench import (
    bundle,
    custody,
    exhibits,
    finder,
    ocr,
    ocr_uploads,
    production,
    records,
    s3_upload,
    search,
    timeline,
    upload,
    web_pages,
    web_upload,
)


def _reachable(url: str) -> bool:
    return subprocess.run([sys.executable, "scripts/db_reachable.py", url], capture_output=True).returncode == 0


def main() -> None:
    postgres = os.environ.get("BENCH_POSTGRES_URL")
    if postgres and not _reachable(postgres):
        print(f"PostgreSQL at {postgres} is unreachable: SQLite only", flush=True)
        postgres = None
    print(
        f"== machine: {os.cpu_count()} cores; figures are medians of repeated runs, each beside its floor", flush=True
    )
    print("== upload throughput", flush=True)
    upload.run(size_mib=int(os.environ.get("BENCH_UPLOAD_MIB", 512)), repeat=int(os.environ.get("BENCH_REPEAT", 5)))
    print("== upload throughput into S3 (SeaweedFS): our store against boto3's upload_fileobj", flush=True)
    s3_upload.run(
        size_mib=int(os.environ.get("BENCH_S3_UPLOAD_MIB", 256)), repeat=int(os.environ.get("BENCH_REPEAT", 5))
    )
    print("== exhibit list latency", flush=True)
    exhibits.run(postgres_url=postgres)
    print("== bundle build", flush=True)
    bundle.run(exhibits=int(os.environ.get("BENCH_BUNDLE_EXHIBITS", 500)), repeat=3)
    print("== production with redactions, against a bundle of the same exhibits", flush=True)
    production.run(exhibits=int(os.environ.get("BENCH_BUNDLE_EXHIBITS", 500)), repeat=3)
    print("== custody report PDF", flush=True)
    custody.run()
    print("== web app: page render and browser upload", flush=True)
    web_pages.run(postgres_url=postgres, events=int(os.environ.get("BENCH_TIMELINE_EVENTS", 1_000_000)), requests=200)
    web_upload.run(size_mb=200, repeat=3)
    print("== OCR: throughput against Tesseract alone, and uploads while OCR runs", flush=True)
    ocr.run(
        count=int(os.environ.get("BENCH_OCR_PAGES", 40)),
        large=int(os.environ.get("BENCH_OCR_LARGE", 6)),
        rounds=int(os.environ.get("BENCH_OCR_ROUNDS", 3)),
    )
    ocr_uploads.run(
        rounds=int(os.environ.get("BENCH_OCR_UPLOAD_ROUNDS", 5)), backlog=int(os.environ.get("BENCH_OCR_BACKLOG", 16))
    )
    print("== full-text search", flush=True)
    search.run(
        texts=int(os.environ.get("BENCH_SEARCH_TEXTS", 200_000)),
        requests=int(os.environ.get("BENCH_SEARCH_REQUESTS", 100)),
        postgres_url=postgres,
    )
    print("== case timeline", flush=True)
    timeline.run(
        count=int(os.environ.get("BENCH_TIMELINE_EVENTS", 1_000_000)),
        postgres_url=postgres,
        repeat=int(os.environ.get("BENCH_TIMELINE_REPEAT", 2)),
    )

    print("== record sets: import of a leak-shaped dump, and lookups", flush=True)
    records.run(
        count=int(os.environ.get("BENCH_RECORDS", 1_000_000)),
        postgres_url=postgres,
        repeat=int(os.environ.get("BENCH_RECORDS_REPEAT", 2)),
    )
    print("== the review-for-refund finder", flush=True)
    finder.run(
        reviews=int(os.environ.get("BENCH_FINDER_REVIEWS", 1_000_000)),
        postgres_url=postgres,
        repeat=int(os.environ.get("BENCH_FINDER_REPEAT", 3)),
    )


if __name__ == "__main__":
    main()
