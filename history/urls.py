from django.urls import path

from history import views

app_name = "history"

urlpatterns = [
    path("", views.gallery, name="gallery"),
    path("updates/", views.card_updates, name="updates"),
    path("<uuid:item_id>/", views.detail, name="detail"),
    path("<uuid:item_id>/retry/", views.retry, name="retry"),
    path("<uuid:item_id>/cancel/", views.cancel, name="cancel"),
    path("<uuid:item_id>/delete/", views.delete, name="delete"),
]
