"""The API's shapes. Input is checked here for its JSON types only; what a valid
request is (models, durations, styles, ratios, counts, images) is decided by the
same form the Generate page uses, so no rule lives in two places."""

from __future__ import annotations

from collections.abc import Mapping

from django.http import QueryDict
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from generation.catalog import MODELS
from generation.forms import ALL_DURATIONS, ALL_RATIOS, ALL_RESOLUTIONS, GenerationForm
from generation.models import Job, Task, TaskStatus, Waiting
from generation.planning import MAX_VIDEOS_PER_JOB, JobMode
from generation.selectors import JobProgress
from generation.styles import STYLES
from history.models import HistoryItem
from projects.selectors import own_project

MODEL_KEYS = ", ".join(m.key for m in MODELS)
IGNORED_FIELDS = {"csrfmiddlewaretoken"}  # a browser form's, not a setting
STYLE_KEYS = ", ".join(s.key for s in STYLES)


class TextField(serializers.CharField):
    """A string and nothing else: DRF's CharField would turn 123 into "123", and a
    prompt that is a number is a client's mistake worth telling it about."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class JobCreateSerializer(serializers.Serializer):
    """Start a job. Send JSON, or multipart/form-data when including an image."""

    # Blank is let through to the form, which says what is missing in its own words.
    prompt = TextField(allow_blank=True, help_text="What the video shows; up to 1000 characters with the style added.")
    model = TextField(allow_blank=True, help_text=f"One of: {MODEL_KEYS}.")
    duration = serializers.IntegerField(
        required=False, help_text="Seconds, one of the model's durations (GET /api/models/). Default: the model's."
    )
    resolution = TextField(
        required=False, allow_blank=True,
        help_text=f"One of the model's resolutions ({', '.join(ALL_RESOLUTIONS)} across models). Default: the model's.",
    )
    audio = serializers.BooleanField(
        required=False, allow_null=True, help_text="Generate sound, for models with a sound switch. Default: the model's."
    )
    styles = serializers.ListField(
        child=TextField(), required=False, help_text=f"Style presets, any of: {STYLE_KEYS}. Default: none."
    )
    aspect_ratios = serializers.ListField(
        child=TextField(),
        required=False,
        help_text=f"Any of {', '.join(ALL_RATIOS)} that the model supports. Default: the model's first.",
    )
    mode = TextField(
        required=False, allow_blank=True, help_text="single: every style × ratio combination once (default); batch: exactly `count` videos."
    )
    count = serializers.IntegerField(required=False, help_text=f"Videos to make in batch mode, 1 to {MAX_VIDEOS_PER_JOB}.")
    seed = serializers.IntegerField(required=False, allow_null=True, help_text="0 to 2147483647, for models that take one.")
    negative_prompt = TextField(required=False, allow_blank=True, help_text="What to avoid.")
    image = serializers.ImageField(required=False, help_text="Input image for image-to-video models (multipart only).")
    end_image = serializers.ImageField(required=False, help_text="Last-frame image, for models that take one (multipart only).")
    project = serializers.UUIDField(
        required=False, allow_null=True, help_text="One of your projects: the new videos fill its first free slots."
    )
    allow_fallback = serializers.BooleanField(
        required=False,
        default=True,
        help_text="If the model is unavailable or fails for a provider reason, make the video with the model's fallback "
        "(GET /api/models/), paying the cheaper of the two. Default: true.",
    )

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({"non_field_errors": [_("Send a JSON object (or a form).")]})
        # Nothing sent is dropped without a word: a misspelt or unsupported field is refused.
        unknown = sorted(set(data) - set(self.fields) - IGNORED_FIELDS)
        if unknown:
            raise serializers.ValidationError(
                {name: [_("Unknown field. Jobs take: %(fields)s.") % {"fields": ", ".join(self.fields)}] for name in unknown}
            )
        errors = {}
        for name, field in self.fields.items():
            if name in ("image", "end_image") or name not in data or data.get(name) is None:
                continue
            value = data.getlist(name) if isinstance(data, QueryDict) and isinstance(field, serializers.ListField) else data.get(name)
            try:
                field.run_validation(value)
            except serializers.ValidationError as error:
                errors[name] = error.detail
        if errors:
            raise serializers.ValidationError(errors)
        request = self.context["request"]
        form = GenerationForm(data=_form_data(data), files=request.FILES)
        if not form.is_valid():
            raise serializers.ValidationError(
                {("non_field_errors" if key == "__all__" else key): messages for key, messages in form.errors.items()}
            )
        kwargs = form.generation_kwargs()
        if data.get("project"):
            kwargs["project"] = own_project(request.user, data.get("project"))
            if kwargs["project"] is None:
                raise serializers.ValidationError({"project": [_("Not one of your projects.")]})
        return kwargs


def _form_data(data: Mapping):
    """JSON nulls mean "not given" to the form; JSON booleans become its sound choice;
    a fallback is allowed unless the request says otherwise (the form reads a missing
    box as unticked)."""
    if isinstance(data, QueryDict):
        data = data.copy()
        if "audio" in data:
            data["audio"] = {"true": "on", "false": "off", "1": "on", "0": "off"}.get(data["audio"].lower(), data["audio"])
        data["allow_fallback"] = _allowed(data.get("allow_fallback"))
        return data
    values = {key: value for key, value in data.items() if value is not None}
    if isinstance(values.get("audio"), bool):
        values["audio"] = "on" if values["audio"] else "off"
    values["allow_fallback"] = _allowed(values.get("allow_fallback"))
    return values


def _allowed(value) -> str:
    """The API's fallback choice (checked by its BooleanField: "no" is no) as the form's
    box: "on" ticked, "" not."""
    if value in (None, ""):
        return "on"
    return "on" if serializers.BooleanField().to_internal_value(value) else ""


class ResultSerializer(serializers.ModelSerializer):
    video_url = serializers.SerializerMethodField()
    poster_url = serializers.SerializerMethodField()

    class Meta:
        model = HistoryItem
        fields = ["video_url", "poster_url", "content_type", "duration_seconds", "width", "height", "size_bytes", "sha256"]

    def _absolute(self, path: str) -> str | None:
        # A checked view, not the file: fetch it with the same Authorization header.
        if not path:
            return None
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_video_url(self, item: HistoryItem) -> str | None:
        return self._absolute(item.video_url)

    def get_poster_url(self, item: HistoryItem) -> str | None:
        return self._absolute(item.poster_url)


class ModelOptionsSerializer(serializers.Serializer):
    durations = serializers.ListField(child=serializers.IntegerField(), help_text="Seconds.")
    default_duration = serializers.IntegerField()
    aspect_ratios = serializers.ListField(child=serializers.CharField(), help_text="Empty: the model decides (the image's shape, or its own).")
    default_aspect_ratio = serializers.CharField(allow_blank=True)
    resolutions = serializers.ListField(child=serializers.CharField(), help_text="Empty: no choice.")
    default_resolution = serializers.CharField(allow_blank=True)
    audio = serializers.BooleanField(help_text="Whether the model has a sound switch.")
    default_audio = serializers.BooleanField()
    seed = serializers.BooleanField(help_text="Whether the model takes a seed.")
    negative_prompt = serializers.BooleanField(help_text="Whether the model takes a negative prompt.")
    image = serializers.ChoiceField(choices=["required", "none"], help_text="Whether an input image is needed.")
    image_field = serializers.CharField(allow_blank=True, help_text="The endpoint's name for the image.")
    end_image = serializers.BooleanField(help_text="Whether a last-frame image may be sent.")
    end_image_field = serializers.CharField(allow_blank=True)
    only_over_seconds = serializers.ListField(
        child=serializers.DictField(),
        help_text='Choices fal refuses together: a video longer than `seconds` only with these values, '
                  'e.g. [{"seconds": 10, "only": {"resolution": ["1080p"]}}].',
    )


class ModelPriceSerializer(serializers.Serializer):
    text = serializers.CharField(allow_null=True, help_text="fal's published price, in fal's words.")
    published = serializers.BooleanField(help_text="False: an estimate; the text says from what.")
    source = serializers.CharField(allow_blank=True)


class CatalogModelSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()
    endpoint = serializers.CharField(help_text="The fal endpoint id.")
    family = serializers.CharField()
    kind = serializers.ChoiceField(choices=["text-to-video", "image-to-video"])
    options = ModelOptionsSerializer()
    credits_per_video = serializers.IntegerField()
    fallback = serializers.CharField(
        allow_null=True, help_text="The model a video may be made with when this one is unavailable or fails (if its job allows)."
    )
    price = ModelPriceSerializer()


class TaskSerializer(serializers.ModelSerializer):
    job = serializers.UUIDField(source="job_id", read_only=True)
    retried_from = serializers.UUIDField(source="retried_from_id", read_only=True, allow_null=True)
    status = serializers.ChoiceField(choices=TaskStatus.choices, read_only=True)
    result = serializers.SerializerMethodField(help_text="The video, once the task has completed.")
    waiting = serializers.ChoiceField(
        choices=Waiting.choices, read_only=True,
        help_text='Why a pending task is not sent yet: "slot" (its provider group has no free slot), "breaker" '
        '(the model is unavailable; it starts when the model is back); "" when not waiting.',
    )
    made_with = serializers.SerializerMethodField(
        help_text="The fallback model (a key of GET /api/models/) this attempt is made with instead of the job's model "
        "because that one was unavailable or failed; null when made with the job's own model."
    )

    class Meta:
        model = Task
        fields = [
            "id", "job", "status", "waiting", "variant_index", "style", "aspect_ratio", "seed", "queue_position", "progress",
            "last_log", "error_kind", "error_message", "retried_from", "created_at", "started_at", "finished_at", "result",
            "made_with", "endpoint", "arguments",
        ]
        extra_kwargs = {"arguments": {"help_text": "What this attempt sends to the model (input images are added at submit)."}}

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_made_with(self, task: Task) -> str | None:
        return task.made_with or None

    @extend_schema_field(ResultSerializer(allow_null=True))
    def get_result(self, task: Task):
        item = getattr(task, "history_item", None)
        if task.status != TaskStatus.COMPLETED or item is None or not item.video:
            return None
        return ResultSerializer(item, context=self.context).data


class JobProgressSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    active = serializers.IntegerField()
    is_finished = serializers.BooleanField()
    label = serializers.CharField(help_text='e.g. "3 of 6 done, 1 failed"')


class JobSettingsSerializer(serializers.Serializer):
    duration = serializers.IntegerField(allow_null=True)
    resolution = serializers.CharField(allow_blank=True)
    audio = serializers.BooleanField(allow_null=True)
    styles = serializers.ListField(child=serializers.CharField())
    aspect_ratios = serializers.ListField(child=serializers.CharField())
    mode = serializers.ChoiceField(choices=JobMode.choices)
    count = serializers.IntegerField()
    negative_prompt = serializers.CharField(allow_blank=True)
    seed = serializers.IntegerField(allow_null=True)


class JobSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="model_key")
    model_label = serializers.CharField(source="model_spec.label")
    settings = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    tasks = serializers.SerializerMethodField(help_text="The current attempt of each video, in planned order.")

    class Meta:
        model = Job
        fields = ["id", "model", "model_label", "prompt", "settings", "allow_fallback", "created_at", "progress", "tasks"]
        extra_kwargs = {"allow_fallback": {"help_text": "Whether its videos may be made with the model's fallback."}}

    def _tasks(self, job: Job) -> list[Task]:
        tasks = getattr(job, "current_tasks", None)
        if tasks is None:  # not prefetched (a job just made)
            tasks = list(job.tasks.current().select_related("history_item").order_by("variant_index"))
            job.current_tasks = tasks
        return tasks

    @extend_schema_field(JobSettingsSerializer)
    def get_settings(self, job: Job) -> dict:
        values = {**job.form_settings(), "audio": job.params.get("audio")}
        return JobSettingsSerializer({key: values[key] for key in JobSettingsSerializer().fields}).data

    @extend_schema_field(JobProgressSerializer)
    def get_progress(self, job: Job) -> dict:
        return JobProgressSerializer(JobProgress.of(task.status for task in self._tasks(job))).data

    @extend_schema_field(TaskSerializer(many=True))
    def get_tasks(self, job: Job) -> list:
        return TaskSerializer(self._tasks(job), many=True, context=self.context).data


class JobCancellationSerializer(serializers.Serializer):
    message = serializers.CharField(help_text="What happened, in a sentence.")
    cancelled = serializers.IntegerField()
    asked_provider = serializers.IntegerField(help_text="Cancelled videos that had reached the provider, which was asked to stop.")
    saving = serializers.IntegerField(help_text="Videos being saved: they cannot be stopped and will complete.")
    finished = serializers.IntegerField()
    credits_released = serializers.IntegerField()
    job = JobSerializer()


class HistoryItemSerializer(serializers.ModelSerializer):
    job = serializers.UUIDField(source="task.job_id", read_only=True)
    prompt = serializers.CharField(source="task.job.prompt")
    model = serializers.CharField(source="task.job.model_key")
    task = TaskSerializer()

    class Meta:
        model = HistoryItem
        fields = ["id", "created_at", "job", "prompt", "model", "task"]


class HistoryFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=TaskStatus.choices, required=False, help_text="Only cards in this status.")
    model = serializers.ChoiceField(choices=[(m.key, m.label) for m in MODELS], required=False, help_text="Only this model.")


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    tier = serializers.CharField()
    balance = serializers.IntegerField(help_text="Credits you can spend now.")
    reserved = serializers.IntegerField(help_text="Credits held by videos being made.")
    daily_limit = serializers.IntegerField(help_text="Videos you may start per day.")
    used_today = serializers.IntegerField(help_text="Videos started today (failed and cancelled ones do not count).")
    remaining_today = serializers.IntegerField()


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text='Send as the header "Authorization: Token <token>".')
