from django.apps import AppConfig


class PixelArtConfig(AppConfig):
    name = "pixelart"
    verbose_name = "Pixel art"
    default_auto_field = "django.db.models.BigAutoField"
