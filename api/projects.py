"""Projects in the API: a user's albums and their ordered slots, through the same
services as the project pages."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.response import Response

from api.errors import ErrorSerializer
from api.serializers import HistoryItemSerializer
from api.views import UUID_PATTERN
from history.selectors import history_for
from projects import services
from projects.models import Project, Slot
from projects.selectors import own_project, project_slots, projects_for

NOT_FOUND = {404: OpenApiResponse(ErrorSerializer, description="Not found, or not yours.")}
INVALID = {400: OpenApiResponse(ErrorSerializer, description="Invalid input; see `fields`.")}


class ProjectSerializer(serializers.ModelSerializer):
    slot_count = serializers.IntegerField(source="slot_total", read_only=True)
    video_count = serializers.IntegerField(source="filled", read_only=True)

    class Meta:
        model = Project
        fields = ["id", "name", "created_at", "slot_count", "video_count"]
        read_only_fields = ["id", "created_at"]


class ProjectWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120, help_text="1 to 120 characters.")


class SlotSerializer(serializers.ModelSerializer):
    item = HistoryItemSerializer(allow_null=True, help_text="The video in this slot; null when the slot is empty.")

    class Meta:
        model = Slot
        fields = ["id", "position", "item"]


class SlotsAddSerializer(serializers.Serializer):
    items = serializers.ListField(
        child=serializers.UUIDField(), min_length=1, max_length=100,
        help_text="History item ids, your own, put into the first free slots in this order.",
    )


class ReorderSerializer(serializers.Serializer):
    slots = serializers.ListField(child=serializers.IntegerField(), help_text="Every slot id of the project once, in the new order.")


class TransferSerializer(serializers.Serializer):
    project = serializers.UUIDField(help_text="The project to move or copy the video into (yours).")


def _refused(field: str, refused: services.ProjectRefused) -> ValidationError:
    return ValidationError({field: [refused.message]})


class ProjectViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Your projects, newest first. A project keeps videos in ordered slots; a job
    started with `project` fills its first free slots."""

    serializer_class = ProjectSerializer
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Project.objects.none()
        return projects_for(self.request.user)

    def _project(self) -> Project:
        return self.get_object()

    def _answer(self, project: Project, code=status.HTTP_200_OK) -> Response:
        project = self.get_queryset().get(pk=project.pk)
        return Response(ProjectSerializer(project, context=self.get_serializer_context()).data, status=code)

    @extend_schema(request=ProjectWriteSerializer, responses={201: ProjectSerializer, **INVALID})
    def create(self, request):
        """Make a project."""
        body = ProjectWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            project = services.create_project(user=request.user, name=body.validated_data["name"])
        except services.ProjectRefused as refused:
            raise _refused("name", refused) from refused
        return self._answer(project, status.HTTP_201_CREATED)

    @extend_schema(request=ProjectWriteSerializer, responses={200: ProjectSerializer, **INVALID, **NOT_FOUND})
    def partial_update(self, request, pk=None):
        """Rename a project."""
        project = self._project()
        body = ProjectWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.rename_project(user=request.user, project=project, name=body.validated_data["name"])
        except services.ProjectRefused as refused:
            raise _refused("name", refused) from refused
        return self._answer(project)

    @extend_schema(responses={204: None, **NOT_FOUND})
    def destroy(self, request, *args, **kwargs):
        """Delete a project; its videos stay in your history."""
        services.delete_project(user=request.user, project=self._project())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses={200: ProjectSerializer(many=True), 404: OpenApiResponse(ErrorSerializer, description="No such page (code not_found).")})
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={200: ProjectSerializer, **NOT_FOUND})
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    def _slots(self, project: Project, code=status.HTTP_200_OK) -> Response:
        data = SlotSerializer(project_slots(project), many=True, context=self.get_serializer_context()).data
        return Response(data, status=code)

    @extend_schema(methods=["GET"], request=None, responses={200: SlotSerializer(many=True), **NOT_FOUND})
    @extend_schema(
        methods=["POST"], request=SlotsAddSerializer, responses={201: SlotSerializer(many=True), **INVALID, **NOT_FOUND}
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def slots(self, request, pk=None):
        """GET: the project's slots in order (empty ones too). POST: put your videos
        into the first free slots (slots are added at the end when too few); a video
        already in the project stays where it is. Answers every slot."""
        project = self._project()
        if request.method == "GET":
            return self._slots(project)
        body = SlotsAddSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        wanted = body.validated_data["items"]
        found = {item.pk: item for item in history_for(request.user).filter(pk__in=wanted)}
        missing = [str(pk) for pk in wanted if pk not in found]
        if missing:
            raise ValidationError({"items": [_("Not one of your videos: %(ids)s.") % {"ids": ", ".join(missing)}]})
        try:
            services.add_to_project(user=request.user, project=project, items=[found[pk] for pk in wanted])
        except services.ProjectRefused as refused:
            raise _refused("items", refused) from refused
        return self._slots(project, status.HTTP_201_CREATED)

    @extend_schema(request=ReorderSerializer, responses={200: SlotSerializer(many=True), **INVALID, **NOT_FOUND})
    @action(detail=True, methods=["post"], pagination_class=None)
    def reorder(self, request, pk=None):
        """Give the slots a new order: every slot id of the project, once each."""
        project = self._project()
        body = ReorderSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            services.reorder_slots(project=project, slot_ids=body.validated_data["slots"])
        except services.ProjectRefused as refused:
            raise _refused("slots", refused) from refused
        return self._slots(project)

    def _slot(self, project: Project, slot_id) -> Slot:
        return get_object_or_404(Slot.objects.select_related("project", "item"), pk=slot_id, project=project)

    def _transfer(self, request, pk, slot_id, *, copy: bool) -> Response:
        project = self._project()
        slot = self._slot(project, slot_id)
        body = TransferSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        target = own_project(request.user, body.validated_data["project"])
        if target is None:
            raise ValidationError({"project": [_("Not one of your projects.")]})
        try:
            if slot.item_id is None:
                raise services.ProjectRefused(_("That slot is empty."))
            if copy:
                services.copy_item(user=request.user, item=slot.item, target=target)
            else:
                services.move_item(user=request.user, slot=slot, target=target)
        except services.ProjectRefused as refused:
            raise _refused("non_field_errors", refused) from refused
        return self._slots(target)

    @extend_schema(request=TransferSerializer, responses={200: SlotSerializer(many=True), **INVALID, **NOT_FOUND})
    @action(detail=True, methods=["post"], url_path=r"slots/(?P<slot_id>\d+)/move", pagination_class=None)
    def move(self, request, pk=None, slot_id=None):
        """Move the slot's video into another project's first free slot; this slot
        is left empty. Answers the other project's slots."""
        return self._transfer(request, pk, slot_id, copy=False)

    @extend_schema(request=TransferSerializer, responses={200: SlotSerializer(many=True), **INVALID, **NOT_FOUND})
    @action(detail=True, methods=["post"], url_path=r"slots/(?P<slot_id>\d+)/copy", pagination_class=None)
    def copy(self, request, pk=None, slot_id=None):
        """Put the slot's video into another project as well. Answers the other project's slots."""
        return self._transfer(request, pk, slot_id, copy=True)

    @extend_schema(request=None, responses={200: SlotSerializer(many=True), **NOT_FOUND})
    @action(detail=True, methods=["post"], url_path=r"slots/(?P<slot_id>\d+)/clear", pagination_class=None)
    def clear(self, request, pk=None, slot_id=None):
        """Take the video out of the slot (it stays in your history); the slot stays, empty."""
        project = self._project()
        services.clear_slot(slot=self._slot(project, slot_id))
        return self._slots(project)
