from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from credits.forms import GrantCreditsForm
from credits.models import LedgerEntry, ProviderCost, Wallet
from credits.selectors import ledger_totals, provider_spend, spend_total
from credits.services import CreditRefused, grant_credits


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
    readonly_fields = ["user", "balance", "reserved", "ledger_check", "created_at", "updated_at"]
    inlines = [LedgerEntryInline]
    actions = ["grant_to_selected"]

    @admin.display(description="ledger agrees")
    def ledger_check(self, wallet):
        return "yes" if ledger_totals(wallet) == (wallet.balance, wallet.reserved) else "NO"

    def has_add_permission(self, request):
        return False  # wallets are made on first use, or by granting credits

    def get_urls(self):
        grant = path("grant/", self.admin_site.admin_view(self.grant_view), name="credits_wallet_grant")
        return [grant, *super().get_urls()]

    @admin.action(description="Grant credits to the selected wallets…")
    def grant_to_selected(self, request, queryset):
        users = ",".join(str(user_id) for user_id in queryset.values_list("user_id", flat=True))
        return redirect(f"{reverse('admin:credits_wallet_grant')}?users={users}")

    def grant_view(self, request):
        if not self.has_change_permission(request):
            return redirect("admin:index")
        if request.method == "POST":
            form = GrantCreditsForm(request.POST)
            if form.is_valid():
                for user in form.cleaned_data["users"]:
                    try:
                        grant_credits(
                            user=user, credits=form.cleaned_data["credits"], note=form.cleaned_data["note"], granted_by=request.user
                        )
                        self.message_user(request, f"{user}: {form.cleaned_data['credits']:+d} credits.", messages.SUCCESS)
                    except CreditRefused as refused:
                        self.message_user(request, refused.message, messages.ERROR)
                return redirect("admin:credits_wallet_changelist")
        else:
            initial_users = [value for value in request.GET.get("users", "").split(",") if value.isdigit()]
            form = GrantCreditsForm(initial={"users": initial_users})
        context = {**self.admin_site.each_context(request), "form": form, "title": "Grant credits", "opts": self.model._meta}
        return TemplateResponse(request, "admin/credits/wallet/grant.html", context)


@admin.register(LedgerEntry)
class LedgerEntryAdmin(RecordsOnly, admin.ModelAdmin):
    list_display = ["created_at", "user", "kind", "credits", "balance_after", "reserved_after", "task_link", "note", "created_by"]
    list_filter = ["kind", "created_at"]
    search_fields = ["wallet__user__username", "task__id", "note"]
    list_select_related = ["wallet__user", "created_by"]
    date_hierarchy = "created_at"

    @admin.display(description="user", ordering="wallet__user__username")
    def user(self, entry):
        return entry.wallet.user

    @admin.display(description="task")
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
