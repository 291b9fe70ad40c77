from django.contrib import admin
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from credits.forms import GrantCreditsForm
from credits.models import LedgerEntry, ProviderCost, Wallet
from credits.selectors import ledger_totals, provider_spend, spend_total
from audit.admin_actions import report_outcomes
from audit.models import Action, Result
from audit.services import Outcome, Text, perform_staff_action
from credits.services import CreditRefused, InsufficientCredits, grant_credits


def grant_outcome(user, credits: int, note: str, actor) -> Outcome:
    """Grant (or take back) through the ledger, as an audited action's outcome."""
    try:
        entry = grant_credits(user=user, credits=credits, note=note, granted_by=actor)
    except InsufficientCredits as refused:
        balance = Wallet.objects.get(user=user).balance
        text = Text(
            gettext_noop("%(user)s has %(balance)s credit(s); that is the most that can be taken back."),
            {"user": str(user), "balance": balance},
        )
        return Outcome(Result.REFUSED, text, refused.code)
    except CreditRefused as refused:
        return Outcome(Result.REFUSED, refused.message, refused.code)
    text = Text(gettext_noop("%(credits)s credits; balance now %(balance)s."), {"credits": f"{credits:+d}", "balance": entry.balance_after})
    return Outcome(Result.DONE, text, "granted", {"ledger_entry": entry.pk})


class RecordsOnly:
    """Rows written by the credit services and never edited: staff may look, not touch."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class LedgerEntryInline(admin.TabularInline):
    model = LedgerEntry
    fields = ["created_at", "kind", "credits", "balance_after", "reserved_after", "task_id", "note", "created_by"]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False


@admin.register(Wallet)
class WalletAdmin(admin.ModelAdmin):
    list_display = ["user", "tier", "balance", "reserved", "ledger_check", "updated_at"]
    list_filter = ["tier"]
    search_fields = ["user__username", "user__email"]
    list_select_related = ["user"]
    fields = ["user", "tier", "balance", "reserved", "ledger_check", "created_at", "updated_at"]
    # The tier changes through the users page's action, which records who and why.
    readonly_fields = ["user", "tier", "balance", "reserved", "ledger_check", "created_at", "updated_at"]
    inlines = [LedgerEntryInline]
    actions = ["grant_to_selected"]

    @admin.display(description=gettext_lazy("ledger agrees"))
    def ledger_check(self, wallet):
        return _("yes") if ledger_totals(wallet) == (wallet.balance, wallet.reserved) else _("NO")

    def has_add_permission(self, request):
        return False  # wallets are made on first use, or by granting credits

    def get_urls(self):
        grant = path("grant/", self.admin_site.admin_view(self.grant_view), name="credits_wallet_grant")
        return [grant, *super().get_urls()]

    @admin.action(description=gettext_lazy("Grant credits to the selected wallets…"))
    def grant_to_selected(self, request, queryset):
        users = ",".join(str(user_id) for user_id in queryset.values_list("user_id", flat=True))
        return redirect(f"{reverse('admin:credits_wallet_grant')}?users={users}")

    def grant_view(self, request):
        if not self.has_change_permission(request):
            return redirect("admin:index")
        if request.method == "POST":
            form = GrantCreditsForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                entries = [
                    perform_staff_action(
                        actor=request.user,
                        action=Action.GRANT_CREDITS,
                        target=user,
                        reason=data["note"],
                        details={"credits": data["credits"]},
                        run=lambda entry, user=user: grant_outcome(user, data["credits"], data["note"], request.user),
                    )
                    for user in data["users"]
                ]
                report_outcomes(self, request, entries)
                return redirect("admin:credits_wallet_changelist")
        else:
            initial_users = [value for value in request.GET.get("users", "").split(",") if value.isdigit()]
            form = GrantCreditsForm(initial={"users": initial_users})
        context = {**self.admin_site.each_context(request), "form": form, "title": _("Grant credits"), "opts": self.model._meta}
        return TemplateResponse(request, "admin/credits/wallet/grant.html", context)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(RecordsOnly, admin.ModelAdmin):
    list_display = ["created_at", "user", "kind", "credits", "balance_after", "reserved_after", "task_link", "note", "created_by"]
    list_filter = ["kind", "created_at"]
    search_fields = ["wallet__user__username", "task__id", "note"]
    list_select_related = ["wallet__user", "created_by"]
    date_hierarchy = "created_at"

    @admin.display(description=gettext_lazy("user"), ordering="wallet__user__username")
    def user(self, entry):
        return entry.wallet.user

    @admin.display(description=gettext_lazy("task"))
    def task_link(self, entry):
        if entry.task_id is None:
            return "-"
        url = reverse("admin:generation_task_change", args=[entry.task_id])
        return format_html('<a href="{}">{}</a>', url, str(entry.task_id)[:8])


@admin.register(ProviderCost)
class ProviderCostAdmin(RecordsOnly, admin.ModelAdmin):
    list_display = ["recorded_at", "provider", "model_key", "outcome", "seconds", "amount_usd", "basis", "estimated", "task_id"]
    list_filter = ["provider", "model_key", "outcome", "estimated", "recorded_at"]

    def changelist_view(self, request, extra_context=None):
        # The spend figures above the list, from the same selector the reports use.
        spend = provider_spend()
        extra_context = {**(extra_context or {}), "spend": spend, "spend_total": spend_total(spend)}
        return super().changelist_view(request, extra_context=extra_context)
    search_fields = ["task__id", "model_key"]
    date_hierarchy = "recorded_at"
