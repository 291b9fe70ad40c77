from datetime import UTC, datetime, time, timedelta

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from operations import metrics
from operations.charts import bar_chart
from operations.forms import PeriodForm
from operations.selectors import monitoring_report


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics.may_read(request):
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(generate_latest(metrics.registry()), content_type=CONTENT_TYPE_LATEST)


def monitoring(request: HttpRequest) -> HttpResponse:
    """The admin's monitoring page (staff only: wrapped by admin.site.admin_view)."""
    form = PeriodForm(request.GET) if request.GET else PeriodForm.default()
    context = {**admin.site.each_context(request), "title": _("Monitoring"), "form": form}
    if form.is_valid():
        data = form.cleaned_data
        report = monitoring_report(
            start=datetime.combine(data["start"], time.min, tzinfo=UTC),
            end=datetime.combine(data["end"] + timedelta(days=1), time.min, tzinfo=UTC),
            group=data["group"],
            model_key=data["model"],
        )
        context.update(
            report=report,
            videos_chart=bar_chart([(d.day.isoformat(), d.videos) for d in report.days], title=_("Videos made per day")),
            spend_chart=bar_chart(
                [(d.day.isoformat(), float(d.spend_usd)) for d in report.days], title=_("Spend per day"), unit=" USD"
            ),
        )
    return render(request, "admin/operations/monitoring.html", context)
