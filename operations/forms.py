from datetime import timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from generation.catalog import MODELS

LONGEST_PERIOD_DAYS = 366


class PeriodForm(forms.Form):
    """The monitoring page's choice: a period of whole UTC days, a provider group, a model."""

    start = forms.DateField(label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(
        label=gettext_lazy("To"), widget=forms.DateInput(attrs={"type": "date"}), help_text=gettext_lazy("Included.")
    )
    group = forms.ChoiceField(
        required=False, label=gettext_lazy("Provider group"),
        choices=[("", gettext_lazy("All groups")), *((g, g) for g in sorted({m.group for m in MODELS}))],
    )
    model = forms.ChoiceField(
        required=False, label=gettext_lazy("Model"), choices=[("", gettext_lazy("All models")), *((m.key, m.label) for m in MODELS)]
    )

    @classmethod
    def default(cls) -> "PeriodForm":
        today = timezone.now().date()
        return cls({"start": today - timedelta(days=6), "end": today})

    def clean(self):
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                raise forms.ValidationError(_("The period ends before it starts."))
            if (end - start).days >= LONGEST_PERIOD_DAYS:
                raise forms.ValidationError(_("Choose at most %(days)s days.") % {"days": LONGEST_PERIOD_DAYS})
        return data
