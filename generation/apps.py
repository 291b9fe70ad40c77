from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from generation import signals, wakeup  # noqa: F401  (the job's files; the NOTIFY on enqueue)
