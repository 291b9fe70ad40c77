import secrets
import uuid
from urllib.parse import urlencode

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from generation.catalog import get_model, model_choices
# The state machine lives with the function that moves a task; its names are also
# importable from here, where the field that holds them is.
from generation.transitions import (  # noqa: F401
    ALLOWED_TRANSITIONS,
    AT_PROVIDER,
    FINISHED,
    IN_FLIGHT,
    RETRYABLE,
    TaskStatus,
    Waiting,
)


class ErrorKind(models.TextChoices):
    VALIDATION = "validation", _("Invalid request")
    RATE_LIMIT = "rate_limit", _("Rate limited")
    QUOTA = "quota", _("Quota exceeded")
    NETWORK = "network", _("Network error")
    PROVIDER = "provider", _("Provider error")
    DOWNLOAD = "download", _("Download failed")
    TIMEOUT = "timeout", _("Timed out")
    CANCELLED = "cancelled", _("Cancelled")
    INTERNAL = "internal", _("Internal error")


class Job(models.Model):
    """One press of Generate: what the user asked for. Its tasks do the work."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    # A callable, so that adding a model to the catalog needs no migration.
    model_key = models.CharField(max_length=64, choices=model_choices)
    prompt = models.TextField()
    # The validated form values (duration, aspect ratio, seed, ...) as the user gave them.
    params = models.JSONField(default=dict, blank=True)
    input_image = models.FileField(upload_to="inputs/%Y/%m/", blank=True)
    input_end_image = models.FileField(upload_to="inputs/%Y/%m/", blank=True, help_text="The last frame, for models that take one.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The request's one-time key (the Generate form's, or an API Idempotency-Key) and
    # the digest of what it asked for: a key makes one job per user (see
    # generation.request_keys).
    request_key = models.CharField(max_length=255, blank=True, editable=False)
    request_digest = models.CharField(max_length=64, blank=True, editable=False)
    # Whether a video may be made with the model's fallback when the model is
    # unavailable or fails it for a provider reason (generation.fallback).
    allow_fallback = models.BooleanField(
        default=True, help_text="A video may be made with the model's fallback if the model is unavailable or fails."
    )

    # Set (not stored) on the job start_generation returns when the request repeated
    # one already made under the same key.
    replayed = False

    class Meta:
        ordering = ["-created_at"]
        # The gallery and the API page through a user's jobs in this order.
        indexes = [models.Index(fields=["user", "-created_at", "-id"], name="job_user_newest")]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "request_key"], condition=~models.Q(request_key=""), name="job_one_per_request_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.model_spec.label}: {self.prompt[:60]}"

    @property
    def model_spec(self):
        return get_model(self.model_key)

    def form_settings(self) -> dict:
        """What the user asked for, in the Generate form's terms (jobs made before
        several styles and ratios existed kept one `aspect_ratio`)."""
        params = self.params
        ratios = params.get("aspect_ratios") or ([params["aspect_ratio"]] if params.get("aspect_ratio") else [])
        return {
            "model": self.model_key,
            "prompt": self.prompt,
            "duration": params.get("duration"),
            "resolution": params.get("resolution") or "",
            "audio": {True: "on", False: "off"}.get(params.get("audio"), ""),
            "styles": params.get("styles") or [],
            "aspect_ratios": ratios,
            "mode": params.get("mode") or "single",
            "count": params.get("count") or 1,
            "negative_prompt": params.get("negative_prompt") or "",
            "seed": params.get("seed"),
        }

    @property
    def regenerate_url(self) -> str:
        """The Generate form, filled in with this job's settings (and its input and
        last-frame images)."""
        return _generate_url({**self.form_settings(), **self.image_references()})

    def image_references(self) -> dict:
        """The Generate form's references to this job's images: `frame` names its input
        image ("input:<card>"), `end_frame` its last frame ("end:<card>"); a card of
        the job stands for them, so that regenerating keeps both."""
        if not (self.input_image or self.input_end_image):
            return {}
        card = self.tasks.filter(history_item__isnull=False).values_list("history_item__pk", flat=True).first()
        if not card:
            return {}
        references = {}
        if self.input_image:
            references["frame"] = f"input:{card}"
        if self.input_end_image:
            references["end_frame"] = f"end:{card}"
        return references


def _generate_url(values: dict) -> str:
    query = {key: value for key, value in values.items() if value not in (None, "", [])}
    return f"{reverse('generation:generate')}?{urlencode(query, doseq=True)}"


class TaskQuerySet(models.QuerySet):
    def current(self) -> "TaskQuerySet":
        """The current attempt of each video: the tasks no retry replaced. A video
        that was retried is represented by its newest attempt."""
        return self.filter(retried_by__isnull=True)


class Task(models.Model):
    """One video at one provider. Its row is the truth about that video's progress;
    `status` changes only through `generation.transitions.transition_task`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="tasks")
    retried_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retried_by"
    )
    status = models.CharField(max_length=16, choices=TaskStatus.choices, default=TaskStatus.PENDING, db_index=True)
    # While PENDING: why it is not sent yet (its provider group's cap, or its breaker).
    waiting = models.CharField(max_length=16, choices=Waiting.choices, blank=True, default=Waiting.NOT_WAITING)

    # Which variant of its job this task makes (see generation.planning).
    variant_index = models.PositiveSmallIntegerField(default=0)
    style = models.CharField(max_length=32, blank=True)
    aspect_ratio = models.CharField(max_length=8, blank=True)
    seed = models.BigIntegerField(null=True, blank=True, help_text="The seed sent to the model, if it takes one.")

    provider = models.CharField(max_length=32, default="fal")
    # The model this attempt is made with when it is not its job's: the job's model's
    # fallback (generation.fallback). Empty: the job's own model.
    made_with = models.CharField(max_length=64, blank=True, help_text="The fallback model this attempt was made with.")
    endpoint = models.CharField(max_length=200)
    arguments = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=128, blank=True, db_index=True)
    webhook_token = models.CharField(max_length=64, default=secrets.token_urlsafe, editable=False)

    queue_position = models.IntegerField(null=True, blank=True)
    progress = models.PositiveSmallIntegerField(null=True, blank=True)
    last_log = models.TextField(blank=True)
    result_url = models.URLField(max_length=2000, blank=True)

    submit_attempts = models.PositiveIntegerField(default=0)
    download_attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # While set and in the future, one worker owns the slow step (submit, status poll
    # or download).
    lease_until = models.DateTimeField(null=True, blank=True)
    # At the provider, a task is asked about only when its webhook is overdue (from
    # this time on) or while someone watches its card (until `watched_until`); see
    # generation.polling.
    poll_after = models.DateTimeField(null=True, blank=True, db_index=True)
    watched_until = models.DateTimeField(null=True, blank=True)
    status_polls = models.PositiveIntegerField(default=0)

    error_kind = models.CharField(max_length=16, choices=ErrorKind.choices, blank=True)
    error_message = models.CharField(max_length=500, blank=True, help_text="Safe to show the user (in English).")
    # The same message in parts, read again in the reader's language (generation.said).
    error_words = models.JSONField(default=dict, blank=True, editable=False)
    error_detail = models.TextField(blank=True, help_text="For staff: type, traceback, provider response.")

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # When the submit step last took it out of the queue: the maximum age counts from
    # here, so time spent waiting for a slot or a breaker does not (generation.reconcile).
    sent_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # When the provider's result was accepted and bringing it home began.
    downloading_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "updated_at"])]

    def __str__(self) -> str:
        return f"Task {str(self.id)[:8]} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED

    @property
    def model_key(self) -> str:
        """The model that makes this attempt: its job's, or the fallback it was re-planned on."""
        return self.made_with or self.job.model_key

    @property
    def model_spec(self):
        return get_model(self.model_key)

    @property
    def made_with_label(self) -> str:
        """The fallback model's name when this attempt was made with one, else ""."""
        if not self.made_with:
            return ""
        try:
            return get_model(self.made_with).label
        except KeyError:
            return self.made_with

    @property
    def error_text(self) -> str:
        """Why the attempt failed or was cancelled, as the user reads it, in the active
        language (`error_message` keeps the English for staff)."""
        from generation.said import text_of

        return text_of(self.error_words, self.error_message)

    @property
    def can_retry(self) -> bool:
        return self.status in RETRYABLE and not hasattr(self, "retried_by")

    def may_download_again(self) -> bool:
        """Whether a retry should fetch this attempt's finished video again rather than
        generate a new one: the provider made it and only bringing it home failed, and
        no earlier attempt tried that same link already."""
        return (
            self.error_kind == ErrorKind.DOWNLOAD
            and bool(self.result_url)
            and not Task.objects.filter(pk=self.retried_from_id, result_url=self.result_url).exists()
        )

    @property
    def style_label(self) -> str:
        from generation.styles import NO_STYLE, get_style

        if not self.style or self.style == NO_STYLE:
            return ""
        try:
            return get_style(self.style).label
        except KeyError:
            return self.style

    def sent_arguments(self) -> list[tuple[str, object]]:
        """What this attempt sends to the model, field by field, as recorded (the seed
        included); input images are named rather than shown as their URL."""
        rows = sorted(self.arguments.items())
        spec = self.model_spec
        for field_name, stored in ((spec.image_field, self.job.input_image), (spec.end_image_field, self.job.input_end_image)):
            if field_name and stored:
                rows.append((field_name, "(your image)"))
        return rows

    @property
    def regenerate_url(self) -> str:
        """The Generate form with this one video's settings: its job's, narrowed to
        this task's style and aspect ratio."""
        values = self.job.form_settings()
        values.update(styles=[self.style] if self.style else [], mode="single", count=1)
        values["aspect_ratios"] = [self.aspect_ratio] if self.aspect_ratio else values["aspect_ratios"][:1]
        values.update(self.job.image_references())
        return _generate_url(values)


class WebhookOutcome(models.TextChoices):
    RECEIVED = "received", "Received (not processed yet)"
    APPLIED = "applied", "Applied"
    DUPLICATE = "duplicate", "Duplicate or late: no change"
    BAD_SIGNATURE = "bad_signature", "Bad or missing signature"
    REPLAY = "replay", "Replay of an earlier delivery"
    BAD_TOKEN = "bad_token", "Bad or missing task token"
    MISMATCHED = "mismatched", "Signed for another request or fal account"
    UNKNOWN_TASK = "unknown_task", "Unknown task"
    MALFORMED = "malformed", "Malformed body"
    TOO_LARGE = "too_large", "Body too large"
    ERROR = "error", "Internal error"


class WebhookDelivery(models.Model):
    """Every call to a webhook endpoint, written once with its outcome (in the same
    transaction as the move it made, if any; see generation.webhooks)."""

    provider = models.CharField(max_length=32, default="fal")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    task = models.ForeignKey(Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="webhook_deliveries")
    request_id = models.CharField(max_length=128, blank=True, db_index=True)
    # fal signs every delivery afresh (a new timestamp each try), so an exact repeat of
    # a signature we already accepted is someone replaying it. Stored as canonical
    # lower-case hex of its bytes (generation.webhooks.canonical_signature).
    signature = models.CharField(max_length=128, blank=True, db_index=True)
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    query_string = models.TextField(blank=True)
    headers = models.JSONField(default=dict)
    # The whole body only for deliveries that passed every check; refused ones keep
    # their first FAL_WEBHOOK_PREVIEW_BYTES, with the size and digest of the whole.
    body = models.TextField(blank=True)
    body_size = models.PositiveIntegerField(default=0)
    body_sha256 = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=16, choices=WebhookOutcome.choices, default=WebhookOutcome.RECEIVED)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    detail = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            # fal signs every delivery afresh (a new timestamp each try), so a signature
            # accepted once is someone replaying it the second time: refused here, by
            # the database, rather than by a query before each delivery. Refused
            # deliveries may share one (a wrong token must not block the genuine one).
            models.UniqueConstraint(
                fields=["signature"],
                condition=Q(outcome__in=["applied", "duplicate"]) & ~Q(signature=""),
                name="webhook_signature_accepted_once",
            )
        ]

    def __str__(self) -> str:
        return f"Delivery {self.pk} ({self.outcome})"
