"""`make loadtest`: casebinder's production mode on loopback under lawyers' load, with faults injected.

Starts everything itself (bench/loadtest/cluster.py): a fresh PostgreSQL database on the machine's server
(BENCH_POSTGRES_URL or TEST_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/test; dropped
afterwards), SeaweedFS, `casebinder migrate`, two `casebinder serve` nodes and two `casebinder worker` processes.
Before the load: upload throughput through S3 against boto3, and the database pool under an upload storm
(probes.py). Then LOADTEST_USERS lawyers (default 50) for LOADTEST_SECONDS (default 300) building
LOADTEST_BUNDLES bundles (default 20), with the faults of faults.py; then `casebinder verify`, `casebinder purge
--orphans` if it lists orphans, and verify again. Prints a table; writes the figures to bench/out/loadtest-*.json.

Options: --users N, --seconds S (override the environment). LOADTEST_S3_FILES and LOADTEST_S3_MIB size the
throughput comparison (default 4 files of 64 MiB).
"""

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench.loadtest import faults, probes
from bench.loadtest.cluster import Cluster
from bench.loadtest.load import API, Client, Tally, clerk, finish_bundle, lawyer
from bench.loadtest.report import print_table, rss_summary, summarize, write_json

OUT = Path(__file__).resolve().parent.parent / "out"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


async def _cases(client: Client, accounts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A case for every five lawyers, made by the first of them, the others added as editors: (token, case id)
    for each lawyer."""
    mine = []
    for start in range(0, len(accounts), 5):
        owner = accounts[start][1]
        body = {"title": f"Acme v. Reviewer {start // 5}", "case_type": "lanham_act"}
        case = (await client.request("setup", "POST", f"{API}/cases", owner, json=body)).json()
        for email, _ in accounts[start + 1 : start + 5]:
            body = {"email": email, "role": "editor"}
            await client.request("setup", "POST", f"{API}/cases/{case['id']}/members", owner, json=body)
        mine += [(token, case["id"]) for _, token in accounts[start : start + 5]]
    return mine


async def _sample_rss(cluster: Cluster, samples: list, stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(await asyncio.to_thread(cluster.rss_mb))
        try:
            await asyncio.wait_for(stop.wait(), 2)
        except TimeoutError:
            pass


async def _run(cluster: Cluster, users: int, seconds: float, bundles: int) -> dict:
    accounts = cluster.add_users(users)
    setup = Client([n.base_url for n in cluster.nodes], time.monotonic())
    lawyers = await _cases(setup, accounts)
    print("== upload throughput through S3: casebinder's HTTP API against boto3 upload_fileobj", flush=True)
    files, mib = int(os.environ.get("LOADTEST_S3_FILES", 4)), int(os.environ.get("LOADTEST_S3_MIB", 64))
    throughput = await probes.s3_throughput(cluster, setup, *lawyers[0], files, mib)
    print(f"  {throughput}", flush=True)
    print(f"== database pool: a cheap GET alone, then beside {users} slow uploads at once", flush=True)
    pool = await probes.pool_storm(cluster, setup, lawyers, *lawyers[0])
    print(f"  {pool}", flush=True)
    await setup.http.aclose()

    print(f"== load: {users} lawyers for {seconds:.0f} s, {bundles} bundles, faults at {faults.schedule(seconds)}")
    client = Client([n.base_url for n in cluster.nodes], time.monotonic())
    tally = Tally()
    rss: list[dict] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_rss(cluster, rss, stop))
    owner_token, owner_case = lawyers[5 % len(lawyers)]
    owners = lawyers[::5]
    work = [lawyer(client, tally, token, case, n, seconds) for n, (token, case) in enumerate(lawyers)]
    work.append(clerk(client, tally, owners, bundles - 1, seconds))  # the worker fault builds one more
    results = await asyncio.gather(*work, faults.run_all(cluster, client, tally, owner_token, owner_case, seconds))
    elapsed = client.now()
    load_seconds = max(a.end for a in client.attempts)
    stop.set()
    await sampler
    fault_log = results[-1]
    load = summarize(client.attempts, fault_log, load_seconds)
    # A build that ran while the object store was away failed; rebuilt now, as its lawyer would.
    tokens = {case: token for token, case in lawyers}
    failed = [b for b in tally.bundles if b["status"] == "failed" and b.get("id")]
    rebuilt = []
    for record in failed:
        again = await client.request(
            "rebuild bundle", "POST", f"{API}/bundles/{record['id']}/rebuild", tokens[record["case_id"]]
        )
        if again is not None and again.status_code == 202:
            rebuilt.append(finish_bundle(client, tokens[record["case_id"]], {"id": record["id"], "status": "queued"}))
    rebuilt = await asyncio.gather(*rebuilt)
    await client.http.aclose()

    print("== casebinder verify (then purge --orphans and verify again if it lists orphans)", flush=True)
    checks: dict = {"load_and_bundles_took_s": round(elapsed, 1)}
    verified = await asyncio.to_thread(cluster.cli, "verify")
    checks["verify_exit"] = verified.returncode
    checks["verify"] = [line for line in verified.stdout.splitlines() if not line.startswith("anchor:")][-3:]
    lines = verified.stdout.splitlines()
    findings = lines[: next((i for i, line in enumerate(lines) if line.startswith("checks:")), len(lines))]
    checks["verify_findings"] = findings[:10]
    if verified.returncode == 1 and findings and all(line.startswith("ORPHAN") for line in findings):
        purged = await asyncio.to_thread(cluster.cli, "purge", "--orphans")
        checks["purge_orphans"] = purged.stdout.strip().splitlines()[-2:]
        again = await asyncio.to_thread(cluster.cli, "verify")
        checks["verify_again_exit"] = again.returncode
        checks["verify_again"] = again.stdout.strip().splitlines()[-1]
    rows = cluster.sql("SELECT count(*) FROM evidence_items")[0][0]
    checks["evidence_rows"] = rows
    checks["uploads_stored_by_lawyers"] = tally.uploaded
    checks["uploads_sent_again_after_503"] = tally.failed_then_stored
    checks["uploads_never_stored"] = tally.never_stored
    checks["upload_sha256_mismatches"] = tally.upload_sha_mismatch
    checks["downloads_sha256_checked"] = tally.downloads_checked
    checks["download_sha256_mismatches"] = tally.download_sha_mismatch
    done = [b for b in tally.bundles if b["status"] == "done"]
    checks["bundles"] = (
        f"{len(done)} of {len(tally.bundles)} done, {sum(bool(b.get('pdf_sha_ok')) for b in done)} PDFs' sha256 checked"
    )
    checks["bundles_not_done"] = [b for b in tally.bundles if b["status"] != "done"][:5]
    checks["failed_bundles_rebuilt_after_the_run"] = [
        {k: b.get(k) for k in ("id", "status", "pdf_sha_ok")} for b in rebuilt
    ]
    build_times = sorted(b["done_at"] - b["queued_at"] for b in done)
    checks["bundle_build_s_median_max"] = (
        [round(build_times[len(build_times) // 2], 1), round(build_times[-1], 1)] if build_times else None
    )
    return {
        "users": users,
        "load": load,
        "faults": fault_log,
        "checks": checks,
        "rss": rss_summary(rss),
        "s3_throughput": throughput,
        "pool": pool,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loadtest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=int(os.environ.get("LOADTEST_USERS", 50)))
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("LOADTEST_SECONDS", 300)))
    parser.add_argument("--bundles", type=int, default=int(os.environ.get("LOADTEST_BUNDLES", 20)))
    args = parser.parse_args()
    postgres = os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL") or DEFAULT_POSTGRES
    started = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="loadtest-") as tmp:
        cluster = Cluster(Path(tmp), postgres)
        try:
            print(f"== starting PostgreSQL database, SeaweedFS, 2 API nodes, 2 workers under {tmp}", flush=True)
            cluster.start()
            result = asyncio.run(_run(cluster, args.users, args.seconds, args.bundles))
        finally:
            cluster.close()
            logs = OUT / f"loadtest-{started}-logs"  # the processes' logs, kept for reading afterwards
            logs.mkdir(parents=True, exist_ok=True)
            for log in [*Path(tmp).glob("*.log"), Path(tmp) / "seaweedfs" / "weed.log"]:
                if log.exists():
                    shutil.copy(log, logs / log.name)
    result["started"] = started
    result["machine"] = f"{os.cpu_count()} cores"
    print_table(result)
    print(f"\nfigures written to {write_json(result, OUT)}")


if __name__ == "__main__":
    main()
