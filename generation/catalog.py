"""The video models we offer, each with its limits and the way its request is spelled.

fal's video models differ in what they accept (duration as "5" or "5s", resolution or
aspect ratio, an image or not), so each model turns our common settings into its
own arguments here, and nowhere else."""

from dataclasses import dataclass, field
from decimal import Decimal

PROMPT_MAX_CHARS = 1000


@dataclass(frozen=True)
class ModelSpec:
    key: str
    label: str
    endpoint: str
    durations: tuple[int, ...]
    aspect_ratios: tuple[str, ...] = ("16:9", "9:16", "1:1")
    image: str = "none"  # "none", "optional" or "required"
    negative_prompt: bool = False
    seed: bool = False
    duration_suffix: str = ""  # Luma and Veo spell durations "5s"
    extra: dict = field(default_factory=dict)
    description: str = ""
    # What a video costs the user, in credits, and what it costs us at the provider
    # (list price per second of video; used to record spend, never to bill users).
    credits_per_video: int = 1
    usd_per_second: Decimal = Decimal("0.05")

    @property
    def takes_image(self) -> bool:
        return self.image != "none"

    @property
    def requires_image(self) -> bool:
        return self.image == "required"

    def build_arguments(
        self,
        *,
        prompt: str,
        duration: int,
        aspect_ratio: str,
        negative_prompt: str = "",
        seed: int | None = None,
        image_url: str | None = None,
    ) -> dict:
        """The request body for this model; inputs are assumed validated."""
        arguments: dict = {"prompt": prompt, "duration": f"{duration}{self.duration_suffix}", **self.extra}
        if self.aspect_ratios:
            arguments["aspect_ratio"] = aspect_ratio
        if self.negative_prompt and negative_prompt:
            arguments["negative_prompt"] = negative_prompt
        if self.seed and seed is not None:
            arguments["seed"] = seed
        if image_url:
            arguments["image_url"] = image_url
        return arguments


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        key="kling-2.1-t2v",
        label="Kling 2.1 · text to video",
        endpoint="fal-ai/kling-video/v2.1/standard/text-to-video",
        durations=(5, 10),
        negative_prompt=True,
        extra={"cfg_scale": 0.5},
        description="Reliable all-rounder; 5 or 10 seconds.",
    ),
    ModelSpec(
        key="kling-2.1-i2v",
        label="Kling 2.1 · image to video",
        endpoint="fal-ai/kling-video/v2.1/standard/image-to-video",
        durations=(5, 10),
        aspect_ratios=(),
        image="required",
        negative_prompt=True,
        extra={"cfg_scale": 0.5},
        description="Animates your image; the video keeps its shape.",
    ),
    ModelSpec(
        key="luma-ray-2",
        label="Luma Ray 2 · text to video",
        endpoint="fal-ai/luma-dream-machine/ray-2",
        durations=(5, 9),
        duration_suffix="s",
        extra={"resolution": "540p"},
        description="Cinematic motion; 5 or 9 seconds.",
        usd_per_second=Decimal("0.10"),
    ),
    ModelSpec(
        key="veo-3.1",
        label="Veo 3.1 · text to video",
        endpoint="fal-ai/veo3.1",
        durations=(4, 6, 8),
        aspect_ratios=("16:9", "9:16"),
        duration_suffix="s",
        negative_prompt=True,
        seed=True,
        extra={"resolution": "720p", "generate_audio": False},
        description="High fidelity; 4 to 8 seconds.",
        credits_per_video=2,
        usd_per_second=Decimal("0.20"),
    ),
)

_BY_KEY = {model.key: model for model in MODELS}
DEFAULT_MODEL_KEY = MODELS[0].key


def get_model(key: str) -> ModelSpec:
    """The model with this key; KeyError if we do not offer it."""
    return _BY_KEY[key]
