from django.core.management.base import BaseCommand, CommandError

from operations.health import configuration


class Command(BaseCommand):
    help = (
        "Tell whether this configuration can work: fal key, webhook JWKS, PUBLIC_BASE_URL, the catalog's endpoints, "
        "database, media storage, live workers and reconciler. Exits non-zero if anything needed fails."
    )

    def handle(self, *args, **options):
        checks = configuration()
        for check in checks:
            mark = "ok  " if check.ok else ("FAIL" if check.required else "warn")
            line = f"{mark}  {check.name}: {check.detail}"
            self.stdout.write(self.style.SUCCESS(line) if check.ok else self.style.ERROR(line))
        failed = [check.name for check in checks if check.required and not check.ok]
        if failed:
            raise CommandError(f"not ready: {', '.join(failed)}")
        self.stdout.write(self.style.SUCCESS("This configuration can work."))
