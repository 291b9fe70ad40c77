from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from pixelart.models import LastFrame, PixelArt


@admin.register(PixelArt)
class PixelArtAdmin(admin.ModelAdmin):
    list_display = ["short_id", "user", "status", "progress", "frame_count", "width", "height", "colors", "created_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["id", "user__username", "source__id"]
    list_select_related = ["user"]
    readonly_fields = [f.name for f in PixelArt._meta.fields]

    @admin.display(description=_("pixel art"), ordering="id")
    def short_id(self, art):
        return str(art.pk)[:8]

    def has_add_permission(self, request):
        return False


@admin.register(LastFrame)
class LastFrameAdmin(admin.ModelAdmin):
    list_display = ["id", "source", "status", "error_message", "created_at"]
    list_filter = ["status"]
    search_fields = ["id", "source__id"]
    readonly_fields = [f.name for f in LastFrame._meta.fields]

    def has_add_permission(self, request):
        return False
