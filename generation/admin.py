from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from audit.admin import StaffActionsShown
from audit.admin_actions import staff_action
from audit.forms import ReasonForm
from audit.models import Action, Result
from audit.services import Outcome
from credits.services import CreditRefused
from generation.models import Job, Task, WebhookDelivery
from generation.repairs import RepairRefused, queue_redownload
from generation.services import cancel_job, cancel_task, retry_task
from generation.transitions import TransitionRefused
from generation.webhooks import ReprocessRefused, reprocess_delivery
from history.models import HistoryItem

TASK_READONLY = [
    "id", "job", "retried_from", "status", "waiting", "variant_index", "style", "aspect_ratio", "seed",
    "provider", "made_with", "endpoint", "arguments", "request_id",
    "queue_position", "progress", "last_log", "result_url", "submit_attempts", "download_attempts",
    "next_attempt_at", "lease_until", "error_kind", "error_message", "error_detail",
    "created_at", "updated_at", "sent_at", "submitted_at", "started_at", "finished_at",
]


class TaskInline(admin.TabularInline):
    model = Task
    fields = ["id_link", "variant_index", "style", "aspect_ratio", "status", "made_with", "request_id", "progress", "error_kind", "error_message", "created_at", "finished_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    @admin.display(description="task")
    def id_link(self, task):
        return str(task.pk)[:8]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Job)
class JobAdmin(StaffActionsShown, admin.ModelAdmin):
    list_display = ["id", "user", "model_key", "short_prompt", "task_statuses", "created_at"]
    list_filter = ["model_key", "created_at"]
    search_fields = ["id", "prompt", "user__username", "user__email", "tasks__request_id"]
    readonly_fields = ["id", "user", "model_key", "prompt", "params", "allow_fallback", "input_image_file", "created_at", "staff_actions"]
    exclude = ["input_image"]  # shown read-only as input_image_file, through the checked view
    list_select_related = ["user"]
    inlines = [TaskInline]
    date_hierarchy = "created_at"
    actions = ["cancel_selected_jobs"]

    def has_add_permission(self, request):
        # Jobs are made by users (the Generate page, the API), which holds their credits
        # and queues their videos; a job saved here would have neither.
        return False

    cancel_selected_jobs = staff_action(
        action=Action.CANCEL_JOB,
        description="Cancel selected jobs (their unfinished videos)",
        run=lambda job, data, actor, entry: _cancel_job(job),
    )

    @admin.display(description="input image")
    def input_image_file(self, job):
        # Private: linked through a card's checked view (staff may see any).
        card = HistoryItem.objects.filter(task__job=job).first() if job.input_image else None
        if card is None:
            return job.input_image.name or "-"
        return format_html('<a href="{}">{}</a>', card.input_image_url, job.input_image.name)

    @admin.display(description="prompt")
    def short_prompt(self, job):
        return job.prompt[:80]

    @admin.display(description="tasks")
    def task_statuses(self, job):
        return ", ".join(task.status for task in job.tasks.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tasks")


@admin.register(Task)
class TaskAdmin(StaffActionsShown, admin.ModelAdmin):
    list_display = ["short_id", "status", "user", "endpoint", "made_with", "request_id", "progress", "error_kind", "created_at", "finished_at"]
    list_filter = ["status", "error_kind", "endpoint", "made_with", "provider", "created_at"]
    search_fields = ["id", "request_id", "job__user__username", "job__prompt", "error_message"]
    list_select_related = ["job__user"]
    readonly_fields = [*TASK_READONLY, "staff_actions"]
    date_hierarchy = "created_at"

    @admin.display(description="task", ordering="id")
    def short_id(self, task):
        return str(task.pk)[:8]

    @admin.display(description="user", ordering="job__user__username")
    def user(self, task):
        return task.job.user

    def has_add_permission(self, request):
        return False

    actions = ["retry_selected", "cancel_selected", "redownload_selected"]

    retry_selected = staff_action(
        action=Action.RETRY_TASK,
        description="Retry selected failed or cancelled tasks",
        run=lambda task, data, actor, entry: _retry(task),
    )
    cancel_selected = staff_action(
        action=Action.CANCEL_TASK,
        description="Cancel selected unfinished tasks",
        run=lambda task, data, actor, entry: _cancel(task),
    )
    redownload_selected = staff_action(
        action=Action.REDOWNLOAD,
        description="Re-download selected completed videos",
        explanation=(
            "Each video is fetched again, from its result URL while that works, else from a new link the "
            "provider gives for its request id, and replaces the stored file and poster. Nobody is charged "
            "again. A worker does the fetching; each outcome (re-downloaded, URL expired, not found) appears "
            "in the audit log."
        ),
        run=lambda task, data, actor, entry: _redownload(task, entry),
    )


def _retry(task: Task) -> Outcome:
    try:
        new = retry_task(task=task)
    except TransitionRefused:
        return Outcome(Result.REFUSED, "Not retried: only a failed or cancelled task can be retried, once.", "not_retryable")
    except CreditRefused as refusal:  # a retry holds credits of its own
        return Outcome(Result.REFUSED, f"Not retried: {refusal.message}", refusal.code)
    return Outcome(Result.DONE, f"Retried as task {str(new.pk)[:8]}.", "retried", {"new_task": str(new.pk)})


def _cancel(task: Task) -> Outcome:
    try:
        cancelled = cancel_task(task=task)
    except TransitionRefused as refused:
        return Outcome(Result.REFUSED, f"Not cancelled: it is {refused.current}.", "not_cancellable")
    asked = " The provider was asked to stop it." if cancelled.request_id else ""
    return Outcome(Result.DONE, f"Cancelled.{asked}", "cancelled")


def _cancel_job(job: Job) -> Outcome:
    result = cancel_job(job=job)
    return Outcome(Result.DONE if result.cancelled else Result.UNCHANGED, result.message, "cancelled" if result.cancelled else "")


def _redownload(task: Task, entry) -> Outcome:
    try:
        queue_redownload(task=task, audit_entry_id=entry.pk)
    except RepairRefused as refused:
        return Outcome(Result.REFUSED, refused.message, "refused")
    return Outcome(Result.PENDING, "Queued for re-download; the outcome will appear in the audit log.", "queued")


class ReprocessForm(ReasonForm):
    override_signature = forms.BooleanField(
        required=False,
        label="Override the signature check",
        help_text="Only for a delivery whose signature never verified and that you know came from fal. Your reason is recorded.",
    )


def _reprocess(delivery: WebhookDelivery, data: dict) -> Outcome:
    try:
        done = reprocess_delivery(delivery, signature_override=data["override_signature"])
    except ReprocessRefused as refused:
        return Outcome(Result.REFUSED, f"Not re-processed: {refused.message}", "refused")
    answer = done.answer
    message = f"Was {done.before}; now {answer.outcome} ({answer.detail})."
    if done.changed:
        return Outcome(Result.DONE, message, str(answer.outcome))
    if answer.status >= 400:
        return Outcome(Result.FAILED, message, str(answer.outcome))
    return Outcome(Result.UNCHANGED, f"Nothing changed: {message}", str(answer.outcome))


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(StaffActionsShown, admin.ModelAdmin):
    list_display = ["id", "received_at", "outcome", "http_status", "request_id", "task_link", "remote_addr", "body_size"]
    list_filter = ["outcome", "http_status", "provider", "received_at"]
    search_fields = ["request_id", "task__id", "detail"]
    readonly_fields = [*(f.name for f in WebhookDelivery._meta.fields), "staff_actions"]
    date_hierarchy = "received_at"

    @admin.display(description="task")
    def task_link(self, delivery):
        if delivery.task_id is None:
            return "-"
        url = reverse("admin:generation_task_change", args=[delivery.task_id])
        return format_html('<a href="{}">{}</a>', url, str(delivery.task_id)[:8])

    actions = ["reprocess_selected"]

    reprocess_selected = staff_action(
        action=Action.REPROCESS_DELIVERY,
        description="Re-process selected webhook deliveries",
        form_class=ReprocessForm,
        explanation=(
            "Each delivery runs again through the path a new delivery takes, its signature aside: only a delivery "
            "whose signature verified is accepted, unless you override that below. A delivery already applied "
            "changes nothing."
        ),
        details=lambda data: {"override_signature": data["override_signature"]},
        run=lambda delivery, data, actor, entry: _reprocess(delivery, data),
    )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
