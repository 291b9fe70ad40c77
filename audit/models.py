"""The audit log: one row per object a staff action touched, with who, what, why and
what came of it. Rows are written by `audit.services` and never edited afterwards,
except that an action finishing in the background fills in its outcome once."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Action(models.TextChoices):
    RETRY_TASK = "retry_task", _("Retry task")
    CANCEL_TASK = "cancel_task", _("Cancel task")
    CANCEL_JOB = "cancel_job", _("Cancel job")
    REDOWNLOAD = "redownload", _("Re-download video")
    REPROCESS_DELIVERY = "reprocess_delivery", _("Re-process webhook delivery")
    SET_TIER = "set_tier", _("Change tier")
    GRANT_CREDITS = "grant_credits", _("Grant or take credits")
    SUSPEND_USER = "suspend_user", _("Suspend user")
    REINSTATE_USER = "reinstate_user", _("Reinstate user")
    OPEN_BREAKER = "open_breaker", _("Open a provider group's breaker")
    CLOSE_BREAKER = "close_breaker", _("Close a provider group's breaker")


class Result(models.TextChoices):
    DONE = "done", _("Done")
    UNCHANGED = "unchanged", _("Nothing to change")
    REFUSED = "refused", _("Refused")
    FAILED = "failed", _("Failed")
    PENDING = "pending", _("Running in the background")


class AuditEntry(models.Model):
    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("staff member")
    )
    # Kept as text too, so the record still says who it was after the account is gone.
    actor_name = models.CharField(_("who"), max_length=150)
    action = models.CharField(_("action"), max_length=32, choices=Action.choices, db_index=True)
    target_type = models.CharField(_("object type"), max_length=64, help_text=_("What kind of object: task, job, user, …"))
    target_app_label = models.CharField(max_length=100, blank=True)
    target_model = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(_("object id"), max_length=64, db_index=True)
    target_label = models.CharField(_("object"), max_length=200)
    reason = models.TextField(_("why"), help_text=_("Why, in the words of the person who did it."))
    details = models.JSONField(_("details"), default=dict, blank=True, help_text=_("The action's own inputs, e.g. the new tier."))
    result = models.CharField(_("result"), max_length=16, choices=Result.choices, default=Result.PENDING, db_index=True)
    outcome = models.CharField(
        _("outcome code"), max_length=32, blank=True, help_text=_("A stable code for what happened, e.g. url_expired.")
    )
    # In English (what was said at the time); `message_id` and `message_params` say it
    # again in the reader's language when the action gave them (audit.services.Text).
    message = models.TextField(_("outcome"), blank=True)
    message_id = models.TextField(blank=True, editable=False)
    message_params = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")
        indexes = [models.Index(fields=["target_app_label", "target_model", "target_id"])]

    def __str__(self) -> str:
        return f"{self.actor_name}: {self.get_action_display()} {self.target_label} ({self.get_result_display()})"

    @property
    def shown_message(self) -> str:
        """The outcome in the reader's language where the action said it so, else as
        it was written."""
        if not self.message_id:
            return self.message
        from audit.services import shown

        return shown(self.message_id, self.message_params)
