from django import forms
from django.conf import settings
from PIL import Image, UnidentifiedImageError

from generation.catalog import DEFAULT_MODEL_KEY, MODELS, PROMPT_MAX_CHARS, get_model
from generation.planning import MAX_VIDEOS_PER_JOB, JobMode, Plan, plan_job
from generation.styles import STYLES, compose_prompt

ALL_DURATIONS = sorted({d for m in MODELS for d in m.durations})
ALL_RATIOS = ["16:9", "9:16", "1:1"]
IMAGE_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
PLAN_FIELDS = ("model", "styles", "aspect_ratios", "mode", "count", "seed")


class PlanForm(forms.Form):
    """The fields that decide how many videos a request makes, and the rules about
    them. The Generate page's live summary uses it alone; `GenerationForm` adds the
    rest. After `is_valid()`, `plan` is the job's plan."""

    model = forms.ChoiceField(choices=[(m.key, m.label) for m in MODELS], initial=DEFAULT_MODEL_KEY)
    styles = forms.MultipleChoiceField(
        choices=[(s.key, s.label) for s in STYLES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Each adds its look to the prompt. None chosen: your prompt as written.",
    )
    aspect_ratios = forms.MultipleChoiceField(
        choices=[(r, r) for r in ALL_RATIOS],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Aspect ratios",
        help_text="None chosen: the model's first.",
    )
    mode = forms.ChoiceField(
        choices=JobMode.choices, initial=JobMode.SINGLE, required=False, widget=forms.RadioSelect, label="Make"
    )
    count = forms.TypedChoiceField(
        choices=[(n, str(n)) for n in range(1, MAX_VIDEOS_PER_JOB + 1)],
        coerce=int,
        initial=4,
        required=False,
        label="Number of videos",
        help_text="Spread over the chosen styles and ratios, in turn.",
    )
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, required=False, help_text="Same seed, similar video.")

    plan: Plan | None = None

    def clean(self):
        data = super().clean()
        if "model" not in data:
            return data
        spec = get_model(data["model"])
        data["mode"] = data.get("mode") or JobMode.SINGLE
        if data["mode"] == JobMode.BATCH and not data.get("count") and "count" not in self.errors:
            self.add_error("count", "Choose how many videos to make.")
        ratios = data.get("aspect_ratios") or []
        if spec.aspect_ratios:
            unsupported = [ratio for ratio in ratios if ratio not in spec.aspect_ratios]
            if unsupported:
                self.add_error("aspect_ratios", f"{spec.label} supports {', '.join(spec.aspect_ratios)}.")
        else:
            data["aspect_ratios"] = []  # the model follows the input image's shape
        if any(name in self.errors for name in PLAN_FIELDS):
            return data
        plan = plan_job(
            spec=spec,
            styles=data.get("styles") or [],
            aspect_ratios=data["aspect_ratios"],
            mode=data["mode"],
            count=data.get("count") or 1,
            seed=data.get("seed"),
        )
        if plan.count > MAX_VIDEOS_PER_JOB:
            self.add_error(
                None,
                f"{plan.describe()}: a job makes at most {MAX_VIDEOS_PER_JOB} videos. "
                "Choose fewer styles or ratios, or make a number of videos instead.",
            )
            return data
        self.plan = plan
        return data


class GenerationForm(PlanForm):
    """What a user may ask for, checked against the chosen model's limits before
    anything is sent anywhere. The pages and the JSON API both validate with it."""

    prompt = forms.CharField(
        max_length=PROMPT_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "A red fox running through fresh snow at dawn"}),
        error_messages={"required": "Describe the video you want."},
    )
    duration = forms.TypedChoiceField(
        choices=[(d, f"{d} seconds") for d in ALL_DURATIONS], coerce=int, initial=5
    )
    negative_prompt = forms.CharField(
        max_length=PROMPT_MAX_CHARS, required=False, label="Avoid", widget=forms.TextInput(attrs={"placeholder": "blur, text, watermark"})
    )
    image = forms.ImageField(required=False, help_text="For image-to-video models: PNG, JPEG or WebP, up to 10 MB.")

    field_order = ["prompt", "model", "duration", "styles", "aspect_ratios", "mode", "count", "seed", "negative_prompt", "image"]

    def clean_prompt(self) -> str:
        prompt = " ".join(self.cleaned_data["prompt"].split())
        if not prompt:
            raise forms.ValidationError("Describe the video you want.")
        return prompt

    def clean_image(self):
        image = self.cleaned_data.get("image")
        if not image:
            return None
        if image.size > settings.INPUT_IMAGE_MAX_BYTES:
            raise forms.ValidationError(f"The image is larger than {settings.INPUT_IMAGE_MAX_BYTES // (1024 * 1024)} MB.")
        try:
            image.seek(0)
            with Image.open(image) as picture:
                kind, (width, height) = picture.format, picture.size
        except (UnidentifiedImageError, OSError):
            raise forms.ValidationError("That file is not an image we can read.") from None
        if kind not in IMAGE_FORMATS:
            raise forms.ValidationError("Use a PNG, JPEG or WebP image.")
        if not (256 <= min(width, height) and max(width, height) <= 4096):
            raise forms.ValidationError("The image must be at least 256 px on its short side and at most 4096 px on its long side.")
        image.seek(0)
        return image

    def clean(self):
        data = super().clean()
        if "model" not in data:
            return data
        spec = get_model(data["model"])
        duration = data.get("duration")
        if duration is not None and duration not in spec.durations:
            allowed = " or ".join(str(d) for d in spec.durations)
            self.add_error("duration", f"{spec.label} makes videos of {allowed} seconds.")
        prompt = data.get("prompt")
        if prompt and self.plan:
            longest = max((compose_prompt(prompt, style) for style in self.plan.styles), key=len)
            if len(longest) > PROMPT_MAX_CHARS:
                self.add_error(
                    "prompt",
                    f"With the chosen styles the prompt would be {len(longest)} characters; "
                    f"shorten it by {len(longest) - PROMPT_MAX_CHARS} or choose other styles.",
                )
        if spec.requires_image and not data.get("image") and "image" not in self.errors:
            self.add_error("image", f"{spec.label} needs an input image.")
        if not spec.takes_image and data.get("image"):
            self.add_error("image", f"{spec.label} makes videos from text only; choose an image-to-video model or remove the image.")
        return data

    def generation_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "model_key": data["model"],
            "prompt": data["prompt"],
            "duration": data["duration"],
            "styles": data.get("styles") or [],
            "aspect_ratios": data.get("aspect_ratios") or [],
            "mode": data["mode"],
            "count": data.get("count") or 1,
            "negative_prompt": data.get("negative_prompt", ""),
            "seed": data.get("seed"),
            "image": data.get("image"),
        }
