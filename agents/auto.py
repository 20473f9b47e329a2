"""``coscientist: auto``: the LLM co-scientist when an endpoint is configured, else the offline one.

The endpoint is chosen by settings (``CFL_LLM_BASE_URL``, ``CFL_LLM_MODEL``, ``CFL_LLM_API_KEY``;
:mod:`agents.llm.settings`), so the same campaign file runs with a model where one is served and
on a fresh machine without one.
"""

from __future__ import annotations

from agents.llm.coscientist import LLMCoScientist
from agents.offline import OfflineCoScientist
from cfl.spec import CampaignSpec

__all__ = ["from_spec"]


def from_spec(spec: CampaignSpec) -> LLMCoScientist | OfflineCoScientist:
    """The co-scientist the settings call for.

    Raises:
        SpecError: the endpoint settings are half-configured or malformed.
    """
    llm = LLMCoScientist.from_settings(spec=spec, sink=None)
    return llm if llm is not None else OfflineCoScientist.from_spec(spec)
