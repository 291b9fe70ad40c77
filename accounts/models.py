from django.conf import settings
from django.db import models


class Account(models.Model):
    """What staff decide about a user beyond Django's own flags, and the user's own
    choice of language. A suspended user can
    still sign in and see their videos; they cannot start new work. (Django's
    `is_active` would lock them out entirely, and take their gallery with it.)"""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account")
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    suspension_reason = models.CharField(max_length=1000, blank=True)
    # The language the user chose with the header's switch (a code of LANGUAGES); blank
    # until they choose, and then the browser's Accept-Language decides.
    language = models.CharField(max_length=10, blank=True)

    def __str__(self) -> str:
        return f"{self.user} ({'suspended' if self.is_suspended else 'active'})"

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None
