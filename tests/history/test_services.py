"""Ratings of a card's video: recorded, replaced, refused when they make no sense."""

import pytest

from generation.models import TaskStatus
from history.models import Rating
from history.services import RatingRefused, rate_item
from tests.factories import make_task

pytestmark = pytest.mark.django_db


def test_a_finished_video_is_rated_and_rating_again_replaces_it(user):
    item = make_task(user=user, status=TaskStatus.COMPLETED).history_item
    rate_item(item=item, stars=2, note="  too dark ")
    rate_item(item=item, stars=5, note="better on a second look")
    assert list(Rating.objects.values_list("item_id", "stars", "note")) == [(item.pk, 5, "better on a second look")]


@pytest.mark.parametrize(("status", "stars"), [(TaskStatus.IN_PROGRESS, 4), (TaskStatus.COMPLETED, 0), (TaskStatus.COMPLETED, 6)])
def test_unfinished_videos_and_stars_outside_one_to_five_are_refused(user, status, stars):
    item = make_task(user=user, status=status).history_item
    with pytest.raises(RatingRefused):
        rate_item(item=item, stars=stars)
    assert not Rating.objects.exists()
