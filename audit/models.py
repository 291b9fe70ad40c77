"""The audit log: one row per object a staff action touched, with who, what, why and
what came of it. Rows are written by `audit.services` and never edited afterwards,
except that an action finishing in the background fills in its outcome once."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Action(models.TextChoices):
    RETRY_TASK = "retry_task", "Retry task"
    CANCEL_TASK = "cancel_task", "Cancel task"
    CANCEL_JOB = "cancel_job", "Cancel job"
    REDOWNLOAD = "redownload", "Re-download video"
    REPROCESS_DELIVERY = "reprocess_delivery", "Re-process webhook delivery"
    SET_TIER = "set_tier", "Change tier"
    GRANT_CREDITS = "grant_credits", "Grant or take credits"
    SUSPEND_USER = "suspend_user", "Suspend user"
    REINSTATE_USER = "reinstate_user", "Reinstate user"
    OPEN_BREAKER = "open_breaker", "Open a provider group's breaker"
    CLOSE_BREAKER = "close_breaker", "Close a provider group's breaker"


class Result(models.TextChoices):
    DONE = "done", "Done"
    UNCHANGED = "unchanged", "Nothing to change"
    REFUSED = "refused", "Refused"
    FAILED = "failed", "Failed"
    PENDING = "pending", "Running in the background"


class AuditEntry(models.Model):
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Kept as text too, so the record still says who it was after the account is gone.
    actor_name = models.CharField(max_length=150)
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    target_type = models.CharField(max_length=64, help_text="What kind of object: task, job, user, …")
    target_app_label = models.CharField(max_length=100, blank=True)
    target_model = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, db_index=True)
    target_label = models.CharField(max_length=200)
    reason = models.TextField(help_text="Why, in the words of the person who did it.")
    details = models.JSONField(default=dict, blank=True, help_text="The action's own inputs, e.g. the new tier.")
    result = models.CharField(max_length=16, choices=Result.choices, default=Result.PENDING, db_index=True)
    outcome = models.CharField(max_length=32, blank=True, help_text="A stable code for what happened, e.g. url_expired.")
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["target_app_label", "target_model", "target_id"])]

    def __str__(self) -> str:
        return f"{self.actor_name}: {self.get_action_display()} {self.target_label} ({self.result})"
