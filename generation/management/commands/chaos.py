from django.core.management.base import BaseCommand, CommandError

from generation.chaos import DEFAULT_FAULTS, run_chaos


class Command(BaseCommand):
    help = (
        "Drive N generations through web server, workers, reconciler and the local fal sandbox "
        "with faults injected at random and workers killed and replaced; print an audit line and "
        "exit non-zero if any video was lost, submitted twice or left a stray file."
    )

    def add_arguments(self, parser):
        parser.add_argument("--jobs", type=int, default=50)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--faults", default=DEFAULT_FAULTS, help="Sandbox fault rates, e.g. no_webhook=0.1,result_500=0.05")
        parser.add_argument("--seconds", type=float, default=1.5, help="How long each sandbox generation takes.")
        parser.add_argument("--timeout", type=float, default=600)
        parser.add_argument("--kill-every", type=float, default=8.0, help="Kill a worker with SIGKILL this often.")
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args, **options):
        if options["jobs"] < 1:
            raise CommandError("--jobs must be at least 1")
        report = run_chaos(
            jobs=options["jobs"],
            workers=options["workers"],
            faults=options["faults"],
            sandbox_seconds=options["seconds"],
            timeout=options["timeout"],
            kill_every=options["kill_every"],
            seed=options["seed"],
            say=self.stdout.write,
        )
        kinds = ", ".join(f"{kind}={count}" for kind, count in sorted(report.failure_kinds.items())) or "none"
        self.stdout.write(f"chaos: {report.seconds:.0f} s, {report.kills} worker(s) killed, failures by kind: {kinds}")
        self.stdout.write(f"chaos: credits {'balanced' if not report.credit_errors else '; '.join(report.credit_errors)}")
        self.stdout.write(report.line())
        if not report.ok:
            raise CommandError(
                f"chaos audit failed (unclassified failures: {report.unclassified_failures}, "
                f"credit errors: {len(report.credit_errors)})"
            )
