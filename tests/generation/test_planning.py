"""The counting rules: how many videos a request makes, and which."""

import pytest

from generation.catalog import get_model
from generation.planning import JobMode, plan_job, plan_variants

KLING = get_model("kling-3-t2v")  # three ratios, 1 credit, no seed
VEO = get_model("veo-3.1")  # two ratios, 2 credits, takes a seed
KLING_I2V = get_model("kling-2.1-i2v")  # no ratios: follows the image


def combos(variants):
    return [(v.style, v.aspect_ratio) for v in variants]


def test_single_mode_makes_the_full_product_in_style_major_order():
    variants = plan_variants(styles=["a", "b", "c"], aspect_ratios=["16:9", "9:16"], mode=JobMode.SINGLE, count=1)
    assert combos(variants) == [
        ("a", "16:9"), ("a", "9:16"), ("b", "16:9"), ("b", "9:16"), ("c", "16:9"), ("c", "9:16"),
    ]
    assert [v.index for v in variants] == list(range(6))


def test_batch_mode_spreads_exactly_n_round_robin():
    variants = plan_variants(styles=["A", "B", "C"], aspect_ratios=["16:9", "9:16"], mode=JobMode.BATCH, count=5)
    assert combos(variants) == [("A", "16:9"), ("A", "9:16"), ("B", "16:9"), ("B", "9:16"), ("C", "16:9")]


def test_batch_mode_wraps_with_new_seeds():
    variants = plan_variants(styles=["A", "B"], aspect_ratios=["1:1"], mode=JobMode.BATCH, count=5, seed=10)
    assert combos(variants) == [("A", "1:1"), ("B", "1:1")] * 2 + [("A", "1:1")]
    assert [v.seed for v in variants] == [10, 10, 11, 11, 12]


def test_seeds_wrap_within_the_allowed_range():
    variants = plan_variants(styles=["A"], aspect_ratios=["1:1"], mode=JobMode.BATCH, count=2, seed=2**31 - 1)
    assert [v.seed for v in variants] == [2**31 - 1, 0]


def test_without_a_seed_the_model_chooses():
    variants = plan_variants(styles=["A"], aspect_ratios=["1:1"], mode=JobMode.BATCH, count=3)
    assert [v.seed for v in variants] == [None, None, None]


def test_single_mode_ignores_count():
    assert len(plan_variants(styles=["A"], aspect_ratios=["1:1", "16:9"], mode=JobMode.SINGLE, count=7)) == 2


@pytest.mark.parametrize("bad", [{"styles": []}, {"aspect_ratios": []}, {"mode": JobMode.BATCH, "count": 0}])
def test_an_empty_plan_is_a_programming_error(bad):
    arguments = {"styles": ["A"], "aspect_ratios": ["1:1"], "mode": JobMode.SINGLE, "count": 1, **bad}
    with pytest.raises(ValueError):
        plan_variants(**arguments)


def test_no_choice_means_no_style_and_the_models_first_ratio():
    plan = plan_job(spec=KLING, styles=[], aspect_ratios=[], mode=JobMode.SINGLE)
    assert (plan.styles, plan.aspect_ratios, plan.count, plan.credits) == (("none",), ("16:9",), 1, 1)


def test_duplicates_are_dropped_keeping_order():
    plan = plan_job(spec=KLING, styles=["anime", "noir", "anime"], aspect_ratios=["9:16", "9:16"], mode=JobMode.SINGLE)
    assert (plan.styles, plan.aspect_ratios) == (("anime", "noir"), ("9:16",))


def test_an_image_model_has_no_ratio_axis():
    plan = plan_job(spec=KLING_I2V, styles=["anime", "noir"], aspect_ratios=["16:9", "9:16"], mode=JobMode.SINGLE)
    assert plan.aspect_ratios == ("",) and plan.count == 2
    assert plan.describe() == "2 styles = 2 videos · 2 credits"


def test_cost_follows_the_models_price():
    plan = plan_job(spec=VEO, styles=["anime"], aspect_ratios=["16:9", "9:16"], mode=JobMode.SINGLE)
    assert (plan.count, plan.credits) == (2, 4)


@pytest.mark.parametrize(
    ("styles", "ratios", "mode", "count", "line"),
    [
        (["a", "b", "c"], ["16:9", "9:16"], JobMode.SINGLE, 1, "3 styles × 2 aspect ratios = 6 videos · 6 credits"),
        ([], [], JobMode.SINGLE, 1, "1 style × 1 aspect ratio = 1 video · 1 credit"),
        (["a", "b", "c"], ["16:9", "9:16"], JobMode.BATCH, 5, "5 videos over 3 styles × 2 aspect ratios (5 of 6 combinations) · 5 credits"),
        (["a", "b"], ["16:9"], JobMode.BATCH, 5, "5 videos over 2 styles × 1 aspect ratio (2 combinations, 3 repeated with new seeds) · 5 credits"),
    ],
)
def test_the_summary_line(styles, ratios, mode, count, line):
    assert plan_job(spec=KLING, styles=styles, aspect_ratios=ratios, mode=mode, count=count).describe() == line
