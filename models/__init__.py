"""SQLModel tables and API schemas. Importing this package registers every table on the metadata."""

from models.analysis import Analysis, Finding  # noqa: F401
from models.audit import AuditEvent, AuditHead  # noqa: F401
from models.bundle import Bundle, BundleExhibit  # noqa: F401
from models.case import Case, CaseMember  # noqa: F401
from models.common import metadata  # noqa: F401
from models.evidence import EvidenceItem  # noqa: F401
from models.exhibit import Exhibit  # noqa: F401
from models.import_job import ImportJob  # noqa: F401
from models.imported import ImportedAuditEvent  # noqa: F401
from models.production import PrivilegeClaim, Production  # noqa: F401
from models.record_set import Record, RecordSet  # noqa: F401
from models.redaction import Redaction, RedactionSet, RedactionTerms  # noqa: F401
from models.search import SearchDocument  # noqa: F401
from models.text import EvidenceText, EvidenceTextPage  # noqa: F401
from models.timeline import TimelineEvent, TimelineEventTag, TimelineMonthCount  # noqa: F401
from models.user import ApiToken, User  # noqa: F401
from models.verify import VerifyRun  # noqa: F401
from models.web_session import WebSession  # noqa: F401
