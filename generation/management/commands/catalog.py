import json

from django.core.management.base import BaseCommand

from generation.catalog import MODELS, describe


class Command(BaseCommand):
    help = (
        "List the models we offer: endpoint, kind, options and price. With --json, one object per "
        "model including `requests`, every argument set the product can send to its endpoint."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print JSON (with every request) instead of a table.")

    def handle(self, *args, **options):
        if options["json"]:
            listing = [{**describe(spec), "requests": list(spec.every_request())} for spec in MODELS]
            self.stdout.write(json.dumps(listing, indent=2, ensure_ascii=False))
            return
        rows = [("key", "kind", "endpoint", "durations (s)", "ratios", "resolutions", "sound", "seed", "avoid", "last frame", "credits", "requests", "price")]
        for spec in MODELS:
            rows.append((
                spec.key,
                spec.kind,
                spec.endpoint,
                ",".join(map(str, spec.durations)),
                ",".join(spec.aspect_ratios) or "(model's)",
                ",".join(spec.resolutions) or "-",
                "yes" if spec.audio else "-",
                "yes" if spec.seed else "-",
                "yes" if spec.negative_prompt else "-",
                "yes" if spec.takes_end_image else "-",
                str(spec.credits_per_video),
                str(sum(1 for _ in spec.every_request())),
                (spec.price.text if spec.price else "unpriced") + ("" if not spec.price or spec.price.published else " [estimate]"),
            ))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
