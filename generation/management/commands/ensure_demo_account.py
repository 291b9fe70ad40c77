from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from credits.models import Tier
from credits.services import set_tier, top_up

DEMO_CREDITS = 500


class Command(BaseCommand):
    help = (
        "Create the demo/demo account (staff, for the admin) when running on the local sandbox, "
        f"on the pro tier with at least {DEMO_CREDITS} credits."
    )

    def handle(self, *args, **options):
        if not settings.FAL_USE_SANDBOX:
            self.stdout.write("Using fal.ai: no demo account is created.")
            return
        User = get_user_model()
        user, created = User.objects.get_or_create(username="demo", defaults={"is_staff": True, "is_superuser": True})
        if created:
            user.set_password("demo")
            user.save()
            self.stdout.write("Created the demo account (demo / demo).")
        set_tier(user=user, tier=Tier.PRO)
        if top_up(user=user, to=DEMO_CREDITS, note="Demo account top-up"):
            self.stdout.write(f"Topped the demo account up to {DEMO_CREDITS} credits.")
