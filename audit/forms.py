from django import forms


REASON_REQUIRED = "Say why: every staff action is recorded with its reason."


class ReasonForm(forms.Form):
    """What every staff action asks for: why. Subclasses add the action's own inputs."""

    reason = forms.CharField(
        max_length=1000,
        error_messages={"required": REASON_REQUIRED},
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded in the audit log with your name and the outcome for each object.",
    )
