"""The catalog: the video models we offer, each on a real fal endpoint, with its own
choices, defaults and price. `spec.py` says what a model is, `entries.py` lists them,
`pricing.py` turns what was sent into what fal bills."""

from generation.catalog.entries import MODELS
from generation.catalog.spec import (
    END_IMAGE_PLACEHOLDER,
    IMAGE_PLACEHOLDER,
    IMAGE_TO_VIDEO,
    TEXT_TO_VIDEO,
    ModelSpec,
)

__all__ = [
    "DEFAULT_MODEL_KEY", "END_IMAGE_PLACEHOLDER", "expected_seconds_for", "IMAGE_PLACEHOLDER", "IMAGE_TO_VIDEO", "MODELS",
    "PROMPT_MAX_CHARS", "TEXT_TO_VIDEO", "ModelSpec", "describe", "endpoints_in_group", "get_model", "group_for_endpoint",
    "model_choices",
]

PROMPT_MAX_CHARS = 1000

_BY_KEY = {model.key: model for model in MODELS}
DEFAULT_MODEL_KEY = MODELS[0].key


def get_model(key: str) -> ModelSpec:
    """The model with this key; KeyError if we do not offer it."""
    return _BY_KEY[key]


def expected_seconds_for(endpoint: str) -> int:
    """The usual generation time of the model behind an endpoint (a default for one
    no longer offered)."""
    return next((m.expected_seconds for m in MODELS if m.endpoint == endpoint), ModelSpec.expected_seconds)


def group_for_endpoint(endpoint: str) -> str:
    """The concurrency group of the model behind an endpoint; an endpoint no longer
    offered is a group of its own."""
    return next((m.group for m in MODELS if m.endpoint == endpoint), endpoint)


def endpoints_in_group(group: str) -> list[str]:
    """Every endpoint whose requests count against `group`'s cap."""
    endpoints = sorted({m.endpoint for m in MODELS if m.group == group})
    return endpoints or [group]


def model_choices() -> list[tuple[str, str]]:
    return [(model.key, model.label) for model in MODELS]


def describe(spec: ModelSpec) -> dict:
    """One model as the API and `manage.py catalog --json` show it."""
    price = spec.price
    return {
        "key": spec.key,
        "label": str(spec.label),
        "description": str(spec.description),
        "endpoint": spec.endpoint,
        "family": spec.family,
        "kind": spec.kind,
        "options": spec.options(),
        "credits_per_video": spec.credits_per_video,
        "fallback": spec.fallback or None,
        "price": {
            "text": price.text if price else None,
            "published": price.published if price else False,
            "source": spec.price_source,
        },
    }
