"""The operational store: providers, applications, decisions, evaluations, assignments, action
items, users and the append-only audit log (SQLAlchemy 2 + Alembic; SQLite or PostgreSQL).

Store functions take the session first and everything else by keyword; each one that changes
something writes its audit line in the same transaction and commits.
"""

from windmaker.store.actions import create_action_item, list_action_items, set_action_status
from windmaker.store.applications import (
    admission_proposal,
    decide_application,
    get_application,
    review_queue,
    submit_application,
)
from windmaker.store.assignments import (
    add_assignment,
    add_exclusion,
    end_assignment,
    list_assignments,
    list_exclusions,
)
from windmaker.store.audit import AuditRecord, append_audit, list_audit
from windmaker.store.decisions import (
    confirm_decision,
    get_decision,
    list_decisions,
    propose_decision,
)
from windmaker.store.errors import (
    AlreadyDecidedError,
    AuditLogImmutableError,
    InvalidValueError,
    NotFoundError,
    StoreError,
)
from windmaker.store.evaluations import list_evaluations, record_evaluation
from windmaker.store.migrate import current_revision, head_revision, upgrade
from windmaker.store.providers import get_provider, list_providers, upsert_provider
from windmaker.store.session import engine_for, make_engine, open_session, session_factory
from windmaker.store.users import (
    BrandScope,
    authenticate,
    brands_in_scope,
    create_user,
    get_user,
    get_user_by_name,
    list_users,
    set_password,
    set_portfolio,
    verify_password,
)

__all__ = [
    "AlreadyDecidedError",
    "AuditLogImmutableError",
    "AuditRecord",
    "BrandScope",
    "InvalidValueError",
    "NotFoundError",
    "StoreError",
    "add_assignment",
    "add_exclusion",
    "admission_proposal",
    "append_audit",
    "authenticate",
    "brands_in_scope",
    "confirm_decision",
    "create_action_item",
    "create_user",
    "current_revision",
    "decide_application",
    "end_assignment",
    "engine_for",
    "get_application",
    "get_decision",
    "get_provider",
    "get_user",
    "get_user_by_name",
    "head_revision",
    "list_action_items",
    "list_assignments",
    "list_audit",
    "list_decisions",
    "list_evaluations",
    "list_exclusions",
    "list_providers",
    "list_users",
    "make_engine",
    "open_session",
    "propose_decision",
    "record_evaluation",
    "review_queue",
    "session_factory",
    "set_action_status",
    "set_password",
    "set_portfolio",
    "submit_application",
    "upgrade",
    "upsert_provider",
    "verify_password",
]
