"""Every add form the admin offers ends in a page, never a 500: an empty form comes
back with its errors, and models that only the product itself creates (jobs, tasks,
records) offer no add form at all."""

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

pytestmark = pytest.mark.django_db

# Made by users through the product (or by the pipeline), never by hand in the admin.
NOT_ADDED_BY_STAFF = ["generation.job", "generation.task", "generation.webhookdelivery", "history.historyitem"]


def add_url(model):
    try:
        return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
    except NoReverseMatch:
        return None


def test_jobs_cannot_be_added_in_the_admin(staff):
    assert staff.get("/admin/generation/job/add/").status_code == 403
    assert staff.post("/admin/generation/job/add/", {}).status_code == 403
    assert b"/admin/generation/job/add/" not in staff.get("/admin/generation/job/").content


@pytest.mark.parametrize("label", NOT_ADDED_BY_STAFF)
def test_models_the_product_makes_offer_no_add_form(staff, label):
    app_label, model_name = label.split(".")
    assert staff.get(f"/admin/{app_label}/{model_name}/add/").status_code == 403


def test_every_add_form_offered_answers_an_empty_save_with_its_errors(staff, rf, boss):
    request = rf.get("/admin/")
    request.user = boss
    checked = []
    for model, model_admin in admin.site._registry.items():
        url = add_url(model)
        if url is None or not model_admin.has_add_permission(request):
            continue
        page = staff.get(url)
        assert page.status_code == 200, url
        saved = staff.post(url, {})
        # An empty form is refused with its errors (200) or, where every field is
        # optional, saved (302): either way, never a server error.
        assert saved.status_code in (200, 302), (url, saved.status_code)
        checked.append(url)
    assert "/admin/auth/user/add/" in checked and "/admin/generation/job/add/" not in checked
