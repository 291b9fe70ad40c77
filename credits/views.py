"""The user's own Credits page: their balance, plan and ledger, newest first."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from credits.selectors import credit_summary, ledger_of

LEDGER_PAGE_SIZE = 25


@login_required
def ledger(request: HttpRequest) -> HttpResponse:
    page = Paginator(ledger_of(request.user), LEDGER_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "credits/ledger.html", {"page": page, "credits": credit_summary(request.user)})
