"""What the co-scientist's roles are told: the campaign rendered as compact text, and the prompts.

Everything a model reads about a campaign comes from here, so a prompt's content can be read off
one module. Text is plain and compact (a pipe table for the data, one line per parameter and per
hypothesis): small local models read it as well as large ones, and it costs few tokens.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from langchain_core.prompts import ChatPromptTemplate

from cfl.hypotheses import HypothesisDraft
from cfl.models import Experiment, ExperimentStatus, Hypothesis, Observation, Prediction
from cfl.space import CategoricalParameter, ContinuousParameter
from cfl.spec import CampaignSpec

__all__ = [
    "EVOLUTION",
    "GENERATION",
    "META_REVIEW",
    "RANKING",
    "REFLECTION",
    "describe_candidate",
    "describe_hypotheses",
    "describe_objectives",
    "describe_space",
    "experiment_table",
]

NONE = "(none)"


def describe_space(spec: CampaignSpec) -> str:
    """One line per parameter: name, type, bounds or levels, unit."""
    lines = []
    for p in spec.space.parameters:
        if isinstance(p, CategoricalParameter):
            lines.append(f"- {p.name}: categorical, levels {', '.join(p.levels)}")
            continue
        unit = f" {p.unit}" if p.unit else ""
        scale = ", log scale" if isinstance(p, ContinuousParameter) and p.log_scale else ""
        lines.append(f"- {p.name}: {p.type} in [{p.low:g}, {p.high:g}]{unit}{scale}")
    return "\n".join(lines)


def describe_objectives(spec: CampaignSpec) -> str:
    """One line per objective: direction, unit, weight, repeatability."""
    lines = []
    for o in spec.objectives:
        unit = f" ({o.unit})" if o.unit else ""
        role = "recorded, not optimised" if o.weight == 0 else f"weight {o.weight:g}"
        noise = f", measurement sd {o.noise_sd:g}" if o.noise_sd is not None else ""
        lines.append(f"- {o.name}{unit}: {o.direction}, {role}{noise}")
    return "\n".join(lines)


def experiment_table(
    spec: CampaignSpec,
    experiments: Sequence[Experiment],
    observations: Mapping[str, Observation],
    *,
    max_rows: int,
) -> str:
    """The finished experiments as a pipe table of conditions and objective values.

    Only experiments with an observation appear; beyond ``max_rows``, the latest ones.
    """
    done = [e for e in experiments if e.status == ExperimentStatus.DONE and e.id in observations]
    if not done:
        return NONE
    shown = done[-max_rows:]
    names = [p.name for p in spec.space.parameters]
    objectives = [o.name for o in spec.objectives]
    rows = [
        "| id | " + " | ".join(names + objectives) + " |",
        "|" + "---|" * (1 + len(names) + len(objectives)),
    ]
    for e in shown:
        values = observations[e.id].values
        cells = [_cell(e.params[n]) for n in names]
        cells += [_cell(values[o]) if o in values else "" for o in objectives]
        rows.append(f"| {e.id} | " + " | ".join(cells) + " |")
    if len(shown) < len(done):
        rows.append(f"(the latest {len(shown)} of {len(done)} finished experiments)")
    return "\n".join(rows)


def describe_prediction(prediction: Prediction) -> str:
    """The prediction as compact JSON, the form the model writes it in."""
    return json.dumps(prediction.model_dump(mode="json"), separators=(",", ":"))


def describe_candidate(item: Hypothesis | HypothesisDraft) -> str:
    """A hypothesis for a reviewer or judge: claim, kind, prediction, rationale; no author."""
    return (
        f"Statement: {item.statement}\nKind: {item.kind}\n"
        f"Prediction: {describe_prediction(item.prediction)}\nRationale: {item.rationale}"
    )


def describe_hypotheses(hypotheses: Sequence[Hypothesis], *, evidence: bool = True) -> str:
    """One line per registered hypothesis, with where its evidence and ranking stand."""
    if not hypotheses:
        return NONE
    lines = []
    for h in hypotheses:
        standing = (
            f" [{h.status.value}; credence {h.credence:.2f} on {h.evidence_n} observations; "
            f"Elo {h.elo:.0f}]"
            if evidence
            else ""
        )
        lines.append(
            f"- {h.id}{standing} {h.statement} | prediction {describe_prediction(h.prediction)}"
        )
    return "\n".join(lines)


def _cell(value: float | int | str) -> str:
    return f"{value:.5g}" if isinstance(value, float) else str(value)


_SYSTEM = (
    "You are the co-scientist of a self-driving chemistry lab. A robot and instruments run the "
    "experiments; a Bayesian optimiser chooses most conditions; you reason about the response: "
    "which effects, interactions and optima explain the data and are worth testing next. Every "
    "claim must come with a prediction a computer can check against measured data. Be concrete "
    "and brief, use only the parameter and objective names you are given, and answer in the "
    "JSON format asked for."
)

_CAMPAIGN = (
    "Campaign goal:\n{goal}\n\n"
    "Search space (the lab only runs conditions inside these bounds):\n{space}\n\n"
    "Objectives:\n{objectives}\n\n"
)

_PREDICTIONS = (
    "Each hypothesis needs a prediction of one of these types:\n"
    "- trend: over [low, high] of a numeric variable, the objective rises (sign 1) or falls "
    "(sign -1);\n"
    "- best_level: one level of a categorical variable gives the best objective on average;\n"
    "- interaction: the effect of a numeric variable on the objective changes with a numeric "
    "moderator (sign of the product term: 1, the objective rises more with the variable when "
    "the moderator is high; -1, the reverse);\n"
    "- optimum: the best value of a numeric variable lies within [low, high].\n"
    "Ranges must lie inside the parameter's bounds, with low below high. kind is effect for "
    "trends and best levels, interaction for interactions, region for optima, mechanism for a "
    "claim about the chemistry behind any of them."
)

GENERATION = ChatPromptTemplate.from_messages(
    [
        ("system", _SYSTEM),
        (
            "human",
            _CAMPAIGN + "Finished experiments:\n{data}\n\n"
            "Researcher notes:\n{notes}\n\n"
            "Hypotheses already registered (do not repeat them):\n{hypotheses}\n\n"
            "Propose at most {n} new hypotheses worth testing next, each grounded in the data or "
            "in chemistry (say which in the rationale). Propose fewer, or none, rather than weak "
            "ones.\n" + _PREDICTIONS,
        ),
    ]
)

REFLECTION = ChatPromptTemplate.from_messages(
    [
        ("system", _SYSTEM),
        (
            "human",
            _CAMPAIGN + "Hypotheses already registered:\n{hypotheses}\n\n"
            "Review this new hypothesis before it is registered:\n{candidate}\n\n"
            "In notes, say briefly what you checked. Then judge:\n"
            "- novel: it does not claim the same as a registered hypothesis;\n"
            "- testable: experiments inside the search space can support or refute its "
            "prediction, and the prediction matches the statement;\n"
            "- safe: testing it needs no conditions, reagents or handling beyond what the "
            "campaign already uses.",
        ),
    ]
)

RANKING = ChatPromptTemplate.from_messages(
    [
        ("system", _SYSTEM),
        (
            "human",
            _CAMPAIGN + "Which of these two hypotheses is more worth testing next: more "
            "plausible, more informative for the goal, and more clearly testable?\n\n"
            "Hypothesis A:\n{a}\n\nHypothesis B:\n{b}\n\n"
            "Give your reason first, then the winner, A or B.",
        ),
    ]
)

EVOLUTION = ChatPromptTemplate.from_messages(
    [
        ("system", _SYSTEM),
        (
            "human",
            _CAMPAIGN + "Finished experiments:\n{data}\n\n"
            "The best-ranked hypotheses so far:\n{top}\n\n"
            "All registered hypotheses (do not repeat them):\n{hypotheses}\n\n"
            "Improve on the best ones: sharpen a range the data support, merge two into an "
            "interaction, or state the optimum they point to. Propose at most {n} new "
            "hypotheses, none identical to a registered one.\n" + _PREDICTIONS,
        ),
    ]
)

META_REVIEW = ChatPromptTemplate.from_messages(
    [
        ("system", _SYSTEM),
        (
            "human",
            _CAMPAIGN + "Finished experiments:\n{data}\n\n"
            "Hypotheses, with their evidence and ranking:\n{hypotheses}\n\n"
            "Write a short summary for the researcher (a few sentences: what the data show, which "
            "hypotheses hold, what is still open) and up to three concrete next steps.",
        ),
    ]
)
