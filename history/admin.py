from django.contrib import admin
from django.utils.html import format_html

from history.models import HistoryItem


@admin.register(HistoryItem)
class HistoryItemAdmin(admin.ModelAdmin):
    list_display = ["short_id", "user", "status", "model", "duration_seconds", "width", "height", "size_bytes", "created_at"]
    list_filter = ["task__status", "task__job__model_key", "created_at"]
    search_fields = ["id", "user__username", "task__request_id", "task__job__prompt", "sha256"]
    list_select_related = ["user", "task__job"]
    # Files are private: link them through the view that checks who asks (staff may).
    readonly_fields = [f.name for f in HistoryItem._meta.fields if f.name not in ("video", "poster")] + ["video_file", "poster_file"]
    exclude = ["video", "poster"]
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

    @admin.display(description="video")
    def video_file(self, item):
        return format_html('<a href="{}">{}</a>', item.video_url, item.video.name) if item.video else "-"

    @admin.display(description="poster")
    def poster_file(self, item):
        return format_html('<a href="{}">{}</a>', item.poster_url, item.poster.name) if item.poster else "-"

    def has_add_permission(self, request):
        return False
