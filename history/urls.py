from django.urls import path

from history import views

app_name = "history"

urlpatterns = [
    path("", views.gallery, name="gallery"),
    path("updates/", views.card_updates, name="updates"),
    path("bulk/", views.bulk, name="bulk"),
    path("<uuid:item_id>/", views.detail, name="detail"),
    path("<uuid:item_id>/retry/", views.retry, name="retry"),
    path("<uuid:item_id>/cancel/", views.cancel, name="cancel"),
    path("<uuid:item_id>/delete/", views.delete, name="delete"),
    path("<uuid:item_id>/rate/", views.rate, name="rate"),
    path("<uuid:item_id>/favourite/", views.favourite, name="favourite"),
    path("<uuid:item_id>/video/", views.media, {"kind": "video"}, name="video"),
    path("<uuid:item_id>/poster/", views.media, {"kind": "poster"}, name="poster"),
    path("<uuid:item_id>/input/", views.media, {"kind": "input"}, name="input"),
    path("<uuid:item_id>/last-frame/", views.media, {"kind": "end"}, name="end-image"),
]
