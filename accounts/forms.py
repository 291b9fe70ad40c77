from django import forms

from audit.forms import ReasonForm
from credits.models import Tier


class ChangeTierForm(ReasonForm):
    tier = forms.ChoiceField(choices=Tier.choices, help_text="Sets the daily video limit.")
    field_order = ["tier", "reason"]


class GrantForm(ReasonForm):
    credits = forms.IntegerField(
        min_value=-100_000, max_value=100_000, help_text="A negative number takes credits back (never below zero)."
    )
    field_order = ["credits", "reason"]

    def clean_credits(self) -> int:
        credits = self.cleaned_data["credits"]
        if credits == 0:
            raise forms.ValidationError("Grant at least one credit (or take one back).")
        return credits
