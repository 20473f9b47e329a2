from __future__ import annotations

import pytest

from cfl import hypotheses
from cfl.errors import SpecError
from cfl.hypotheses import HypothesisDraft, check_draft, prediction_key
from cfl.models import BestLevel, Interaction, Optimum, Prediction, Trend
from cfl.spec import CampaignSpec


def _draft(prediction: Prediction) -> HypothesisDraft:
    return HypothesisDraft(
        statement="s", kind="effect", prediction=prediction, rationale="r", author="human:ada"
    )


def test_predictions_inside_the_space_pass(small_spec: CampaignSpec) -> None:
    for prediction in (
        Trend(objective="yield", variable="temperature", sign=-1, low=60, high=120),
        Interaction(objective="yield", variable="temperature", moderator="equivalents", sign=1),
        Optimum(objective="e_factor", variable="residence_time", low=0.5, high=1.0),
    ):
        check_draft(small_spec, _draft(prediction))


@pytest.mark.parametrize(
    ("prediction", "field", "words"),
    [
        (
            Trend(objective="yield", variable="temperature", sign=1, low=150, high=200),
            "prediction.low",
            "range [150, 200] of temperature must be increasing and inside its bounds [30, 120]",
        ),
        (
            Optimum(objective="yield", variable="temperature", low=90, high=60),
            "prediction.low",
            "range [90, 60]",
        ),
        (
            Trend(objective="purity", variable="temperature", sign=1, low=30, high=60),
            "prediction.objective",
            "unknown objective 'purity'; the campaign measures ['yield', 'e_factor']",
        ),
        (
            Trend(objective="yield", variable="pressure", sign=1, low=1, high=2),
            "prediction.variable",
            "'pressure' is not a numeric parameter of the space",
        ),
        (
            BestLevel(objective="yield", variable="temperature", level="hot"),
            "prediction.variable",
            "'temperature' is not a categorical parameter of the space; categorical parameters: []",
        ),
        (
            Interaction(objective="yield", variable="temperature", moderator="temperature", sign=1),
            "prediction.moderator",
            "two different parameters",
        ),
    ],
)
def test_a_prediction_outside_the_space_is_refused_naming_the_field(
    small_spec: CampaignSpec, prediction: Prediction, field: str, words: str
) -> None:
    with pytest.raises(SpecError) as caught:
        check_draft(small_spec, _draft(prediction))
    assert caught.value.field == field
    assert words in caught.value.message


def test_an_interaction_is_the_same_claim_whichever_variable_is_named_first() -> None:
    a = Interaction(objective="yield", variable="temperature", moderator="equivalents", sign=1)
    b = Interaction(objective="yield", variable="equivalents", moderator="temperature", sign=1)
    assert prediction_key(a) == prediction_key(b)
    assert prediction_key(a) != prediction_key(a.model_copy(update={"sign": -1}))


def test_only_a_trend_is_limited_to_its_range() -> None:
    point = {"temperature": 100.0, "equivalents": 2.0}
    assert not hypotheses.tested_by(
        Trend(objective="yield", variable="temperature", sign=1, low=30, high=60), point
    )
    assert hypotheses.tested_by(
        Optimum(objective="yield", variable="temperature", low=30, high=60), point
    )
