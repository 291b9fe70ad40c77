"""A pixel art's files (and a taken last frame's image) go with it, however it is deleted (with its video's card, or
with a job or account deleted in the admin), once the deletion is committed."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from pixelart.models import LastFrame, PixelArt


@receiver(post_delete, sender=PixelArt)
def remove_pixel_art_files(sender, instance: PixelArt, **kwargs) -> None:
    files = instance.files()
    if files:
        transaction.on_commit(lambda: [f.storage.delete(f.name) for f in files])


@receiver(post_delete, sender=LastFrame)
def remove_last_frame_image(sender, instance: LastFrame, **kwargs) -> None:
    image = instance.image
    if image:
        transaction.on_commit(lambda: image.storage.delete(image.name))
