"""Credits: what each user may spend, and the ledger that is the only way it moves.

A wallet's `balance` is what the user can spend now and `reserved` what running
videos hold; both are caches of the ledger, written only together with an entry
(`credits.services`). Entries are never changed or deleted."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext


class Tier(models.TextChoices):
    FREE = "free", _("Free")
    PRO = "pro", _("Pro")


class Wallet(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wallet", verbose_name=_("user"))
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.FREE, verbose_name=_("tier"))
    balance = models.IntegerField(default=0, editable=False, help_text=_("Credits the user can spend now."), verbose_name=_("balance"))
    reserved = models.IntegerField(default=0, editable=False, help_text=_("Credits held by videos being made."), verbose_name=_("reserved"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="wallet_balance_not_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="wallet_reserved_not_negative"),
        ]
        verbose_name = _("wallet")
        verbose_name_plural = _("wallets")

    def __str__(self) -> str:
        return ngettext("%(user)s (%(balance)s credit)", "%(user)s (%(balance)s credits)", self.balance) % {
            "user": self.user,
            "balance": self.balance,
        }


class EntryKind(models.TextChoices):
    GRANT = "grant", _("Grant")  # credits given (or, negative, taken back) by staff or the system
    RESERVE = "reserve", _("Reserve")  # held for a task when its job is created
    CHARGE = "charge", _("Charge")  # the task made its video: the hold is spent
    RELEASE = "release", _("Release")  # the task failed or was cancelled: the hold comes back


SETTLEMENTS = (EntryKind.CHARGE, EntryKind.RELEASE)


class LedgerEntry(models.Model):
    """One movement of credits. Task-linked kinds are unique per task and kind, and a
    task is settled (charged or released) at most once: the database refuses a second
    one whatever path (retry, duplicate webhook, race) tries to write it."""

    wallet = models.ForeignKey(Wallet, on_delete=models.CASCADE, related_name="entries", verbose_name=_("wallet"))
    kind = models.CharField(max_length=16, choices=EntryKind.choices, verbose_name=_("kind"))
    credits = models.IntegerField(help_text=_("Size of the movement; negative only for a grant that takes back."), verbose_name=_("credits"))
    # No database constraint: the ledger keeps the task's id even if the job is deleted.
    task = models.ForeignKey(
        "generation.Task", null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="ledger_entries", verbose_name=_("task")
    )
    balance_after = models.IntegerField(_("balance after"))
    reserved_after = models.IntegerField(_("reserved after"))
    note = models.CharField(max_length=200, blank=True, verbose_name=_("note"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        constraints = [
            models.UniqueConstraint(
                fields=["task", "kind"], condition=Q(task__isnull=False), name="ledger_one_entry_per_task_and_kind"
            ),
            models.UniqueConstraint(
                fields=["task"], condition=Q(kind__in=SETTLEMENTS), name="ledger_one_settlement_per_task"
            ),
            models.CheckConstraint(
                condition=Q(kind=EntryKind.GRANT) | Q(task__isnull=False), name="ledger_task_kinds_name_their_task"
            ),
            models.CheckConstraint(
                condition=Q(kind=EntryKind.GRANT) | Q(credits__gt=0), name="ledger_task_kinds_are_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.credits} ({self.wallet.user})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("ledger entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("ledger entries are append-only")


class ProviderCost(models.Model):
    """What one provider call cost us, for reporting: recorded when its task finishes in
    a way fal bills (see `credits.services.fal_bills`), by the model's published price
    rule applied to what was sent (`generation.catalog.pricing`)."""

    task = models.OneToOneField(
        "generation.Task", on_delete=models.DO_NOTHING, db_constraint=False, related_name="provider_cost", verbose_name=_("task")
    )
    provider = models.CharField(max_length=32, verbose_name=_("provider"))
    model_key = models.CharField(max_length=64, db_index=True, verbose_name=_("model key"))
    endpoint = models.CharField(max_length=200, verbose_name=_("endpoint"))
    outcome = models.CharField(max_length=16, default="completed", help_text=_("How the billed task finished."), verbose_name=_("outcome"))
    seconds = models.DecimalField(max_digits=7, decimal_places=2, verbose_name=_("seconds"))
    usd_per_second = models.DecimalField(max_digits=8, decimal_places=4, help_text=_("The amount over the seconds."), verbose_name=_("USD per second"))
    amount_usd = models.DecimalField(max_digits=10, decimal_places=4, verbose_name=_("amount (USD)"))
    basis = models.CharField(max_length=200, blank=True, help_text=_("How the amount was reckoned."), verbose_name=_("basis"))
    estimated = models.BooleanField(default=False, help_text=_("The model's price is an estimate, not fal's published figure."), verbose_name=_("estimated"))
    recorded_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("recorded at"))

    class Meta:
        ordering = ["-recorded_at"]
        verbose_name = _("provider cost")
        verbose_name_plural = _("provider costs")

    def __str__(self) -> str:
        return f"{self.model_key}: ${self.amount_usd}"
