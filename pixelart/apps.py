from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PixelArtConfig(AppConfig):
    name = "pixelart"
    verbose_name = _("Pixel art")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from pixelart import signals  # noqa: F401  (a pixel art's files go with it)
