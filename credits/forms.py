from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


class GrantCreditsForm(forms.Form):
    users = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.order_by("username"),
        widget=forms.SelectMultiple(attrs={"size": 10}),
        label=gettext_lazy("Users"),
        help_text=gettext_lazy("Each gets the same number of credits."),
    )
    credits = forms.IntegerField(
        min_value=-100_000,
        max_value=100_000,
        label=gettext_lazy("Credits"),
        help_text=gettext_lazy("A negative number takes credits back (never below zero)."),
    )
    note = forms.CharField(max_length=200, label=gettext_lazy("Note"), help_text=gettext_lazy("Why: shown in the user's ledger."))

    def clean_credits(self) -> int:
        credits = self.cleaned_data["credits"]
        if credits == 0:
            raise forms.ValidationError(_("Grant at least one credit (or take one back)."))
        return credits
