"""/metrics: the monitoring figures in Prometheus' text format (prometheus-client).

The figures are read from the database at each scrape (operations.selectors, the
same as the admin's dashboard), so every web process answers the same whichever one
Prometheus reaches, and no process keeps counts of its own. Rates and timings cover
the last METRICS_WINDOW_SECONDS; spend covers the current UTC day.

Only addresses in METRICS_ALLOWED_NETWORKS may read it, or a caller that sends
`Authorization: Bearer <METRICS_TOKEN>` or the API token of a member of staff."""

from __future__ import annotations

import hmac
import ipaddress
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from prometheus_client.core import CollectorRegistry, GaugeMetricFamily
from prometheus_client.registry import Collector

from operations import selectors
from operations.alerts import RULES
from operations.models import ProcessKind
from videoplanet.client_address import client_address


def may_read(request: HttpRequest) -> bool:
    """From an allowed address, or with the metrics token or a staff member's API token."""
    address = client_address(request)
    if address:
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            parsed = None
        allowed = (ipaddress.ip_network(network, strict=False) for network in settings.METRICS_ALLOWED_NETWORKS)
        if parsed is not None and any(parsed in network for network in allowed):
            return True
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    credential = credential.strip()
    if not credential:
        return False
    if scheme.lower() == "bearer" and settings.METRICS_TOKEN:
        return hmac.compare_digest(credential.encode(), settings.METRICS_TOKEN.encode())
    if scheme.lower() == "token":
        from rest_framework.authtoken.models import Token

        token = Token.objects.select_related("user").filter(key=credential).first()
        return token is not None and token.user.is_active and token.user.is_staff
    return False


def _gauge(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"videoplanet_{name}", documentation, labels=labels)


class DatabaseCollector(Collector):
    def collect(self):
        now = timezone.now()
        window = settings.METRICS_WINDOW_SECONDS
        report = selectors.monitoring_report(start=now - timedelta(seconds=window), end=now)
        labels = ["provider", "group", "model"]
        requests = _gauge("requests", f"Requests (task attempts) made in the last {window} s.", labels)
        outcomes = _gauge("requests_finished", "Of those, by how they finished (or not yet).", [*labels, "outcome"])
        success = _gauge("success_ratio", "Completed over completed and failed, of those requests.", labels)
        errors = _gauge("errors", "Of those, failed ones by kind of error.", [*labels, "kind"])
        timings = {
            name: _gauge(f"{name}_seconds", f"{what}, of those requests, by quantile.", [*labels, "quantile"])
            for name, what in (
                ("queue_wait", "Waiting in the provider's queue (submitted to started)"),
                ("processing", "The provider making the video (started to result ready)"),
                ("download", "Bringing the video home (result ready to stored)"),
            )
        }
        for row in report.models:
            key = [row.provider, row.group, row.model_key]
            requests.add_metric(key, row.requests)
            for outcome in ("completed", "failed", "cancelled", "unfinished"):
                outcomes.add_metric([*key, outcome], getattr(row, outcome))
            if row.success_rate is not None:
                success.add_metric(key, row.success_rate)
            for kind, count in sorted(row.errors.items()):
                errors.add_metric([*key, kind], count)
            for name, gauge in timings.items():
                timing = getattr(row, name)
                for quantile, value in (("0.5", timing.p50), ("0.95", timing.p95)):
                    if value is not None:
                        gauge.add_metric([*key, quantile], value)
        yield from (requests, outcomes, success, errors, *timings.values())

        spend = _gauge("spend_usd_today", "Provider spend recorded today (UTC), in US dollars.", labels)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        for row in selectors.monitoring_report(start=midnight, end=now + timedelta(seconds=1)).models:
            spend.add_metric([row.provider, row.group, row.model_key], float(row.spend_usd))
        yield spend

        yield GaugeMetricFamily("videoplanet_backlog_tasks", "Tasks not finished.", value=selectors.backlog())
        yield GaugeMetricFamily(
            "videoplanet_oldest_waiting_seconds", "Age of the oldest task not yet running at the provider.",
            value=selectors.oldest_waiting_seconds(now=now),
        )
        open_rules = {incident.rule for incident in selectors.open_incidents()}
        alerts = _gauge("alert_open", "1 while the alert's incident is open.", ["rule"])
        for rule in RULES:
            alerts.add_metric([rule.key], 1 if rule.key in open_rules else 0)
        yield alerts
        breakers = _gauge("breaker_open", "1 for each open circuit breaker.", ["name"])
        for name in selectors.open_breakers():
            breakers.add_metric([name], 1)
        yield breakers
        beats = _gauge("heartbeat_age_seconds", "Seconds since each background process's last sign of life.", ["kind", "process"])
        for kind in ProcessKind:
            for beat in selectors.last_beats(kind=kind):
                beats.add_metric([kind.value, beat.name], (now - beat.beat_at).total_seconds())
        yield beats


def registry() -> CollectorRegistry:
    """A registry of our database figures alone (not this process's own metrics, which
    would differ from process to process)."""
    collected = CollectorRegistry(auto_describe=False)
    collected.register(DatabaseCollector())
    return collected
