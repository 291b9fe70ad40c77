from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = _("Generation")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from generation import signals, wakeup  # noqa: F401  (the job's files; the NOTIFY on enqueue)
