import time

from django.core.management.base import BaseCommand

from generation.reconcile import reconcile_overdue_tasks
from pixelart.services import restart_abandoned_pixel_art


class Command(BaseCommand):
    help = "Repair what lost webhooks and crashed workers left behind. Run it every few seconds (--every) or from cron."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=0, help="Repeat forever with this many seconds between passes.")

    def handle(self, *args, every: float, **options):
        while True:
            report = reconcile_overdue_tasks()
            restarted = restart_abandoned_pixel_art()
            if restarted:
                self.stdout.write(f"reconcile: {restarted} abandoned pixel art queued again")
            if every <= 0 or options["verbosity"] > 1 or report.polled or report.resubmitted or report.redownloaded or report.expired:
                self.stdout.write(f"reconcile: {report}")
            if every <= 0:
                return
            time.sleep(every)
