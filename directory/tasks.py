"""Celery edge of the directory: thin, idempotent wrappers."""

from celery import shared_task

from directory import sync
from directory.integrations import ldap


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def directory_sync() -> int:
    """Sync people and groups from LDAP / Active Directory; return how many changes it made."""
    if not ldap.ldap_is_configured():
        return 0
    return len(sync.directory_sync().changes)
