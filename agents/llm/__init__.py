"""The LLM co-scientist: LangChain chat models on any OpenAI-compatible endpoint.

Modules, imported on demand (this package imports nothing, so reading the settings stays cheap):

- :mod:`agents.llm.settings`: ``CFL_LLM_*`` settings, offline when none are set;
- :mod:`agents.llm.factory`: the one factory for chat models;
- :mod:`agents.llm.calls`: a :class:`~agents.llm.calls.ModelCall` record for every model call;
- :mod:`agents.llm.structured`: answers of a pydantic schema, failures as CFL errors;
- :mod:`agents.llm.prompts`, :mod:`agents.llm.roles`: what each role is told and asked;
- :mod:`agents.llm.coscientist`: :class:`~agents.llm.coscientist.LLMCoScientist`.
"""
