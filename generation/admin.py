from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from credits.services import CreditRefused
from generation.models import Job, Task, WebhookDelivery
from generation.services import cancel_job, cancel_task, retry_task
from generation.transitions import TransitionRefused
from history.models import HistoryItem

TASK_READONLY = [
    "id", "job", "retried_from", "status", "variant_index", "style", "aspect_ratio", "seed",
    "provider", "endpoint", "arguments", "request_id",
    "queue_position", "progress", "last_log", "result_url", "submit_attempts", "download_attempts",
    "next_attempt_at", "lease_until", "error_kind", "error_message", "error_detail",
    "created_at", "updated_at", "submitted_at", "started_at", "finished_at",
]


class TaskInline(admin.TabularInline):
    model = Task
    fields = ["id_link", "variant_index", "style", "aspect_ratio", "status", "request_id", "progress", "error_kind", "error_message", "created_at", "finished_at"]
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
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "model_key", "short_prompt", "task_statuses", "created_at"]
    list_filter = ["model_key", "created_at"]
    search_fields = ["id", "prompt", "user__username", "user__email", "tasks__request_id"]
    readonly_fields = ["id", "user", "model_key", "prompt", "params", "input_image_file", "created_at"]
    exclude = ["input_image"]  # shown read-only as input_image_file, through the checked view
    list_select_related = ["user"]
    inlines = [TaskInline]
    date_hierarchy = "created_at"
    actions = ["cancel_selected_jobs"]

    @admin.display(description="input image")
    def input_image_file(self, job):
        # Private: linked through a card's checked view (staff may see any).
        card = HistoryItem.objects.filter(task__job=job).first() if job.input_image else None
        if card is None:
            return job.input_image.name or "-"
        return format_html('<a href="{}">{}</a>', card.input_image_url, job.input_image.name)

    @admin.action(description="Cancel selected jobs (their unfinished videos)")
    def cancel_selected_jobs(self, request, queryset):
        for job in queryset:
            result = cancel_job(job=job)
            self.message_user(request, f"{job.pk}: {result.message}", messages.SUCCESS if result.cancelled else messages.INFO)

    @admin.display(description="prompt")
    def short_prompt(self, job):
        return job.prompt[:80]

    @admin.display(description="tasks")
    def task_statuses(self, job):
        return ", ".join(task.status for task in job.tasks.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("tasks")


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["short_id", "status", "user", "endpoint", "request_id", "progress", "error_kind", "created_at", "finished_at"]
    list_filter = ["status", "error_kind", "endpoint", "provider", "created_at"]
    search_fields = ["id", "request_id", "job__user__username", "job__prompt", "error_message"]
    list_select_related = ["job__user"]
    readonly_fields = TASK_READONLY
    actions = ["retry_selected", "cancel_selected"]
    date_hierarchy = "created_at"

    @admin.display(description="task", ordering="id")
    def short_id(self, task):
        return str(task.pk)[:8]

    @admin.display(description="user", ordering="job__user__username")
    def user(self, task):
        return task.job.user

    def has_add_permission(self, request):
        return False

    @admin.action(description="Retry selected failed or cancelled tasks")
    def retry_selected(self, request, queryset):
        self._apply(request, queryset, retry_task, done="Retried", skipped="not failed/cancelled or already retried")

    @admin.action(description="Cancel selected unfinished tasks")
    def cancel_selected(self, request, queryset):
        self._apply(request, queryset, cancel_task, done="Cancelled", skipped="finished or being saved")

    def _apply(self, request, queryset, service, *, done: str, skipped: str) -> None:
        """Run a task service on each selected task; the service decides what may happen."""
        moved = refused = 0
        for task in queryset:
            try:
                service(task=task)
                moved += 1
            except TransitionRefused:
                refused += 1
            except CreditRefused as refusal:  # a retry holds credits of its own
                refused += 1
                self.message_user(request, f"{task.job.user}: {refusal.message}", messages.ERROR)
        self.message_user(
            request,
            f"{done} {moved} task(s); skipped {refused} {skipped}.",
            messages.SUCCESS if moved else messages.WARNING,
        )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "received_at", "outcome", "http_status", "request_id", "task_link", "remote_addr", "body_size"]
    list_filter = ["outcome", "http_status", "provider", "received_at"]
    search_fields = ["request_id", "task__id", "detail"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    date_hierarchy = "received_at"

    @admin.display(description="task")
    def task_link(self, delivery):
        if delivery.task_id is None:
            return "-"
        url = reverse("admin:generation_task_change", args=[delivery.task_id])
        return format_html('<a href="{}">{}</a>', url, str(delivery.task_id)[:8])

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
