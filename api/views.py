"""The JSON API: thin callers of the same services and selectors as the pages."""

from __future__ import annotations

from dataclasses import asdict

from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.lockout import MESSAGE as LOCKOUT_MESSAGE
from api.errors import ApiError, ErrorSerializer, conflict, credit_error
from api.serializers import (
    CatalogModelSerializer,
    HistoryFilterSerializer,
    HistoryItemSerializer,
    JobCancellationSerializer,
    JobCreateSerializer,
    JobSerializer,
    MeSerializer,
    TaskSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)
from api.services import token_for
from api.throttles import JobCreationThrottle, TokenThrottle
from credits.selectors import credit_summary
from credits.services import CreditRefused
from generation.catalog import MODELS, describe
from generation.models import Job, Task
from generation.request_keys import RequestKeyReused
from generation.rules import NON_FIELD, RequestRefused
from generation.selectors import jobs_for, jobs_with_tasks
from generation.services import cancel_job, retry_task, start_generation
from generation.transitions import TransitionRefused
from history.models import HistoryItem
from history.selectors import history_for


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


NOT_FOUND = {404: _error("Not found, or not yours.")}
NO_SUCH_PAGE = {404: _error("No such page (code not_found).")}
SPENDING_ERRORS = {
    402: _error("Not enough credits (code insufficient_credits)."),
    403: _error("Daily video limit reached (code daily_limit_reached), or the account is suspended (code account_suspended)."),
    429: _error("Too many requests (code throttled); see the Retry-After header."),
}


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
    description="Any string up to 255 characters, unique per request you mean to make (a UUID, say).",
)

# Ids are UUIDs; anything else is not a route at all (a JSON 404 from the error handler).
UUID_PATTERN = "[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your jobs, newest first, each with the current attempt of each of its videos."""

    serializer_class = JobSerializer
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Job.objects.none()
        return jobs_with_tasks(jobs_for(self.request.user))

    def get_serializer_class(self):
        return JobCreateSerializer if self.action == "create" else JobSerializer

    def get_throttles(self):
        return [JobCreationThrottle()] if self.action == "create" else super().get_throttles()

    @extend_schema(
        request=JobCreateSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: JobSerializer,
            400: _error("Invalid input; see `fields`."),
            **SPENDING_ERRORS,
            422: _error("The Idempotency-Key was already used for a different request (code idempotency_key_reused)."),
        },
    )
    def create(self, request):
        """Start a job: the same rules, credits and daily limit as the Generate page.
        Send an `Idempotency-Key` header to make a resent request safe: the same key
        with the same request answers with the job it made (header
        `Idempotent-Replayed: true`), never a second job."""
        serializer = JobCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        try:
            kwargs = {**serializer.validated_data, "request_key": request.headers.get("Idempotency-Key", "").strip()}
            job = start_generation(user=request.user, **kwargs)
        except RequestKeyReused as reused:
            raise ApiError(
                status_code=status.HTTP_422_UNPROCESSABLE_ENTITY, code="idempotency_key_reused", message=reused.message
            ) from reused
        except CreditRefused as refused:
            raise credit_error(refused) from refused
        except RequestRefused as refused:  # the serializer checks first; this is the backstop
            raise ValidationError(
                {("non_field_errors" if key == NON_FIELD else key): value for key, value in refused.errors.items()}
            ) from refused
        headers = {"Idempotent-Replayed": "true"} if job.replayed else {}
        body = JobSerializer(job, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED, headers=headers)

    @extend_schema(responses={200: JobSerializer(many=True), **NO_SUCH_PAGE})
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: JobSerializer, **NOT_FOUND})
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: JobCancellationSerializer, **NOT_FOUND})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel every unfinished video of the job; their credits come back. A video
        being saved cannot be stopped and completes."""
        job = self.get_object()
        result = cancel_job(job=job)
        job = self.get_queryset().get(pk=job.pk)
        body = {**asdict(result), "message": result.message, "job": job}
        return Response(JobCancellationSerializer(body, context=self.get_serializer_context()).data)


class TaskViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """One video's attempt: its status, progress, error and result."""

    serializer_class = TaskSerializer
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Task.objects.none()
        return Task.objects.filter(job__user=self.request.user).select_related("history_item")

    def get_throttles(self):
        return [JobCreationThrottle()] if self.action == "retry" else super().get_throttles()

    @extend_schema(responses={200: TaskSerializer, **NOT_FOUND})
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=None,
        responses={
            201: TaskSerializer,
            **NOT_FOUND,
            409: _error("Not failed or cancelled, or already retried (code not_retryable)."),
            **SPENDING_ERRORS,
        },
    )
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """Try a failed or cancelled video again, as a new attempt that holds its own credits."""
        task = self.get_object()
        try:
            new = retry_task(task=task)
        except TransitionRefused:
            raise conflict(
                "not_retryable", _("Only a failed or cancelled task can be retried, once; retry its newest attempt.")
            ) from None
        except CreditRefused as refused:
            raise credit_error(refused) from refused
        new = self.get_queryset().get(pk=new.pk)
        return Response(TaskSerializer(new, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED)


class HistoryViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Your gallery, newest first: one item per video, with its current attempt."""

    serializer_class = HistoryItemSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return HistoryItem.objects.none()
        filters = HistoryFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return history_for(
            self.request.user,
            status=filters.validated_data.get("status", ""),
            model_key=filters.validated_data.get("model", ""),
        )

    @extend_schema(
        parameters=[HistoryFilterSerializer],
        responses={200: HistoryItemSerializer(many=True), 400: _error("Bad filter."), **NO_SUCH_PAGE},
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


class ModelsView(APIView):
    """The models you can choose, each with its own options (durations, aspect ratios,
    resolutions, sound, seed, negative prompt, images), defaults and price."""

    @extend_schema(responses={200: CatalogModelSerializer(many=True)})
    def get(self, request):
        return Response(CatalogModelSerializer([describe(spec) for spec in MODELS], many=True).data)


class MeView(APIView):
    """Your account: credits and what is left of today's limit."""

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        summary = credit_summary(request.user)
        body = {**asdict(summary), "remaining_today": summary.remaining_today, "username": request.user.get_username()}
        return Response(MeSerializer(body).data)


class TokenView(APIView):
    """Exchange a username and password for an API token (the same token each time)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [TokenThrottle]

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: TokenSerializer,
            400: _error("Wrong username or password."),
            429: _error("Too many attempts from this address (code throttled), or too many failed logins for this "
                        "account or address (code locked_out)."),
        },
        auth=[],
    )
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # Django's own request, not REST framework's wrapper: django-axes records the
        # failure (and flags a lockout) on it, and its middleware answers the lockout.
        django_request = request._request
        user = authenticate(django_request, **serializer.validated_data)
        if user is None:
            if getattr(django_request, "axes_locked_out", False):
                raise ApiError(status_code=429, code="locked_out", message=LOCKOUT_MESSAGE)
            raise ValidationError({"non_field_errors": [_("Unable to log in with provided credentials.")]})
        return Response(TokenSerializer({"token": token_for(user=user)}).data)
