"""The faults, each in its own window timed from the run's start: a node SIGKILLed mid-upload (and started
again), a worker SIGKILLed mid-bundle (its job retried by the other; the bundle rebuilt and its SHA-256 compared),
SeaweedFS stopped for 30 s, and every PostgreSQL connection of the database ended."""

import asyncio
import signal

from api.locks import lock_key
from bench.loadtest.cluster import Cluster
from bench.loadtest.load import API, Client, Tally, build_bundle, finish_bundle

MiB = 1024 * 1024


def schedule(seconds: float) -> dict[str, float]:
    """When each fault starts, as parts of the run (the SeaweedFS outage needs 30 s of it)."""
    return {
        "kill api": 0.12 * seconds,
        "kill worker": 0.25 * seconds,
        "stop s3": 0.55 * seconds,
        "end db": 0.85 * seconds,
    }


async def kill_api(cluster: Cluster, client: Client, at: float) -> dict:
    """SIGKILL node 1 while an upload is on its way to it (a large one if one comes within 20 s); start it again."""
    await asyncio.sleep(max(0.0, at - client.now()))
    node = 0
    deadline = client.now() + 15
    victim = None
    while client.now() < deadline and victim is None:
        on_node = [u for u in client.in_flight.values() if u["node"] == node and u["sent"][0] > 0]
        large = [u for u in on_node if u["file"].size >= 5 * MiB]
        victim = (large or (on_node if client.now() > deadline - 5 else []) or [None])[0]
        await asyncio.sleep(0.05)
    start = client.now()
    cluster.nodes[node].kill()
    killed = (
        {"file": victim["file"].filename, "size": victim["file"].size, "sent": victim["sent"][0]} if victim else None
    )
    await asyncio.sleep(5)
    back = client.now()
    for _ in range(30):  # a node does not start while the object store is away: tried again
        cluster.nodes[node].start()
        try:
            await asyncio.to_thread(cluster.wait_healthy, cluster.nodes[node])
            back = client.now()
            break
        except RuntimeError:
            await asyncio.sleep(2)
    if victim is not None:  # its retry on the other node, answered
        for _ in range(600):
            killed["retried"] = [r for r in client.recovered if victim["file"].filename in r]
            if killed["retried"]:
                break
            await asyncio.sleep(0.5)
    return {
        "fault": "SIGKILL api-1 mid-upload, restarted",
        "start": start,
        "end": back,
        "upload cut": killed,
        "settled": client.now(),
    }


def _bundle_lease_holder(cluster: Cluster, bundle_id: str) -> str | None:
    found = cluster.sql(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = %s",
        lock_key(f"bundle-{bundle_id}"),
    )
    return found[0][0] if found else None


async def kill_worker(cluster: Cluster, client: Client, tally: Tally, token: str, case_id: str, at: float) -> dict:
    """One of the run's bundles (of 60 exhibits, so it is still building when the kill lands): SIGKILL the worker
    building it; the other takes the job over. Then rebuilt, and the two builds' SHA-256 compared."""
    await asyncio.sleep(max(0.0, at - client.now()))
    record: dict = {}
    task = asyncio.create_task(build_bundle(client, tally, token, case_id, exhibits=60, record=record))
    holder = None
    while holder is None and not task.done():
        if record.get("id"):
            holder = await asyncio.to_thread(_bundle_lease_holder, cluster, record["id"])
        await asyncio.sleep(0.1)
    if holder is None:
        await task
        return {"fault": "SIGKILL a worker mid-bundle", "start": client.now(), "end": client.now(), "missed": True}
    pid = int(holder.rsplit(":", 1)[1])
    victim = next(w for w in cluster.workers if w.popen.pid == pid)
    start = client.now()
    victim.signal_group(signal.SIGKILL)
    victim.popen.wait()
    done = await task  # the other worker takes the job over; the killed one is started again only then
    victim.start()
    result = {
        "fault": f"SIGKILL {victim.name} mid-bundle, restarted once the bundle was built",
        "start": start,
        "end": start,  # no request is expected to fail for it: the build is retried behind the API
        "settled": done.get("done_at", client.now()),
        "bundle": done.get("id"),
        "status": done["status"],
        "ended_after_s": round(done.get("done_at", start) - start, 1),
        "sha256": done.get("sha256"),
    }
    rebuilt = await client.request("rebuild bundle", "POST", f"{API}/bundles/{done['id']}/rebuild", token)
    if rebuilt is not None and rebuilt.status_code == 202:
        again = await finish_bundle(client, token, {"id": done["id"], "status": "queued"})
        result["rebuilt_sha256"] = again.get("sha256")
        result["same_sha256"] = done.get("sha256") is not None and again.get("sha256") == done.get("sha256")
    return result


async def stop_s3(cluster: Cluster, client: Client, at: float, seconds: float = 30) -> dict:
    """SeaweedFS stopped (SIGTERM, waited for) and started again `seconds` after."""
    await asyncio.sleep(max(0.0, at - client.now()))
    start = client.now()
    await asyncio.to_thread(cluster.stop_weed)
    await asyncio.sleep(max(0.0, start + seconds - client.now()))
    back = client.now()
    await asyncio.to_thread(cluster.restart_weed)
    return {"fault": f"SeaweedFS stopped for {seconds:.0f} s", "start": start, "end": client.now(), "restart_at": back}


async def end_db_connections(cluster: Cluster, client: Client, at: float) -> dict:
    await asyncio.sleep(max(0.0, at - client.now()))
    start = client.now()
    ended = await asyncio.to_thread(cluster.terminate_connections)
    return {"fault": "every PostgreSQL connection ended", "start": start, "end": start + 5, "connections ended": ended}


async def run_all(cluster: Cluster, client: Client, tally: Tally, token: str, case_id: str, seconds: float) -> list:
    """The faults one after the other, each in its own window: one starts at its time in `schedule`, or 10 s after
    the one before has settled (a killed worker's bundle built by the other, a cut upload sent again), if later."""
    at = schedule(seconds)
    done = [await kill_api(cluster, client, at["kill api"])]
    later = lambda name: max(at[name], done[-1].get("settled", done[-1]["end"]) + 10)  # noqa: E731
    done.append(await kill_worker(cluster, client, tally, token, case_id, later("kill worker")))
    done.append(await stop_s3(cluster, client, later("stop s3")))
    done.append(await end_db_connections(cluster, client, later("end db")))
    client.faults_over_at = client.now()
    return done
