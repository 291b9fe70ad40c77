from django import forms
from django.conf import settings
from PIL import Image, UnidentifiedImageError

from generation.catalog import DEFAULT_MODEL_KEY, MODELS, PROMPT_MAX_CHARS, get_model

ALL_DURATIONS = sorted({d for m in MODELS for d in m.durations})
ALL_RATIOS = ["16:9", "9:16", "1:1"]
IMAGE_FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}


class GenerationForm(forms.Form):
    """What a user may ask for, checked against the chosen model's limits before
    anything is sent anywhere."""

    prompt = forms.CharField(
        max_length=PROMPT_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "A red fox running through fresh snow at dawn"}),
        error_messages={"required": "Describe the video you want."},
    )
    model = forms.ChoiceField(choices=[(m.key, m.label) for m in MODELS], initial=DEFAULT_MODEL_KEY)
    duration = forms.TypedChoiceField(
        choices=[(d, f"{d} seconds") for d in ALL_DURATIONS], coerce=int, initial=5
    )
    aspect_ratio = forms.ChoiceField(
        choices=[(r, r) for r in ALL_RATIOS], initial="16:9", required=False, label="Aspect ratio"
    )
    negative_prompt = forms.CharField(
        max_length=PROMPT_MAX_CHARS, required=False, label="Avoid", widget=forms.TextInput(attrs={"placeholder": "blur, text, watermark"})
    )
    seed = forms.IntegerField(min_value=0, max_value=2**31 - 1, required=False, help_text="Same seed, similar video.")
    image = forms.ImageField(required=False, help_text="For image-to-video models: PNG, JPEG or WebP, up to 10 MB.")

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
        ratio = data.get("aspect_ratio") or ""
        if spec.aspect_ratios:
            if not ratio:
                data["aspect_ratio"] = spec.aspect_ratios[0]
            elif ratio not in spec.aspect_ratios:
                self.add_error("aspect_ratio", f"{spec.label} supports {', '.join(spec.aspect_ratios)}.")
        else:
            data["aspect_ratio"] = ""  # the model follows the input image's shape
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
            "aspect_ratio": data["aspect_ratio"],
            "negative_prompt": data.get("negative_prompt", ""),
            "seed": data.get("seed"),
            "image": data.get("image"),
        }
