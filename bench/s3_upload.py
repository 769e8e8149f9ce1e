"""S3 upload throughput: a file streamed through our S3 store's writer (hashed as it goes, parts sent while the
next one fills, then copied into place under its SHA-256 as a commit does), the same with the digest declared by the
sender (the parts go straight under it: no copy), versus boto3's `upload_fileobj` of the same bytes straight to the
same SeaweedFS (the AWS CLI's way: 8 MiB parts, ten at a time), in the same run.

SeaweedFS runs on loopback as the tests start it (tests/s3_server.py). Each run sends new bytes (nothing is
deduplicated), in 1 MiB writes as an HTTP upload hands them over. Reports MB/s of each, the ratio (target at least
0.7), and how the writer's time splits between streaming and the copy into place.
"""

import hashlib
import io
import os
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import median, spread

MiB = 1024 * 1024


def _payload(size: int) -> bytes:
    block = bytearray(os.urandom(MiB))
    block[:16] = uuid.uuid4().bytes  # new bytes every run
    return bytes(block) * (size // MiB)


def run(size_mib: int = 256, repeat: int = 3) -> dict:
    from api.config import Settings
    from api.storage_s3 import open_s3_store
    from tests.s3_server import start_weed, stop_weed

    with tempfile.TemporaryDirectory(prefix="bench-s3-") as tmp:
        process, s3 = start_weed(Path(tmp))
        try:
            settings = Settings(
                blob_backend="s3",
                s3_endpoint_url=s3.endpoint,
                s3_bucket=s3.bucket,
                s3_access_key_id=s3.access_key,
                s3_secret_access_key=s3.secret_key,
                s3_path_style=True,
            )
            store = open_s3_store(settings, Path(tmp) / "node")
            plain = s3.client()  # boto3 as it comes: what `aws s3 cp` does
            ours, streaming, copying, declared, direct = [], [], [], [], []
            for _ in range(repeat):
                data = _payload(size_mib * MiB)
                started = time.perf_counter()
                writer = store.writer()
                view = memoryview(data)
                for offset in range(0, len(data), MiB):
                    writer.write(bytes(view[offset : offset + MiB]))
                staged = writer.finish()
                streamed = time.perf_counter()
                staged.commit()
                staged.settle(committed=True)
                done = time.perf_counter()
                ours.append(len(data) / (done - started) / 1e6)
                streaming.append(streamed - started)
                copying.append(done - streamed)

                data = _payload(size_mib * MiB)
                digest = hashlib.sha256(data).hexdigest()  # the sender's, computed before it sends
                started = time.perf_counter()
                writer = store.writer(digest)
                view = memoryview(data)
                for offset in range(0, len(data), MiB):
                    writer.write(bytes(view[offset : offset + MiB]))
                staged = writer.finish()
                staged.commit()
                staged.settle(committed=True)
                declared.append(len(data) / (time.perf_counter() - started) / 1e6)

                data = _payload(size_mib * MiB)
                started = time.perf_counter()
                plain.upload_fileobj(io.BytesIO(data), s3.bucket, f"direct/{hashlib.sha256(data[:MiB]).hexdigest()}")
                direct.append(len(data) / (time.perf_counter() - started) / 1e6)
        finally:
            stop_weed(process)
    result = {
        "ours_mb_s": median(ours),
        "direct_mb_s": median(direct),
        "ratio": median(ours) / median(direct),
        "declared_mb_s": median(declared),
        "declared_ratio": median(declared) / median(direct),
        "streaming_s": median(streaming),
        "copy_into_place_s": median(copying),
    }
    print(
        f"  {size_mib} MiB x{repeat}: our store {result['ours_mb_s']:.0f} MB/s {spread(ours)}, upload_fileobj "
        f"{result['direct_mb_s']:.0f} MB/s {spread(direct)}: ratio {result['ratio']:.2f} (target >= 0.7)",
        flush=True,
    )
    print(
        f"  with the digest declared (written in place): {result['declared_mb_s']:.0f} MB/s {spread(declared)}: "
        f"ratio {result['declared_ratio']:.2f}",
        flush=True,
    )
    print(
        f"  our store's time: {result['streaming_s']:.2f} s streaming the parts, "
        f"{result['copy_into_place_s']:.2f} s copying into place",
        flush=True,
    )
    return result


if __name__ == "__main__":
    run(size_mib=int(os.environ.get("BENCH_S3_UPLOAD_MIB", 256)), repeat=int(os.environ.get("BENCH_REPEAT", 3)))
