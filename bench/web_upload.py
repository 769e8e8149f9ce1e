"""Upload from the browser: a 200 MB file through the Exhibits tab's uploader in headless Chromium (Debian's), against
the same size through `POST /api/v1/cases/{id}/evidence` from a plain client, alternately on the same server.
Target: the page reaches at least 70% of the API route's throughput.

The browser run is the upload request's own time as the browser measures it (Resource Timing: from the request's
start to the answer's last byte), and also, printed beside it, the time from choosing the file to the row saying
"Added as" as the test driver sees it; the API run is from the first byte sent to the answer. Every run sends new
bytes (a fresh prefix), so nothing is deduplicated.
"""

import os
import shutil
import time
import uuid
from pathlib import Path

from bench import upload as api_upload
from bench.common import median, server, spread, wait_healthy
from bench.setup import make_workspace
from bench.web_pages import EMAIL, PASSWORD

MB = 1_000_000
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def _file(path: Path, size: int) -> None:
    block = bytearray(os.urandom(1 << 20))
    block[:16] = uuid.uuid4().bytes
    with path.open("wb") as f:
        left = size
        while left:
            f.write(block[: min(left, len(block))])
            left -= min(left, len(block))


def _browser_run(page, case_id: str, path: Path) -> tuple[float, float]:
    """(the upload request's own time, as the browser's Resource Timing measures it; the time from choosing the
    file to the row saying it was added, as the test driver sees it)."""
    page.goto(f"/cases/{case_id}")
    started = time.perf_counter()
    page.locator("#upload-file").set_input_files(path)
    # Watched every animation frame: an expect() that polls at growing intervals would add up to a second.
    page.wait_for_function(
        "() => document.querySelector('#upload-list li[data-state=\"added\"]') !== null", polling="raf", timeout=600_000
    )
    seen = time.perf_counter() - started
    request_ms = page.evaluate(
        """() => performance.getEntriesByType("resource")
             .filter((e) => e.name.endsWith("/upload"))
             .map((e) => e.responseEnd - e.startTime).pop()"""
    )
    return request_ms / 1000, seen


def _api_run(base: str, token: str, case_id: str, size: int) -> float:
    payload, total = api_upload._payload(size)
    pre = (
        b"--" + api_upload.BOUNDARY + b'\r\nContent-Disposition: form-data; name="kind"\r\n\r\nother\r\n'
        b"--" + api_upload.BOUNDARY + b'\r\nContent-Disposition: form-data; name="title"\r\n\r\nDump\r\n'
        b"--" + api_upload.BOUNDARY + b'\r\nContent-Disposition: form-data; name="file"; filename="dump.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
    )
    post = b"\r\n--" + api_upload.BOUNDARY + b"--\r\n"
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": f"multipart/form-data; boundary={api_upload.BOUNDARY.decode()}",
    }
    seconds, _ = api_upload._send(
        base, f"/api/v1/cases/{case_id}/evidence", headers, [pre, *payload, post], len(pre) + total + len(post)
    )
    return seconds


def run(size_mb: int = 200, repeat: int = 3) -> dict:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        print(f"web upload: skipped, no Chromium at {CHROMIUM} (make system-deps installs it)", flush=True)
        return {}
    root = Path("var/bench") / f"web-upload-{uuid.uuid4().hex[:6]}"
    ws = make_workspace(root)
    size = size_mb * MB // (1 << 20) * (1 << 20)  # whole MiB blocks, as the API run sends them
    page_rates, seen_rates, api_rates = [], [], []
    try:
        with server("api.app:app", ws.env) as (base, _pid), sync_playwright() as p:
            wait_healthy(base)
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_context(base_url=base).new_page()
            page.goto("/login")
            page.get_by_label("Email", exact=True).fill(EMAIL)
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{base}/")
            for n in range(repeat):
                path = root / f"screen-recording-{n}.bin"
                _file(path, size)
                request_s, seen_s = _browser_run(page, ws.case_id, path)
                page_rates.append(size / request_s / MB)
                seen_rates.append(size / seen_s / MB)
                path.unlink()
                api_rates.append(size / _api_run(base, ws.token, ws.case_id, size) / MB)
            browser.close()
    finally:
        ws.drop()
        shutil.rmtree(root, ignore_errors=True)
    ratio = median(page_rates) / median(api_rates)
    print(
        f"web upload {size / MB:.0f} MB x{repeat}: page {median(page_rates):.0f} MB/s ({spread(page_rates)}; "
        f"{median(seen_rates):.0f} MB/s from choosing the file to the row's result, as the driver sees it), "
        f"API {median(api_rates):.0f} MB/s ({spread(api_rates)}); ratio {ratio:.2f} "
        f"(target >= 0.70: {'met' if ratio >= 0.7 else 'MISSED'}); browser and server share this machine's "
        f"{os.cpu_count()} cores, the API's client uses next to none",
        flush=True,
    )
    return {"page_mb_s": median(page_rates), "api_mb_s": median(api_rates), "ratio": ratio}


if __name__ == "__main__":
    run(size_mb=int(os.environ.get("BENCH_WEB_UPLOAD_MB", 200)), repeat=int(os.environ.get("BENCH_REPEAT", 3)))
