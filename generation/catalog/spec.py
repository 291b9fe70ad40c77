"""One offered model: its fal endpoint, the choices we offer on it, and how our common
settings become that endpoint's arguments.

The choices are ours (which durations, ratios, resolutions we offer); their spelling,
defaults and validity come from fal's published schema (`falschemas`), and the
catalog test proves every request we can build validates against it."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import falschemas
from django.utils.translation import gettext

from generation.catalog.pricing import Charge, PriceRule
from generation.input_images import DEFAULT_IMAGE_LIMITS, ImageLimits

TEXT_TO_VIDEO = "text-to-video"
IMAGE_TO_VIDEO = "image-to-video"
IMAGE_PLACEHOLDER = "https://example.com/input.png"
END_IMAGE_PLACEHOLDER = "https://example.com/end.png"


@dataclass(frozen=True)
class ModelSpec:
    key: str
    label: str
    endpoint: str
    description: str
    durations: tuple[int, ...]  # seconds we offer
    preferred_duration: int | None = None  # when fal's default is not one we offer ("auto")
    aspect_ratios: tuple[str, ...] = ()  # () = the model decides (the image's shape, or its only one)
    resolutions: tuple[str, ...] = ()  # () = no choice offered
    audio: bool = False  # offers the sound switch (`generate_audio`)
    seed: bool = False
    negative_prompt: bool = False
    image_field: str = ""  # "" = text to video
    end_image_field: str = ""  # the last-frame image, where the endpoint takes one
    image_limits: ImageLimits = DEFAULT_IMAGE_LIMITS  # smallest side, shape, size, formats of an input image
    fixed: Mapping[str, Any] = field(default_factory=dict)  # always sent as is
    credits_per_video: int = 1
    price: PriceRule | None = None
    # How long a generation usually takes at the provider. Its webhook counts as
    # overdue only after this, and only then is the provider asked (generation.polling).
    expected_seconds: int = 180
    # The provider; the model a task may be re-planned on when this one's provider
    # group is unavailable or fails it (generation.fallback: of the same kind, in
    # another group); and the group whose concurrency is capped together (default:
    # the endpoint's family).
    provider: str = "fal"
    fallback: str = ""
    concurrency_group: str = ""

    # --- what the endpoint is -------------------------------------------------------

    @cached_property
    def schema(self) -> falschemas.Endpoint:
        return falschemas.schema(self.endpoint)

    @property
    def family(self) -> str:
        return self.schema.family

    @property
    def group(self) -> str:
        return self.concurrency_group or self.family

    @property
    def kind(self) -> str:
        return IMAGE_TO_VIDEO if self.image_field else TEXT_TO_VIDEO

    @property
    def takes_image(self) -> bool:
        return bool(self.image_field)

    @property
    def requires_image(self) -> bool:
        # Our image-to-video models always animate the user's image.
        return bool(self.image_field)

    @property
    def takes_end_image(self) -> bool:
        return bool(self.end_image_field)

    # --- defaults, from fal's schema where it names one we offer --------------------

    def _schema_default(self, name: str, offered: tuple, spell=lambda v: v):
        fal_field = self.schema.fields.get(name)
        if fal_field is not None:
            for value in offered:
                if fal_field.default is not None and spell(value) == fal_field.default:
                    return value
        return offered[0] if offered else None

    @property
    def default_duration(self) -> int:
        if self.preferred_duration is not None:
            return self.preferred_duration
        return self._schema_default("duration", self.durations, self.duration_value)

    @property
    def default_aspect_ratio(self) -> str:
        return self._schema_default("aspect_ratio", self.aspect_ratios) or ""

    @property
    def default_resolution(self) -> str:
        return self._schema_default("resolution", self.resolutions) or ""

    @property
    def default_audio(self) -> bool:
        fal_field = self.schema.fields.get("generate_audio")
        return bool(self.audio and fal_field is not None and fal_field.default)

    # --- spelling -------------------------------------------------------------------

    def duration_value(self, seconds: int) -> Any:
        """`seconds` as this endpoint spells it: "5", "5s" or 5."""
        fal_field = self.schema.fields.get("duration")
        if fal_field is None or fal_field.enum is None:
            return seconds
        for spelled in (str(seconds), f"{seconds}s", seconds):
            if any(type(spelled) is type(allowed) and spelled == allowed for allowed in fal_field.enum):
                return spelled
        raise ValueError(f"{self.endpoint} has no duration {seconds}")

    def seconds_of(self, arguments: Mapping[str, Any]) -> int:
        """The video length a request asks for (the endpoint's default if it names none)."""
        value = arguments.get("duration")
        if value is None:
            value = self.schema.fields["duration"].default if "duration" in self.schema.fields else self.durations[0]
        return int(str(value).rstrip("s"))

    def build_arguments(
        self,
        *,
        prompt: str,
        duration: int,
        aspect_ratio: str = "",
        resolution: str = "",
        audio: bool | None = None,
        negative_prompt: str = "",
        seed: int | None = None,
    ) -> dict[str, Any]:
        """The request body for this model, images aside (they are added at submit,
        see `image_arguments`). Inputs are assumed checked by `generation.rules`."""
        arguments: dict[str, Any] = {"prompt": prompt, **self.fixed}
        if self.durations:
            arguments["duration"] = self.duration_value(duration)
        if self.aspect_ratios:
            arguments["aspect_ratio"] = aspect_ratio or self.default_aspect_ratio
        if self.resolutions:
            arguments["resolution"] = resolution or self.default_resolution
        if self.audio:
            arguments["generate_audio"] = self.default_audio if audio is None else bool(audio)
        if self.negative_prompt and negative_prompt:
            arguments["negative_prompt"] = negative_prompt
        if self.seed and seed is not None:
            arguments["seed"] = seed
        return arguments

    def image_arguments(self, *, image_url: str | None, end_image_url: str | None = None) -> dict[str, str]:
        """The image inputs under this endpoint's own field names."""
        arguments = {}
        if self.image_field and image_url:
            arguments[self.image_field] = image_url
        if self.end_image_field and end_image_url:
            arguments[self.end_image_field] = end_image_url
        return arguments

    # --- price ----------------------------------------------------------------------

    @property
    def price_source(self) -> str:
        return (self.price.source if self.price else "") or self.schema.price_source or ""

    def charge_for(self, arguments: Mapping[str, Any]) -> Charge | None:
        """What fal bills for this request, from what was sent; None when unpriced."""
        if self.price is None:
            return None
        resolution = arguments.get("resolution") or self.default_resolution
        audio = bool(arguments.get("generate_audio", self.default_audio))
        return self.price.charge(seconds=self.seconds_of(arguments), resolution=resolution, audio=audio)

    # --- every request we can build -------------------------------------------------

    def options(self) -> dict[str, Any]:
        """The choices the form and the API offer for this model, with defaults."""
        return {
            "durations": list(self.durations),
            "default_duration": self.default_duration,
            "aspect_ratios": list(self.aspect_ratios),
            "default_aspect_ratio": self.default_aspect_ratio,
            "resolutions": list(self.resolutions),
            "default_resolution": self.default_resolution,
            "audio": self.audio,
            "default_audio": self.default_audio,
            "seed": self.seed,
            "negative_prompt": self.negative_prompt,
            "image": "required" if self.requires_image else "none",
            "image_field": self.image_field,
            "end_image": self.takes_end_image,
            "end_image_field": self.end_image_field,
            # Choices fal refuses together: over `seconds`, only these values.
            "only_over_seconds": [
                {"seconds": rule.gt, "only": {name: list(values) for name, values in rule.only.items()}}
                for rule in self.schema.constraints if rule.field == "duration"
            ],
        }

    def every_request(self, *, prompt: str = "a red fox running through fresh snow") -> Iterator[dict[str, Any]]:
        """Every argument set the product can send: the cartesian product of the offered
        choices, with and without each optional input (images as placeholder URLs),
        less the combinations the request rules refuse (`combination_refused`)."""
        axes = itertools.product(
            self.durations,
            self.aspect_ratios or ("",),
            self.resolutions or ("",),
            (False, True) if self.audio else (None,),
            ("", "blur, text") if self.negative_prompt else ("",),
            # The product always sends a seed to a model that takes one (its own pick
            # when the user gives none): the smallest and the largest it can send.
            (0, 2**31 - 1) if self.seed else (None,),
            (False, True) if self.takes_end_image else (False,),
        )
        for duration, ratio, resolution, audio, negative, seed, with_end in axes:
            arguments = self.build_arguments(
                prompt=prompt, duration=duration, aspect_ratio=ratio, resolution=resolution,
                audio=audio, negative_prompt=negative, seed=seed,
            )
            if self.combination_refused(arguments):
                continue  # the request rules refuse it, so it is never sent
            arguments.update(self.image_arguments(
                image_url=IMAGE_PLACEHOLDER if self.takes_image else None,
                end_image_url=END_IMAGE_PLACEHOLDER if with_end else None,
            ))
            yield arguments

    def combination_refused(self, arguments: Mapping[str, Any]) -> str:
        """Why fal refuses these choices together ("" when it does not): the rules
        between fields its schema states in words, e.g. LTX 2.3 Fast makes videos over
        10 seconds only at 1080p. The request rules refuse such a combination."""
        for rule in self.schema.constraints:
            if not falschemas.constraint_errors(
                dataclasses.replace(self.schema, constraints=(rule,)), dict(arguments)
            ):
                continue
            allowed = "; ".join(
                f"{name.replace('_', ' ')} {' / '.join(str(value) for value in values)}"
                for name, values in rule.only.items() if name in arguments
            )
            return gettext("%(model)s makes videos over %(seconds)s seconds only at %(allowed)s.") % {
                "model": self.label, "seconds": f"{rule.gt:g}", "allowed": allowed or gettext("its defaults"),
            }
        return ""

    def schema_problems(self) -> list[str]:
        """Where this entry disagrees with fal's schema (the catalog test wants none)."""
        fields = self.schema.fields
        problems = []
        wanted = {"prompt": True, "duration": bool(self.durations), "aspect_ratio": bool(self.aspect_ratios),
                  "resolution": bool(self.resolutions), "generate_audio": self.audio, "seed": self.seed,
                  "negative_prompt": self.negative_prompt}
        for name, offered in wanted.items():
            if offered and name not in fields:
                problems.append(f"{self.key}: {self.endpoint} takes no {name}")
        for name in (self.image_field, self.end_image_field):
            if name and (name not in fields or fields[name].type != "file"):
                problems.append(f"{self.key}: {self.endpoint} has no image field {name}")
        for name, fal_field in fields.items():
            if fal_field.required and name not in ("prompt", self.image_field) and name not in self.fixed:
                problems.append(f"{self.key}: {self.endpoint} requires {name}, which we never send")
            if fal_field.type == "file" and fal_field.required and name != self.image_field:
                problems.append(f"{self.key}: {self.endpoint} requires the image {name}")
        return problems
