from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from api import pixelart, projects, views

router = DefaultRouter()
router.register("jobs", views.JobViewSet, basename="job")
router.register("tasks", views.TaskViewSet, basename="task")
router.register("history", views.HistoryViewSet, basename="history")
router.register("projects", projects.ProjectViewSet, basename="project")

app_name = "api"

urlpatterns = [
    path("me/", views.MeView.as_view(), name="me"),
    path("models/", views.ModelsView.as_view(), name="models"),
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI from our own static files (drf-spectacular-sidecar). drf-spectacular's
    # Redoc page is left out: its template loads fonts from a CDN.
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("history/<uuid:item_id>/pixel-art/", pixelart.PixelArtCreateView.as_view(), name="pixel-art-create"),
    path("pixel-art/<uuid:art_id>/", pixelart.PixelArtView.as_view(), name="pixel-art"),
    path("pixel-art/<uuid:art_id>/files/<str:name>", pixelart.PixelArtFileView.as_view(), name="pixel-art-file"),
    path("", include(router.urls)),
]
