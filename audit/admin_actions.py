"""Admin actions that run a service per selected object, each recorded in the audit
log. The first click shows the selection and asks why (and whatever else the action
needs); the confirmation runs the action and reports the outcome per object."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.utils.translation import ngettext

from audit.forms import ReasonForm
from audit.models import Action, AuditEntry, Result
from audit.services import Outcome, perform_staff_action

MESSAGE_LEVELS = {
    Result.DONE: messages.SUCCESS,
    Result.PENDING: messages.INFO,
    Result.UNCHANGED: messages.INFO,
    Result.REFUSED: messages.WARNING,
    Result.FAILED: messages.ERROR,
}
# More objects than this get one summary line instead of a message each.
MAX_MESSAGES = 25

# run(obj, cleaned_data, actor, entry) -> Outcome
Runner = Callable[[object, dict, object, AuditEntry], Outcome]


def staff_action(
    *,
    action: Action,
    description: str,
    run: Runner,
    form_class: type[ReasonForm] = ReasonForm,
    explanation: str = "",
    details: Callable[[dict], dict] | None = None,
):
    """Make an admin action (for `ModelAdmin.actions`) that performs `run` on each
    selected object through `perform_staff_action`."""

    def admin_action(modeladmin, request, queryset):
        form = form_class(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            data = form.cleaned_data
            entries = [
                perform_staff_action(
                    actor=request.user,
                    action=action,
                    target=obj,
                    reason=data["reason"],
                    details=details(data) if details else None,
                    run=lambda entry, obj=obj: run(obj, data, request.user, entry),
                )
                for obj in queryset
            ]
            report_outcomes(modeladmin, request, entries)
            return None  # back to the list, with the messages
        opts = modeladmin.model._meta
        context = {
            **modeladmin.admin_site.each_context(request),
            "title": description,
            "explanation": explanation,
            "objects": list(queryset[:200]),
            "count": queryset.count(),
            "form": form,
            # What the admin needs to route the confirmation back to this action, from
            # the list or from one object's page (whose action fields carry a prefix).
            "carried": [
                (name, value)
                for name in request.POST
                if name not in ("csrfmiddlewaretoken", "apply") and name not in form.fields
                for value in request.POST.getlist(name)
            ],
            "opts": opts,
            "app_label": opts.app_label,
        }
        return TemplateResponse(request, "admin/audit/confirm_action.html", context)

    admin_action.__name__ = action.value
    locations = [admin.ActionLocation.CHANGE_LIST, admin.ActionLocation.CHANGE_FORM]
    return admin.action(description=description, location=locations)(admin_action)


def report_outcomes(modeladmin, request, entries: list[AuditEntry]) -> None:
    if len(entries) <= MAX_MESSAGES:
        for entry in entries:
            modeladmin.message_user(request, f"{entry.target_label}: {entry.shown_message}", MESSAGE_LEVELS[entry.result])
        return
    counts: dict[str, int] = {}
    for entry in entries:
        label = str(Result(entry.result).label)
        counts[label] = counts.get(label, 0) + 1
    summary = ", ".join(f"{label}: {count}" for label, count in counts.items())
    text = ngettext(
        "%(count)s object. %(summary)s. Each outcome is in the audit log.",
        "%(count)s objects. %(summary)s. Each outcome is in the audit log.",
        len(entries),
    ) % {"count": len(entries), "summary": summary}
    modeladmin.message_user(request, text, messages.INFO)
