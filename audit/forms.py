from django import forms
from django.utils.translation import gettext_lazy as _

REASON_REQUIRED = _("Say why: every staff action is recorded with its reason.")


class ReasonForm(forms.Form):
    """What every staff action asks for: why. Subclasses add the action's own inputs."""

    reason = forms.CharField(
        max_length=1000,
        label=_("Reason"),
        error_messages={"required": REASON_REQUIRED},
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Recorded in the audit log with your name and the outcome for each object."),
    )
