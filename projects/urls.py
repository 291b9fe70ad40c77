from django.urls import path

from projects import views

app_name = "projects"

urlpatterns = [
    path("", views.project_list, name="list"),
    path("<uuid:project_id>/", views.project_detail, name="detail"),
    path("<uuid:project_id>/rename/", views.rename, name="rename"),
    path("<uuid:project_id>/delete/", views.delete, name="delete"),
    path("<uuid:project_id>/reorder/", views.reorder, name="reorder"),
    path("<uuid:project_id>/slots/<int:slot_id>/shift/", views.shift, name="shift"),
    path("<uuid:project_id>/slots/<int:slot_id>/remove/", views.slot_remove, name="remove"),
    path("<uuid:project_id>/slots/<int:slot_id>/transfer/", views.slot_transfer, name="transfer"),
]
