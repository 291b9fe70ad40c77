"""Pixel art over the JSON API: ask for it from a video, read its result, fetch its
files with the same authentication as the rest of the API."""

from __future__ import annotations

from collections.abc import Mapping

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from api.errors import ApiError, ErrorSerializer, credit_error
from credits.services import CreditRefused
from history.selectors import history_for
from pixelart.forms import PixelArtForm
from pixelart.models import PixelArt, PixelArtStatus
from pixelart.palettes import PALETTE_CHOICES
from pixelart.render import MAX_FPS, MAX_FRAMES, SIZE_PRESETS
from pixelart.selectors import pixel_arts_for
from pixelart.services import PixelArtRefused, check_source, request_pixel_art
from pixelart.views import serve_output


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


class PixelArtRequestSerializer(serializers.Serializer):
    """Every option has a default. JSON types are checked here; the rules (ranges,
    combinations, the video's length) are the page's form's."""

    size = serializers.IntegerField(required=False, allow_null=True, help_text=f"Square side: one of {', '.join(map(str, SIZE_PRESETS))}. Default 64.")
    width = serializers.IntegerField(required=False, allow_null=True, help_text="Instead of size: this width (16–256), keeping the video's aspect ratio.")
    fit = serializers.CharField(required=False, help_text="crop (default) or pad: how a non-square video becomes square.")
    start = serializers.FloatField(required=False, allow_null=True, help_text="Seconds into the video. Default 0.")
    end = serializers.FloatField(required=False, allow_null=True, help_text="Seconds; default the end of the video.")
    fps = serializers.IntegerField(required=False, allow_null=True, help_text=f"1–{MAX_FPS}: a frame every 1/fps s, played at that rate. Default 8 unless frames is given.")
    frames = serializers.IntegerField(required=False, allow_null=True, help_text=f"1–{MAX_FRAMES}. Alone: spread evenly over the range; with fps: that many from the start.")
    palette = serializers.CharField(required=False, help_text=f"One of: {', '.join(key for key, _ in PALETTE_CHOICES)}. Default adaptive.")
    colors = serializers.IntegerField(required=False, allow_null=True, help_text="Adaptive palette: at most this many colours, 2–256. Default 16.")
    dither = serializers.CharField(required=False, help_text="none (default) or floyd-steinberg.")
    transparent = serializers.BooleanField(required=False, help_text="Make the background (the colour around the edges) and any padding transparent.")
    layout = serializers.CharField(required=False, help_text="Sheet JSON layout: hash (default) or array.")

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise serializers.ValidationError({"non_field_errors": [_("Send a JSON object.")]})
        unknown = sorted(set(data) - set(self.fields))
        values = super().to_internal_value(data)
        if unknown:
            raise serializers.ValidationError({name: [_("Not an option.")] for name in unknown})
        form = PixelArtForm(data={k: v for k, v in values.items() if v is not None}, source=self.context["source"])
        if not form.is_valid():
            raise serializers.ValidationError(
                {("non_field_errors" if key == "__all__" else key): messages for key, messages in form.errors.items()}
            )
        return {"options": form.options}


class PixelArtAcceptedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=PixelArtStatus.choices)
    progress = serializers.IntegerField()
    reused = serializers.BooleanField(help_text="True when the same settings on the same video had been asked for before.")


class PixelArtSerializer(serializers.ModelSerializer):
    source = serializers.UUIDField(source="source_id", read_only=True, help_text="The history item it was made from.")
    status = serializers.ChoiceField(choices=PixelArtStatus.choices, read_only=True)
    sprite_sheet_url = serializers.SerializerMethodField()
    gif_url = serializers.SerializerMethodField()
    zip_url = serializers.SerializerMethodField()
    metadata_url = serializers.SerializerMethodField(help_text="The sheet's JSON description (Aseprite / TexturePacker layout).")
    error_message = serializers.CharField(source="error_text", read_only=True, help_text="Why it failed, in the request's language.")

    class Meta:
        model = PixelArt
        fields = [
            "id", "source", "status", "progress", "error_message", "options", "frame_count", "width", "height",
            "colors", "frame_durations", "sprite_sheet_url", "gif_url", "zip_url", "metadata_url", "created_at",
            "finished_at",
        ]

    def _url(self, art: PixelArt, name: str) -> str | None:
        if art.status != PixelArtStatus.COMPLETED:
            return None
        path = reverse("api:pixel-art-file", args=[art.pk, name])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_sprite_sheet_url(self, art) -> str | None:
        return self._url(art, "sprite-sheet.png")

    def get_gif_url(self, art) -> str | None:
        return self._url(art, "animation.gif")

    def get_zip_url(self, art) -> str | None:
        return self._url(art, "frames.zip")

    def get_metadata_url(self, art) -> str | None:
        return self._url(art, "sprite-sheet.json")


class PixelArtCreateView(APIView):
    """Turn a finished video into pixel-art frames, in the background."""

    @extend_schema(
        request=PixelArtRequestSerializer,
        responses={
            202: PixelArtAcceptedSerializer,
            400: _error("Invalid options; see `fields`."),
            404: _error("Not found, or not yours."),
            403: _error("The account is suspended (code account_suspended)."),
            409: _error("The video is not finished (code not_completed)."),
        },
    )
    def post(self, request, item_id):
        item = get_object_or_404(history_for(request.user), pk=item_id)
        try:
            check_source(item)  # first: the options are judged against the finished video
            serializer = PixelArtRequestSerializer(data=request.data, context={"request": request, "source": item})
            serializer.is_valid(raise_exception=True)
            art, reused = request_pixel_art(user=request.user, source=item, options=serializer.validated_data["options"])
        except PixelArtRefused as refused:
            raise ApiError(status_code=status.HTTP_409_CONFLICT, code="not_completed", message=refused.message) from refused
        except CreditRefused as refused:  # a suspended account: 403 account_suspended
            raise credit_error(refused) from refused
        body = {"id": art.pk, "status": art.status, "progress": art.progress, "reused": reused}
        return Response(PixelArtAcceptedSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class PixelArtView(APIView):
    """A pixel art: its progress, and once completed its size, colours and files."""

    @extend_schema(responses={200: PixelArtSerializer, 404: _error("Not found, or not yours.")})
    def get(self, request, art_id):
        art = get_object_or_404(pixel_arts_for(request.user), pk=art_id)
        return Response(PixelArtSerializer(art, context={"request": request}).data)


class _AnyAccept(BaseContentNegotiation):
    """A file answers whatever the client accepts; errors still come as JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class PixelArtFileView(APIView):
    """One of a completed pixel art's files: sprite-sheet.png, sprite-sheet.json,
    animation.gif or frames.zip."""

    content_negotiation_class = _AnyAccept

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, 404: _error("Not found, not yours, or not ready.")})
    def get(self, request, art_id, name):
        art = get_object_or_404(pixel_arts_for(request.user), pk=art_id)
        return serve_output(request, art, name)
