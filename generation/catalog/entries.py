"""The models we offer. Each entry names a real fal endpoint (see `falschemas`) and the
choices we offer on it; fal's schema supplies spellings and defaults, and the catalog
test checks every combination against it. Prices are fal's published figures (the
`text` is fal's wording; `published=False` marks an estimate and says from what).

To add a model: add an entry here, run `manage.py catalog` to see its requests, and run
`tests/generation/test_catalog.py`."""

from decimal import Decimal as D

from django.utils.translation import gettext_lazy as _

from generation.catalog.pricing import ANY, FirstBlockPlusSeconds, PerBlock, PerClip, PerSecond
from generation.catalog.spec import ModelSpec
from generation.input_images import VEO_IMAGE_LIMITS, ImageLimits

LUMA_FACTORS = {"540p": 1, "720p": 2, "1080p": 4}  # fal's Ray 2 schema text: 720p bills 2x, 1080p 4x

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        key="kling-3-t2v",
        label=_("Kling 3 Standard · text to video"),
        endpoint="fal-ai/kling-video/v3/standard/text-to-video",
        fallback="veo-3.1",
        description=_("Kling's current model; 3 to 15 seconds, optional sound."),
        durations=tuple(range(3, 16)),
        aspect_ratios=("16:9", "9:16", "1:1"),
        audio=True,
        negative_prompt=True,
        price=PerSecond(
            text="$0.084/s audio off; $0.126/s audio on; $0.154/s audio+voice control",
            rates={(ANY, False): D("0.084"), (ANY, True): D("0.126")},
        ),
    ),
    ModelSpec(
        # Key kept from the first catalog, whose endpoint (v2.1 standard text-to-video)
        # never existed on fal: Kling 2.1's text-to-video is the Master tier.
        key="kling-2.1-t2v",
        label=_("Kling 2.1 Master · text to video"),
        endpoint="fal-ai/kling-video/v2.1/master/text-to-video",
        fallback="veo-3.1",
        description=_("Kling 2.1's top tier; 5 or 10 seconds."),
        durations=(5, 10),
        aspect_ratios=("16:9", "9:16", "1:1"),
        negative_prompt=True,
        credits_per_video=3,
        price=FirstBlockPlusSeconds(
            text="For 5s video $1.40; each additional second $0.28",
            block_seconds=5, block_usd=D("1.40"), extra_usd_per_second=D("0.28"),
        ),
    ),
    ModelSpec(
        key="kling-2.1-i2v",
        label=_("Kling 2.1 · image to video"),
        endpoint="fal-ai/kling-video/v2.1/standard/image-to-video",
        fallback="veo-3.1-fast-i2v",
        description=_("Animates your image; the video keeps its shape."),
        durations=(5, 10),
        negative_prompt=True,
        image_field="image_url",
        price=FirstBlockPlusSeconds(
            text="For 5s video $0.28; each additional second $0.056",
            block_seconds=5, block_usd=D("0.28"), extra_usd_per_second=D("0.056"),
        ),
    ),
    ModelSpec(
        key="kling-2.6-i2v",
        label=_("Kling 2.6 Pro · image to video"),
        endpoint="fal-ai/kling-video/v2.6/pro/image-to-video",
        fallback="ltx-2.3-i2v",
        description=_("From your image to an optional last frame, with optional sound."),
        durations=(5, 10),
        audio=True,
        negative_prompt=True,
        image_field="start_image_url",
        end_image_field="end_image_url",
        credits_per_video=2,
        price=PerSecond(
            text="$0.07/s without audio; $0.14/s with native audio; $0.168/s with audio + voice control",
            rates={(ANY, False): D("0.07"), (ANY, True): D("0.14")},
        ),
    ),
    ModelSpec(
        key="veo-3.1",
        label=_("Veo 3.1 · text to video"),
        endpoint="fal-ai/veo3.1",
        fallback="kling-3-t2v",
        description=_("High fidelity, up to 4k, optional sound; 4 to 8 seconds."),
        durations=(4, 6, 8),
        aspect_ratios=("16:9", "9:16"),
        resolutions=("720p", "1080p", "4k"),
        audio=True,
        seed=True,
        negative_prompt=True,
        credits_per_video=2,
        price=PerSecond(
            text="$0.20/s without audio, $0.40/s with audio at 720p or 1080p; at 4k $0.40/s without audio, $0.60/s with "
                 "(5s 1080p with audio = $2.00)",
            rates={
                ("720p", False): D("0.20"), ("720p", True): D("0.40"),
                ("1080p", False): D("0.20"), ("1080p", True): D("0.40"),
                ("4k", False): D("0.40"), ("4k", True): D("0.60"),
            },
        ),
    ),
    ModelSpec(
        key="veo-3.1-fast-i2v",
        label=_("Veo 3.1 Fast · image to video"),
        endpoint="fal-ai/veo3.1/fast/image-to-video",
        fallback="kling-2.6-i2v",
        description=_("Veo's faster tier animating your image, optional sound; 4 to 8 seconds."),
        durations=(4, 6, 8),
        resolutions=("720p", "1080p", "4k"),
        audio=True,
        seed=True,
        negative_prompt=True,
        image_field="image_url",
        image_limits=VEO_IMAGE_LIMITS,  # fal: "720p+ 16:9 or 9:16; other ratios are cropped"
        price=PerSecond(
            text="No fal page for this exact endpoint; its fast first-last-frame sibling charges "
                 "$0.10/s without audio and $0.15/s with audio at 720p/1080p ($0.30/$0.35 at 4k)",
            source="fal.ai model page of Veo 3.1 Fast first-last-frame-to-video",
            published=False,
            rates={
                ("720p", False): D("0.10"), ("720p", True): D("0.15"),
                ("1080p", False): D("0.10"), ("1080p", True): D("0.15"),
                ("4k", False): D("0.30"), ("4k", True): D("0.35"),
            },
        ),
    ),
    ModelSpec(
        key="seedance-2-fast-t2v",
        label=_("Seedance 2.0 Fast · text to video"),
        endpoint="bytedance/seedance-2.0/fast/text-to-video",
        fallback="kling-3-t2v",
        description=_("ByteDance's Seedance 2.0, fast tier, optional sound; 4 to 15 seconds."),
        durations=tuple(range(4, 16)),
        preferred_duration=5,
        aspect_ratios=("16:9", "9:16", "1:1", "4:3", "3:4", "21:9"),
        resolutions=("480p", "720p"),
        audio=True,
        price=PerSecond(
            text="$0.2419 per second of 720p; $0.0112 per 1000 tokens; tokens=(h*w*duration*24)/1024",
            # 480p by fal's token formula at 854×480: 9607.5 tokens a second.
            rates={("720p", ANY): D("0.2419"), ("480p", ANY): D("0.1076")},
        ),
    ),
    ModelSpec(
        key="seedance-2-fast-i2v",
        label=_("Seedance 2.0 Fast · image to video"),
        endpoint="bytedance/seedance-2.0/fast/image-to-video",
        fallback="kling-2.6-i2v",
        description=_("Seedance 2.0 from your image to an optional last frame; 4 to 15 seconds."),
        durations=tuple(range(4, 16)),
        preferred_duration=5,
        resolutions=("480p", "720p"),
        audio=True,
        image_field="image_url",
        end_image_field="end_image_url",
        image_limits=ImageLimits(max_bytes=30 * 1024 * 1024),  # fal: JPEG/PNG/WebP up to 30 MB
        price=PerSecond(
            text="$0.2419 per second of 720p; $0.0112 per 1000 tokens",
            rates={("720p", ANY): D("0.2419"), ("480p", ANY): D("0.1076")},
        ),
    ),
    ModelSpec(
        key="hailuo-2.3-t2v",
        label=_("MiniMax Hailuo 2.3 · text to video"),
        endpoint="fal-ai/minimax/hailuo-2.3/standard/text-to-video",
        fallback="kling-3-t2v",
        description=_("Lively motion; 6 or 10 seconds, its own frame shape."),
        durations=(6, 10),
        price=PerClip(
            text="$0.28 per 6s video; $0.56 per 10s video",
            by_seconds={6: D("0.28"), 10: D("0.56")},
        ),
    ),
    ModelSpec(
        key="hailuo-02-i2v",
        label=_("MiniMax Hailuo 02 · image to video"),
        endpoint="fal-ai/minimax/hailuo-02/standard/image-to-video",
        fallback="kling-2.6-i2v",
        description=_("Animates your image to an optional last frame; 6 or 10 seconds."),
        durations=(6, 10),
        resolutions=("512P", "768P"),
        image_field="image_url",
        end_image_field="end_image_url",
        price=PerSecond(
            text="$0.045/s at 768P; ~ $0.017/s at 512P; 6s 768p = $0.27",
            rates={("768P", ANY): D("0.045"), ("512P", ANY): D("0.017")},
        ),
    ),
    ModelSpec(
        key="luma-ray-2",
        label=_("Luma Ray 2 · text to video"),
        endpoint="fal-ai/luma-dream-machine/ray-2",
        fallback="kling-3-t2v",
        description=_("Cinematic motion; 5 or 9 seconds, wide and tall frames (no square)."),
        durations=(5, 9),
        aspect_ratios=("16:9", "9:16", "4:3", "3:4", "21:9", "9:21"),
        resolutions=("540p", "720p", "1080p"),
        price=PerBlock(
            text="No fal page for Ray 2 itself was found; recorded at Ray 2 Flash's published "
                 "$0.2 per 5 seconds, 720p 2x, 1080p 4x, 9s 2x (a floor, not a quote)",
            source="https://fal.ai/models/fal-ai/luma-dream-machine/ray-2-flash/llms.txt",
            published=False,
            block_seconds=5, block_usd=D("0.2"), resolution_factor=LUMA_FACTORS,
        ),
    ),
    ModelSpec(
        key="luma-ray-2-flash-i2v",
        label=_("Luma Ray 2 Flash · image to video"),
        endpoint="fal-ai/luma-dream-machine/ray-2-flash/image-to-video",
        fallback="kling-2.6-i2v",
        description=_("Quick cinematic motion from your image to an optional last frame; 5 or 9 seconds."),
        durations=(5, 9),
        aspect_ratios=("16:9", "9:16", "4:3", "3:4", "21:9", "9:21"),
        resolutions=("540p", "720p", "1080p"),
        image_field="image_url",
        end_image_field="end_image_url",
        price=PerBlock(
            text="$0.2 per 5 seconds",
            block_seconds=5, block_usd=D("0.2"), resolution_factor=LUMA_FACTORS,
        ),
    ),
    ModelSpec(
        key="ltx-2.3-fast-t2v",
        label=_("LTX 2.3 Fast · text to video"),
        endpoint="fal-ai/ltx-2.3/text-to-video/fast",
        fallback="kling-3-t2v",
        description=_("Lightricks' fast model, 1080p to 4k, optional sound; 6 to 20 seconds."),
        durations=(6, 8, 10, 12, 14, 16, 18, 20),
        aspect_ratios=("16:9", "9:16"),
        resolutions=("1080p", "1440p", "2160p"),
        audio=True,
        price=PerSecond(
            text="$0.04/s 1080p; $0.08/s 1440p; $0.16/s 2160p",
            rates={("1080p", ANY): D("0.04"), ("1440p", ANY): D("0.08"), ("2160p", ANY): D("0.16")},
        ),
    ),
    ModelSpec(
        key="ltx-2.3-i2v",
        label=_("LTX 2.3 · image to video"),
        endpoint="fal-ai/ltx-2.3/image-to-video",
        fallback="kling-2.6-i2v",
        description=_("Lightricks from your image to an optional last frame, optional sound; 6 to 10 seconds."),
        durations=(6, 8, 10),
        resolutions=("1080p", "1440p", "2160p"),
        audio=True,
        image_field="image_url",
        end_image_field="end_image_url",
        price=PerSecond(
            text="$0.06/s 1080p; $0.12/s 1440p; $0.24/s 2160p",
            rates={("1080p", ANY): D("0.06"), ("1440p", ANY): D("0.12"), ("2160p", ANY): D("0.24")},
        ),
    ),
)
