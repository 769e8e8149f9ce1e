"""Which file a bundle download serves, and what it leaves in the audit trail: one rule for the API's downloads and
the web app's, so a person with a browser and a client with a token get the same bytes under the same checks."""

from sqlmodel import Session

from api.errors import BundleNotDone, NotFound
from api.services import audit
from api.services import bundles as bundle_service
from models.bundle import Bundle, BundleStatus
from models.user import User


def servable(bundle: Bundle) -> bool:
    """Whether the bundle has a build to serve: it is done, or it is being rebuilt in place and serves its last one
    until the new one is recorded."""
    rebuilding = bundle.status in (BundleStatus.queued, BundleStatus.running) and bool(bundle.volumes)
    return bundle.status == BundleStatus.done or rebuilding


def served_volume(session: Session, bundle: Bundle, user: User, number: int | None) -> dict:
    """The volume a download sends (`number` None: the whole bundle, which must then be a single volume), recorded
    as a `bundle.download` by `user`. 409 when there is no build to serve, or the whole of a bundle in volumes is
    asked for; 404 for a volume it does not have."""
    if not servable(bundle):
        raise BundleNotDone(
            f"the bundle is {BundleStatus(bundle.status).value}, not done"
            + (f": {bundle.error}" if bundle.error else "")
        )
    if number is None:
        if len(bundle.volumes) > 1:
            raise bundle_service.BundleHasVolumes(
                f"this bundle is split into {len(bundle.volumes)} volumes: download /volumes/{{n}}/pdf"
            )
        volume = bundle.volumes[0]
    else:
        found = next((v for v in bundle.volumes if v["number"] == number), None)
        if found is None:
            raise NotFound(f"the bundle has volumes 1 to {len(bundle.volumes)}")
        volume = found
    bundle_service.record(
        session, "bundle.download", user, bundle, {"volume": volume["number"], "sha256": volume["sha256"]}
    )
    return volume


def record_damaged(session: Session, user: User, bundle: Bundle, volume: dict, details: dict) -> None:
    """A volume's stored file was missing or not its size when a download opened it: recorded durably, since the
    request that found it rolls back."""
    audit.record(
        session,
        "bundle.integrity_failure",
        actor=user,
        case_id=bundle.case_id,
        object_type="bundle",
        object_id=bundle.id,
        details={"volume": volume["number"]} | details,
        durable=True,
    )
