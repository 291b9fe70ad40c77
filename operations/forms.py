from datetime import timedelta

from django import forms
from django.utils import timezone

from generation.catalog import MODELS

LONGEST_PERIOD_DAYS = 366


class PeriodForm(forms.Form):
    """The monitoring page's choice: a period of whole UTC days, a provider group, a model."""

    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), help_text="Included.")
    group = forms.ChoiceField(
        required=False, label="Provider group",
        choices=[("", "All groups"), *((g, g) for g in sorted({m.group for m in MODELS}))],
    )
    model = forms.ChoiceField(required=False, choices=[("", "All models"), *((m.key, m.label) for m in MODELS)])

    @classmethod
    def default(cls) -> "PeriodForm":
        today = timezone.now().date()
        return cls({"start": today - timedelta(days=6), "end": today})

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                raise forms.ValidationError("The period ends before it starts.")
            if (end - start).days >= LONGEST_PERIOD_DAYS:
                raise forms.ValidationError(f"Choose at most {LONGEST_PERIOD_DAYS} days.")
        return data
