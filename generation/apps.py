from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from generation import wakeup  # noqa: F401  (connects the NOTIFY on enqueue)
