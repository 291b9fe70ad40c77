from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the demo/demo account (staff, for the admin) when running on the local sandbox."

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
