import time

from django.conf import settings
from django.core.management.base import BaseCommand

from generation.reconcile import reconcile_overdue_tasks
from operations.alerts import evaluate_alerts
from operations.models import ProcessKind
from operations.services import record_heartbeat
from pixelart.services import restart_abandoned_pixel_art


class Command(BaseCommand):
    help = "Repair what lost webhooks and crashed workers left behind. Run it every few seconds (--every) or from cron."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=0, help="Repeat forever with this many seconds between passes.")

    def handle(self, *args, every: float, **options):
        alerts_due = repairs_due = 0.0
        while True:
            repairs = time.monotonic() >= repairs_due
            if repairs:
                repairs_due = time.monotonic() + settings.RECONCILE_REPAIR_SECONDS
            report = reconcile_overdue_tasks(repairs=repairs)
            restarted = restart_abandoned_pixel_art() if repairs else 0
            # /readyz and fal_check read this: the reconciler's last pass.
            record_heartbeat(kind=ProcessKind.RECONCILER, label="reconciler")
            if time.monotonic() >= alerts_due:
                for change in evaluate_alerts():
                    self.stdout.write(f"alert {'opened' if change.opened else 'resolved'}: {change.rule}: {change.summary}")
                alerts_due = time.monotonic() + settings.ALERT_CHECK_SECONDS
            if restarted:
                self.stdout.write(f"reconcile: {restarted} abandoned pixel art queued again")
            if every <= 0 or options["verbosity"] > 1 or report.polled or report.resubmitted or report.redownloaded or report.expired or report.woken:
                self.stdout.write(f"reconcile: {report}")
            if every <= 0:
                return
            time.sleep(every)
