from django.contrib import admin

from history.models import HistoryItem


@admin.register(HistoryItem)
class HistoryItemAdmin(admin.ModelAdmin):
    list_display = ["short_id", "user", "status", "model", "duration_seconds", "width", "height", "size_bytes", "created_at"]
    list_filter = ["task__status", "task__job__model_key", "created_at"]
    search_fields = ["id", "user__username", "task__request_id", "task__job__prompt", "sha256"]
    list_select_related = ["user", "task__job"]
    readonly_fields = [f.name for f in HistoryItem._meta.fields]
    date_hierarchy = "created_at"

    @admin.display(description="item", ordering="id")
    def short_id(self, item):
        return str(item.pk)[:8]

    @admin.display(description="status", ordering="task__status")
    def status(self, item):
        return item.task.get_status_display()

    @admin.display(description="model", ordering="task__job__model_key")
    def model(self, item):
        return item.task.job.model_key

    def has_add_permission(self, request):
        return False
