"""Reads about users for staff: their credits, today's usage and recent jobs."""

from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet

from credits.selectors import counts_today
from accounts.models import Account
from generation.models import Job, Task


def with_account_facts(users: QuerySet) -> QuerySet:
    """Users with their wallet and account joined and `videos_today` counted, in one
    query for a whole page of them."""
    return users.select_related("wallet", "account").annotate(
        videos_today=Count("jobs__tasks", filter=counts_today("jobs__tasks__"), distinct=True)
    )


def recent_jobs(user, *, limit: int = 10) -> list[Job]:
    tasks = Prefetch("tasks", queryset=Task.objects.order_by("variant_index", "created_at"))
    return list(Job.objects.filter(user=user).order_by("-created_at").prefetch_related(tasks)[:limit])


def account_of(user) -> Account | None:
    """The user's account record (None until staff first act on them)."""
    try:
        return user.account
    except Account.DoesNotExist:
        return None
