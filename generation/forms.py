from django import forms
from django.conf import settings
from django.utils.translation import gettext, gettext_lazy as _
from PIL import Image, UnidentifiedImageError

from generation.catalog import DEFAULT_MODEL_KEY, MODELS, PROMPT_MAX_CHARS, ModelSpec, get_model
from generation.durations import seconds_choice, seconds_choice_lazy
from generation.planning import MAX_VIDEOS_PER_JOB, JobMode, Plan
from generation.request_keys import REQUEST_KEY_MAX_LENGTH
from generation.rules import NON_FIELD, RequestRefused, check_plan, check_request
from generation.styles import STYLES

ALL_DURATIONS = sorted({d for m in MODELS for d in m.durations})
ALL_RATIOS = list(dict.fromkeys(r for m in MODELS for r in m.aspect_ratios))
ALL_RESOLUTIONS = list(dict.fromkeys(r for m in MODELS for r in m.resolutions))
IMAGE_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
PLAN_FIELDS = ("model", "styles", "aspect_ratios", "mode", "count", "seed")
AUDIO_CHOICES = [("on", _("With sound")), ("off", _("Silent"))]


def _audio(value: str) -> bool | None:
    return {"on": True, "off": False}.get(value)


class PlanForm(forms.Form):
    """The fields that decide how many videos a request makes. The Generate page's live
    summary uses it alone; `GenerationForm` adds the rest. The rules are
    `generation.rules`'; this form only reads the fields and reports their refusal.
    After `is_valid()`, `plan` is the job's plan."""

    model = forms.ChoiceField(choices=[(m.key, m.label) for m in MODELS], initial=DEFAULT_MODEL_KEY)
    styles = forms.MultipleChoiceField(
        choices=[(s.key, s.label) for s in STYLES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Each adds its look to the prompt. None chosen: your prompt as written."),
    )
    aspect_ratios = forms.MultipleChoiceField(
        choices=[(r, r) for r in ALL_RATIOS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Aspect ratios"),
        help_text=_("None chosen: the model's default."),
    )
    mode = forms.ChoiceField(
        choices=JobMode.choices, initial=JobMode.SINGLE, required=False, widget=forms.RadioSelect, label=_("Make")
    )
    count = forms.TypedChoiceField(
        choices=[(n, str(n)) for n in range(1, MAX_VIDEOS_PER_JOB + 1)],
        coerce=int,
        empty_value=None,
        initial=4,
        required=False,
        label=_("Number of videos"),
        help_text=_("Spread over the chosen styles and ratios, in turn."),
    )
    seed = forms.IntegerField(required=False, label=_("Seed"), help_text=_("Same seed, similar video."))

    plan: Plan | None = None

    @property
    def spec(self) -> ModelSpec:
        """The chosen model (the default when none or an unknown one is chosen)."""
        key = self.data.get("model") if self.is_bound else self.initial.get("model")
        try:
            return get_model(key or DEFAULT_MODEL_KEY)
        except KeyError:
            return get_model(DEFAULT_MODEL_KEY)

    def _report(self, refused: RequestRefused) -> None:
        for field, messages in refused.errors.items():
            name = None if field == NON_FIELD else field
            if name is not None and (name in self.errors or name not in self.fields):
                continue  # the field's own error says enough
            for message in messages:
                self.add_error(name, message)

    def clean(self):
        data = super().clean()
        if "model" not in data:
            return data
        data["mode"] = data.get("mode") or JobMode.SINGLE
        try:
            self.plan = self._check(data)
        except RequestRefused as refused:
            self._report(refused)
        return data

    def _check(self, data) -> Plan:
        return check_plan(
            model_key=data["model"], styles=data.get("styles") or [], aspect_ratios=data.get("aspect_ratios") or [],
            mode=data["mode"], count=data.get("count"), seed=data.get("seed"),
        )


class GenerationForm(PlanForm):
    """What a user may ask for. The pages and the JSON API both read requests with it;
    whether the request is allowed is `generation.rules.check_request`'s decision."""

    prompt = forms.CharField(
        required=False,
        label=_("Prompt"),
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": _("A red fox running through fresh snow at dawn")}),
    )
    duration = forms.TypedChoiceField(
        choices=[(d, seconds_choice_lazy(d)) for d in ALL_DURATIONS], coerce=int, required=False, empty_value=None,
        label=_("Duration"),
    )
    resolution = forms.ChoiceField(choices=[(r, r) for r in ALL_RESOLUTIONS], required=False, label=_("Resolution"))
    audio = forms.ChoiceField(choices=AUDIO_CHOICES, required=False, label=_("Sound"))
    negative_prompt = forms.CharField(
        required=False, label=_("Avoid"), widget=forms.TextInput(attrs={"placeholder": _("blur, text, watermark")})
    )
    image = forms.ImageField(required=False, label=_("Input image"), help_text=_("PNG, JPEG or WebP, up to 10 MB."))
    end_image = forms.ImageField(required=False, label=_("Last frame"), help_text=_("Optional: the image the video ends on."))
    # The page's one-time key: pressing Generate twice, or sending the page again,
    # makes one job (see generation.request_keys). The template writes it.
    request_key = forms.CharField(required=False, max_length=REQUEST_KEY_MAX_LENGTH, widget=forms.HiddenInput)
    # On unless unticked (a page sends nothing for an unticked box; the API sends
    # true when the field is left out, see api.serializers).
    allow_fallback = forms.BooleanField(
        required=False,
        initial=True,
        label=_("If this model is unavailable, make the video with its fallback model"),
        help_text=_("You pay the cheaper of the two; the video says which model made it."),
    )

    field_order = [
        "prompt", "model", "duration", "resolution", "audio", "styles", "aspect_ratios", "mode", "count", "seed",
        "negative_prompt", "image", "end_image", "allow_fallback",
    ]

    checked = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.follow_model()

    def follow_model(self) -> None:
        """Offer the chosen model's own choices, with its defaults."""
        spec = self.spec
        self.fields["duration"].choices = [(d, seconds_choice(d)) for d in spec.durations]
        self.fields["aspect_ratios"].choices = [(r, r) for r in spec.aspect_ratios]
        self.fields["resolution"].choices = [(r, r) for r in spec.resolutions]
        if not self.is_bound:
            self.initial.setdefault("duration", spec.default_duration)
            self.initial.setdefault("resolution", spec.default_resolution)
            self.initial.setdefault("audio", "on" if spec.default_audio else "off")
        self.model_ratios = spec.aspect_ratios

    def full_clean(self):
        # Validate against every model's values; the rules say which this model takes.
        self.fields["duration"].choices = [(d, seconds_choice(d)) for d in ALL_DURATIONS]
        self.fields["aspect_ratios"].choices = [(r, r) for r in ALL_RATIOS]
        self.fields["resolution"].choices = [(r, r) for r in ALL_RESOLUTIONS]
        super().full_clean()
        self.follow_model()

    def _clean_image(self, name: str):
        image = self.cleaned_data.get(name)
        if not image:
            return None
        if image.size > settings.INPUT_IMAGE_MAX_BYTES:
            raise forms.ValidationError(
                gettext("The image is larger than %(size)s MB.") % {"size": settings.INPUT_IMAGE_MAX_BYTES // (1024 * 1024)}
            )
        try:
            image.seek(0)
            with Image.open(image) as picture:
                kind, (width, height) = picture.format, picture.size
        except (UnidentifiedImageError, OSError):
            raise forms.ValidationError(gettext("That file is not an image we can read.")) from None
        if kind not in IMAGE_FORMATS:
            raise forms.ValidationError(gettext("Use a PNG, JPEG or WebP image."))
        if not (256 <= min(width, height) and max(width, height) <= 4096):
            raise forms.ValidationError(
                gettext("The image must be at least 256 px on its short side and at most 4096 px on its long side.")
            )
        image.seek(0)
        return image

    def clean_image(self):
        return self._clean_image("image")

    def clean_end_image(self):
        return self._clean_image("end_image")

    def _check(self, data) -> Plan:
        self.checked = check_request(
            model_key=data["model"],
            prompt=data.get("prompt") or "",
            duration=data.get("duration"),
            styles=data.get("styles") or [],
            aspect_ratios=data.get("aspect_ratios") or [],
            mode=data["mode"],
            count=data.get("count"),
            seed=data.get("seed"),
            negative_prompt=data.get("negative_prompt") or "",
            resolution=data.get("resolution") or "",
            audio=_audio(data.get("audio") or ""),
            image=bool(data.get("image")) or "image" in self.errors,
            end_image=bool(data.get("end_image")) or "end_image" in self.errors,
        )
        return self.checked.plan

    def generation_kwargs(self) -> dict:
        data, checked = self.cleaned_data, self.checked
        return {
            "model_key": checked.spec.key,
            "prompt": checked.prompt,
            "duration": checked.duration,
            "resolution": checked.resolution,
            "audio": checked.audio,
            "styles": data.get("styles") or [],
            "aspect_ratios": data.get("aspect_ratios") or [],
            "mode": data["mode"],
            "count": data.get("count") or 1,
            "negative_prompt": checked.negative_prompt,
            "seed": checked.seed,
            "image": data.get("image"),
            "end_image": data.get("end_image"),
            "request_key": data.get("request_key") or "",
            "allow_fallback": bool(data.get("allow_fallback")),
        }
