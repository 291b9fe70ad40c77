"""Reads of the audit log."""

from django.db.models import QuerySet

from audit.models import AuditEntry


def entries_for(obj, *, limit: int = 20) -> QuerySet[AuditEntry]:
    """The latest staff actions on one object, newest first."""
    meta = obj._meta
    return AuditEntry.objects.filter(
        target_app_label=meta.app_label, target_model=meta.model_name, target_id=str(obj.pk)
    )[:limit]
