"""The offline copilot: plain commands mapped onto the same tools, no language model needed.

A few regular expressions read the intent and its arguments (campaign, hypothesis and experiment
ids, a hypothesis's prediction); the tool does the rest, with the same checks as for a model.
Anything else gets the list of what is understood. The first answer says, once, that no model is
configured.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agents.copilot.tools import OPERATOR_PROCEDURE, Toolbox, ToolCall

__all__ = ["HELP", "OFFLINE_NOTICE", "Intent", "OfflineCopilot", "Turn", "parse"]

OFFLINE_NOTICE = (
    "(Offline: no language model is configured, so I understand simple commands only; set "
    "CFL_LLM_BASE_URL and CFL_LLM_MODEL for free-form chat.)"
)

HELP = """\
I understand:
  list campaigns
  status of CAMPAIGN
  best result [in CAMPAIGN]
  explain H02 in CAMPAIGN
  verify the ledger of CAMPAIGN
  pause CAMPAIGN [because ...]          resume CAMPAIGN
  approve E0009 E0010 in CAMPAIGN [because ...]
  reject E0011 in CAMPAIGN [because ...]
  edit E0012 in CAMPAIGN: temperature=100, equivalents=2 [because ...]
  add hypothesis to CAMPAIGN: yield rises with temperature over 40 to 100
      (also: "... falls with ...", "the best temperature for yield lies between 60 and 90",
       "EtOH is the best solvent for yield",
       "the effect of temperature on yield grows with equivalents")
Without a campaign, read-only questions use the newest one. Acting needs `cfl chat --as NAME`."""


@dataclass(frozen=True)
class Turn:
    """One answer: the text for the researcher and the tool calls made for it."""

    text: str
    calls: list[ToolCall] = field(default_factory=list)


@dataclass(frozen=True)
class Intent:
    """What a message asks for: a tool with its arguments, or a ready answer."""

    tool: str | None
    args: dict[str, Any] = field(default_factory=dict)
    answer: str = ""


_NUMBER = r"(-?\d+(?:\.\d+)?)"
_ASSIGNMENT = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([^\s,;]+)")


def _value(text: str) -> float | str:
    """A number where the text is one (the space checks the rest), else the text (a level)."""
    try:
        return float(text)
    except ValueError:
        return text


_RANGE = rf"(?:over|between|from|in|within)\s*\[?\s*{_NUMBER}\s*(?:to|and|-|–|,|\.\.)\s*{_NUMBER}"
_WORD = r"([A-Za-z_][A-Za-z0-9_]*)"
_UP = r"(?:rises|increases|goes up|grows|improves)"
_DOWN = r"(?:falls|decreases|goes down|drops|shrinks|declines)"

_SAFETY = re.compile(
    r"e-?stop|emergency stop|\blease\b|\binterlock\b"
    r"|\b(?:move|drive|jog|steer|teleoperate|control|operate)\b.*\b(?:robot|arm|kapex|gripper)\b"
    r"|\b(?:robot|arm|kapex|gripper)\b.*\b(?:move|drive|jog|pick|place|grasp|go)\b"
    r"|\brelease\b.*\b(?:device|robot|reactor|hplc)\b",
    re.IGNORECASE,
)
_HYPOTHESIS_ID = re.compile(r"\bH\d{1,3}\b", re.IGNORECASE)
_EXPERIMENT_ID = re.compile(r"\bE\d{1,6}\b")
_CAMPAIGN_LIKE = re.compile(r"\b([a-z0-9][a-z0-9-]*-\d+)\b")
_NOTE = re.compile(r"(?:\bbecause\b|\bnote:|\breason:)\s*(.+)$", re.IGNORECASE | re.DOTALL)


def _has(pattern: str, text: str) -> bool:
    return re.search(pattern, text, re.IGNORECASE) is not None


def _campaign(text: str, known: list[str]) -> str | None:
    """The campaign a message names: a known id first (longest match), else an id-like token."""
    for campaign in sorted(known, key=len, reverse=True):
        if re.search(rf"(?<![\w-]){re.escape(campaign)}(?![\w-])", text):
            return campaign
    match = _CAMPAIGN_LIKE.search(text)
    return match.group(1) if match else None


def _note(text: str) -> str:
    match = _NOTE.search(text)
    return match.group(1).strip() if match else ""


def _prediction(text: str) -> tuple[dict[str, Any], str] | None:
    """``(prediction, kind)`` read from a hypothesis in words, if one of the forms matches."""
    if m := re.search(rf"{_WORD}\s+({_UP}|{_DOWN})\s+with\s+{_WORD}\s+{_RANGE}", text, re.I):
        sign = 1 if re.fullmatch(_UP, m.group(2), re.I) else -1
        prediction = {
            "type": "trend",
            "objective": m.group(1),
            "variable": m.group(3),
            "sign": sign,
        }
        return {**prediction, "low": float(m.group(4)), "high": float(m.group(5))}, "effect"
    if m := re.search(rf"best\s+{_WORD}\s+for\s+{_WORD}\s+(?:lies|is)?\s*{_RANGE}", text, re.I):
        prediction = {"type": "optimum", "objective": m.group(2), "variable": m.group(1)}
        return {**prediction, "low": float(m.group(3)), "high": float(m.group(4))}, "region"
    if m := re.search(
        rf"effect\s+of\s+{_WORD}\s+on\s+{_WORD}\s+({_UP}|{_DOWN})\s+with\s+{_WORD}", text, re.I
    ):
        sign = 1 if re.fullmatch(_UP, m.group(3), re.I) else -1
        prediction = {"type": "interaction", "objective": m.group(2), "variable": m.group(1)}
        return {**prediction, "moderator": m.group(4), "sign": sign}, "interaction"
    if m := re.search(rf"(\S+)\s+is\s+the\s+best\s+{_WORD}\s+for\s+{_WORD}", text, re.I):
        prediction = {"type": "best_level", "objective": m.group(3), "variable": m.group(2)}
        return {**prediction, "level": m.group(1)}, "effect"
    return None


def parse(text: str, known: list[str]) -> Intent:
    """The intent of ``text``, given the campaigns in the store (newest first)."""
    message = text.strip()
    if not message or _has(r"^(?:help|\?|what can you do)", message):
        return Intent(None, answer=HELP)
    if _SAFETY.search(message):
        return Intent(None, answer=f"I can't do that. {OPERATOR_PROCEDURE}")
    if _has(r"\b(?:list|show|which|what)\b.*\bcampaigns\b|^campaigns$", message):
        return Intent("list_campaigns")
    campaign = _campaign(message, known)
    newest = known[0] if known else None

    def need_campaign(action: str) -> Intent | None:
        if campaign is None:
            return Intent(None, answer=f"Which campaign? Say e.g. '{action} {newest or 'NAME-1'}'.")
        return None

    if _has(r"\b(?:add|propose|register|new)\b.*\bhypothes[ie]s\b", message):
        if missing := need_campaign("add hypothesis to"):
            return missing
        statement = message.split(":", 1)[1].strip() if ":" in message else message
        found = _prediction(statement)
        if found is None:
            return Intent(
                None,
                answer="I could not read a prediction in that. Say e.g. 'add hypothesis to "
                f"{campaign}: yield rises with temperature over 40 to 100'.\n\n{HELP}",
            )
        prediction, kind = found
        args = {"campaign": campaign, "statement": statement, "kind": kind}
        return Intent("add_hypothesis", {**args, "prediction": prediction})
    if _has(r"^\s*(?:edit|change|set)\b", message):
        if missing := need_campaign("edit E0012 in"):
            return missing
        ask = _NOTE.split(message, maxsplit=1)[0]
        experiments = list(dict.fromkeys(_EXPERIMENT_ID.findall(ask)))
        params = {name: _value(value) for name, value in _ASSIGNMENT.findall(ask)}
        if len(experiments) != 1 or not params:
            return Intent(
                None,
                answer=f"Say which experiment and what to change, e.g. 'edit E0012 in {campaign}: "
                "temperature=100'.",
            )
        edit = {"campaign": campaign, "experiment": experiments[0], "params": params}
        return Intent("edit_experiment", {**edit, "note": _note(message)})
    for verb, tool in (("approve", "approve_experiments"), ("reject", "reject_experiments")):
        if _has(rf"\b{verb}\b", message):
            if missing := need_campaign(f"{verb} E0009 in"):
                return missing
            ask = _NOTE.split(message, maxsplit=1)[0]  # ids in the reason are not decided on
            experiments = list(dict.fromkeys(_EXPERIMENT_ID.findall(ask)))
            if not experiments:
                return Intent(
                    None, answer=f"Which experiments? Say e.g. '{verb} E0009 E0010 in {campaign}'."
                )
            decision = {"campaign": campaign, "experiments": experiments, "note": _note(message)}
            return Intent(tool, decision)
    if _has(r"\b(?:resume|unpause|continue)\b", message):
        return need_campaign("resume") or Intent(
            "resume_campaign", {"campaign": campaign, "note": _note(message)}
        )
    if _has(r"\b(?:pause|hold|suspend)\b", message):
        return need_campaign("pause") or Intent(
            "pause_campaign", {"campaign": campaign, "note": _note(message)}
        )
    target = campaign or newest
    if target is None:
        return Intent("list_campaigns")
    if _has(r"\b(?:verify|ledger|integrity|tamper)", message):
        return Intent("verify_ledger", {"campaign": target})
    hypothesis = _HYPOTHESIS_ID.search(message)
    if hypothesis is not None:
        return Intent("explain_hypothesis", {"campaign": target, "hypothesis": hypothesis.group()})
    if _has(r"\b(?:best|top|highest|optimum|winner)\b", message):
        return Intent("best_result", {"campaign": target})
    if campaign is not None or _has(r"\b(?:status|progress|how is|how's|state)\b", message):
        return Intent("campaign_status", {"campaign": target})
    return Intent(None, answer=f"I did not understand that.\n\n{HELP}")


class OfflineCopilot:
    """Answers messages with the tools, reading intents with :func:`parse`."""

    offline = True

    def __init__(self, toolbox: Toolbox) -> None:
        self._toolbox = toolbox
        self._told = False

    def respond(self, text: str) -> Turn:
        """One answer to ``text``."""
        known = [info.id for info in self._toolbox.store.campaigns()]
        intent = parse(text, known)
        calls: list[ToolCall] = []
        if intent.tool is None:
            answer = intent.answer
        else:
            result = self._toolbox.call(intent.tool, intent.args)
            calls.append(self._toolbox.calls[-1])
            answer = result.text
        if not self._told:
            self._told = True
            answer = f"{OFFLINE_NOTICE}\n{answer}"
        return Turn(answer, calls)
