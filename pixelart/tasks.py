"""The background step of pixel art, on the same task framework as the rest. It is
enqueued only through `pixelart.services.enqueue_pixel_art`.

Something no service expected is a bug of ours: the pixel art fails with a plain
message (the traceback kept for staff) and the exception still reaches the worker."""

import traceback

from django.tasks import task

from pixelart.services import FAILED_INTERNAL, fail_pixel_art, make_pixel_art


@task()
def make_pixel_art_step(pixel_art_id: str) -> None:
    try:
        make_pixel_art(pixel_art_id=pixel_art_id)
    except Exception:
        fail_pixel_art(pixel_art_id=pixel_art_id, message=FAILED_INTERNAL, detail=traceback.format_exc())
        raise
