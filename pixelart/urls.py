from django.urls import path

from pixelart import views

app_name = "pixelart"

urlpatterns = [
    path("history/<uuid:item_id>/pixel-art/", views.new, name="new"),
    path("history/<uuid:item_id>/pixel-art/section/", views.section, name="section"),
    path("history/<uuid:item_id>/use-last-frame/", views.last_frame, name="last_frame"),
    path("pixel-art/<uuid:art_id>/frames/<int:index>.png", views.frame, name="frame"),
    path("pixel-art/<uuid:art_id>/<str:name>", views.output, name="output"),
]
