import time

from django.conf import settings
from django.core.management.base import BaseCommand

from generation.webhooks import prune_deliveries


class Command(BaseCommand):
    help = (
        "Remove webhook deliveries older than FAL_WEBHOOK_RETENTION_DAYS. Run it from cron "
        "like the reconciler, or as a long-running process (--every)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=0, help="Repeat forever with this many seconds between passes.")

    def handle(self, *args, every: float, **options):
        while True:
            removed = prune_deliveries()
            if every <= 0 or removed or options["verbosity"] > 1:
                self.stdout.write(
                    f"prune_deliveries: removed {removed} older than {settings.FAL_WEBHOOK_RETENTION_DAYS} days"
                )
            if every <= 0:
                return
            time.sleep(every)
