"""What operating the product needs to remember. What keeps us within the provider's
limits: per provider group, its cap on requests in flight, the minimum interval
between two submits, and its circuit breaker. Which background processes are alive,
and which alerts are open.

A group's row is the lock that every worker on every machine takes to decide whether
a task may be sent (see `operations.services`); the requests in flight are counted
from the task rows themselves, so a slot can never leak: it is free the moment its
task leaves SUBMITTING, QUEUED or IN_PROGRESS."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def _default_cap() -> int:
    return settings.PROVIDER_MAX_IN_FLIGHT


def _default_interval() -> float:
    return settings.PROVIDER_MIN_INTERVAL_SECONDS


class BreakerState(models.TextChoices):
    CLOSED = "closed", _("Closed (sending)")
    OPEN = "open", _("Open (holding tasks)")
    HALF_OPEN = "half_open", _("Half open (one probe request)")


class ProviderGroup(models.Model):
    """A model family, or a whole provider account, whose requests are capped together
    (the catalog's `ModelSpec.group`). Made with the settings' defaults on first use;
    staff change a group's figures in the admin."""

    name = models.CharField(max_length=100, primary_key=True, verbose_name=_("name"))
    max_in_flight = models.PositiveIntegerField(default=_default_cap, help_text=_("Requests at the provider at once."), verbose_name=_("max in flight"))
    min_interval_seconds = models.FloatField(default=_default_interval, help_text=_("Between two submits to this group."), verbose_name=_("min interval seconds"))
    last_submit_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last submit at"))

    breaker = models.CharField(max_length=16, choices=BreakerState.choices, default=BreakerState.CLOSED, verbose_name=_("breaker"))
    consecutive_failures = models.PositiveIntegerField(default=0, verbose_name=_("consecutive failures"))
    opened_at = models.DateTimeField(null=True, blank=True, verbose_name=_("opened at"))
    # When an open breaker lets one probe through; empty while staff hold it open.
    probe_after = models.DateTimeField(null=True, blank=True, verbose_name=_("probe after"))
    probe_task = models.UUIDField(null=True, blank=True, help_text=_("The task sent as the probe while half open."), verbose_name=_("probe task"))
    last_failure = models.TextField(blank=True, help_text=_("What the provider last answered when it failed."), verbose_name=_("last failure"))
    opened_by_hand = models.BooleanField(default=False, verbose_name=_("opened by hand"))
    # Whether a task may be waiting for this group: set (under the row's lock) when a
    # task starts to wait, cleared by the wake-up that finds the queue empty. A task
    # leaving the provider reads it in the statement that locks its own row, so an
    # empty queue costs no further query (see operations.services.slot_freed). True
    # for a new row, so that the first wake-up finds out.
    has_waiting = models.BooleanField(default=True, help_text=_("A task may be waiting for a slot of this group."), verbose_name=_("has waiting"))

    class Meta:
        ordering = ["name"]
        verbose_name = _("provider group")
        verbose_name_plural = _("provider groups")

    def __str__(self) -> str:
        return self.name

    @property
    def is_closed(self) -> bool:
        return self.breaker == BreakerState.CLOSED


class ProcessKind(models.TextChoices):
    WORKER = "worker", _("Task worker")
    RECONCILER = "reconciler", _("Reconciler")


class Heartbeat(models.Model):
    """The last sign of life of one background process, kept in the database so that
    every web process on every machine sees the same answer."""

    name = models.CharField(max_length=200, unique=True, help_text=_("The process: its worker id and host."), verbose_name=_("name"))
    kind = models.CharField(max_length=16, choices=ProcessKind.choices, db_index=True, verbose_name=_("kind"))
    beat_at = models.DateTimeField(default=timezone.now, verbose_name=_("beat at"))

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return f"{self.name} ({self.beat_at:%H:%M:%S})"


class AlertIncident(models.Model):
    """One stretch of time during which an alert's threshold was passed. At most one is
    open per rule (the database refuses a second), so each incident mails once when it
    opens and once when it is resolved, however many processes check."""

    rule = models.CharField(max_length=32, db_index=True, verbose_name=_("rule"))
    opened_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("opened at"))
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resolved at"))
    value = models.FloatField(help_text=_("The measure when the incident opened, then the worst seen."), verbose_name=_("value"))
    threshold = models.FloatField(_("threshold"))
    summary = models.CharField(max_length=300, verbose_name=_("summary"))

    class Meta:
        ordering = ["-opened_at"]
        verbose_name = _("alert incident")
        verbose_name_plural = _("alert incidents")
        constraints = [
            models.UniqueConstraint(fields=["rule"], condition=Q(resolved_at__isnull=True), name="alert_one_open_per_rule")
        ]

    def __str__(self) -> str:
        return f"{self.rule} since {self.opened_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
