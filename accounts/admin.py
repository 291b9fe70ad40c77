"""The users page for staff: Django's user admin with each user's tier, credits,
today's usage, suspension and recent jobs, and the actions that change them (each
through its service, each recorded in the audit log)."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts.forms import ChangeTierForm, GrantForm
from accounts.models import Account
from accounts.selectors import account_of, recent_jobs, with_account_facts
from accounts.services import reinstate_user, suspend_user
from audit.admin import StaffActionsShown
from audit.admin_actions import staff_action
from audit.models import Action, Result
from audit.services import Outcome
from credits.models import Tier
from credits.selectors import credit_summary
from credits.admin import grant_outcome
from credits.services import set_tier
from generation.models import FINISHED, Task

User = get_user_model()


def _set_tier(user, data) -> Outcome:
    before = credit_summary(user).tier
    if before == data["tier"]:
        return Outcome(Result.UNCHANGED, f"Already on {Tier(before).label}.", "unchanged")
    set_tier(user=user, tier=data["tier"])
    return Outcome(Result.DONE, f"Tier {Tier(before).label} → {Tier(data['tier']).label}.", "tier_changed")


def _suspend(user, data, actor) -> Outcome:
    if not suspend_user(user=user, by=actor, reason=data["reason"]):
        return Outcome(Result.UNCHANGED, "Already suspended.", "unchanged")
    running = Task.objects.filter(job__user=user).exclude(status__in=FINISHED).count()
    return Outcome(Result.DONE, f"Suspended: no new videos; {running} under way will finish.", "suspended")


def _reinstate(user) -> Outcome:
    if not reinstate_user(user=user):
        return Outcome(Result.UNCHANGED, "Was not suspended.", "unchanged")
    return Outcome(Result.DONE, "Reinstated: may start videos again.", "reinstated")


class SuspendedFilter(admin.SimpleListFilter):
    title = "suspended"
    parameter_name = "suspended"

    def lookups(self, request, model_admin):
        return [("yes", "Suspended"), ("no", "Not suspended")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(account__suspended_at__isnull=False)
        if self.value() == "no":
            return queryset.exclude(account__suspended_at__isnull=False)
        return queryset


admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(StaffActionsShown, UserAdmin):
    list_display = ["username", "email", "tier", "balance", "used_today", "suspended", "is_staff", "last_login"]
    list_filter = [SuspendedFilter, "wallet__tier", *UserAdmin.list_filter]
    readonly_fields = ["account_summary", "recent_jobs", "staff_actions"]
    actions = ["change_tier", "grant_or_take_credits", "suspend_selected", "reinstate_selected"]

    change_tier = staff_action(
        action=Action.SET_TIER,
        description="Change the tier of selected users",
        form_class=ChangeTierForm,
        details=lambda data: {"tier": data["tier"]},
        run=lambda user, data, actor, entry: _set_tier(user, data),
    )
    grant_or_take_credits = staff_action(
        action=Action.GRANT_CREDITS,
        description="Grant or take credits from selected users",
        form_class=GrantForm,
        explanation="Each user's ledger gets an entry with your reason as its note.",
        details=lambda data: {"credits": data["credits"]},
        run=lambda user, data, actor, entry: grant_outcome(user, data["credits"], data["reason"], actor),
    )
    suspend_selected = staff_action(
        action=Action.SUSPEND_USER,
        description="Suspend selected users",
        explanation="A suspended user can sign in and see their videos but cannot start new ones; videos under way finish.",
        run=lambda user, data, actor, entry: _suspend(user, data, actor),
    )
    reinstate_selected = staff_action(
        action=Action.REINSTATE_USER,
        description="Reinstate selected suspended users",
        run=lambda user, data, actor, entry: _reinstate(user),
    )

    def get_queryset(self, request):
        return with_account_facts(super().get_queryset(request))

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return [("Credits, usage and jobs", {"fields": ["account_summary", "recent_jobs", "staff_actions"]}), *fieldsets]

    @admin.display(description="tier", ordering="wallet__tier")
    def tier(self, user):
        return credit_summary_label(user)

    @admin.display(description="balance", ordering="wallet__balance")
    def balance(self, user):
        wallet = getattr(user, "wallet", None)
        return wallet.balance if wallet else "-"

    @admin.display(description="videos today", ordering="videos_today")
    def used_today(self, user):
        return user.videos_today

    @admin.display(description="suspended", boolean=True)
    def suspended(self, user):
        account = account_of(user)
        return bool(account and account.is_suspended)

    @admin.display(description="account")
    def account_summary(self, user):
        summary = credit_summary(user)
        wallet_link = ""
        if getattr(user, "wallet", None) is not None:
            url = reverse("admin:credits_wallet_change", args=[user.wallet.pk])
            wallet_link = format_html(' (<a href="{}">ledger</a>)', url)
        account = account_of(user)
        if account and account.is_suspended:
            status = format_html(
                "<strong>suspended</strong> since {} by {}: {}", account.suspended_at, account.suspended_by or "-", account.suspension_reason
            )
        else:
            status = "active"
        return format_html(
            "Tier <strong>{}</strong> · balance <strong>{}</strong> credits, {} held by videos under way{} · "
            "today <strong>{} of {}</strong> videos · {}",
            summary.tier_label, summary.balance, summary.reserved, wallet_link,
            summary.used_today, summary.daily_limit, status,
        )

    @admin.display(description="recent jobs")
    def recent_jobs(self, user):
        jobs = recent_jobs(user)
        if not jobs:
            return "none yet"
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:generation_job_change", args=[job.pk]),
                    job.created_at.strftime("%Y-%m-%d %H:%M"),
                    job.model_key,
                    job.prompt[:60],
                    ", ".join(task.status for task in job.tasks.all()),
                )
                for job in jobs
            ),
        )
        return format_html("<table><tr><th>started</th><th>model</th><th>prompt</th><th>tasks</th></tr>{}</table>", rows)


def credit_summary_label(user) -> str:
    wallet = getattr(user, "wallet", None)
    tier = wallet.tier if wallet else Tier.FREE
    return Tier(tier).label if tier in Tier.values else tier


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    """Read-only: suspensions change through the users page's actions."""

    list_display = ["user", "suspended_at", "suspended_by", "suspension_reason"]
    readonly_fields = ["user", "suspended_at", "suspended_by", "suspension_reason"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
