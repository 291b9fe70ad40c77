from django.apps import AppConfig


class PixelArtConfig(AppConfig):
    name = "pixelart"
    verbose_name = "Pixel art"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from pixelart import signals  # noqa: F401  (a pixel art's files go with it)
