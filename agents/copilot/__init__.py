"""The researcher's copilot (``cfl chat``): questions and requests about campaigns, via tools.

- :mod:`agents.copilot.tools`: the tools, their argument models and the rules they enforce;
- :mod:`agents.copilot.agent`: the tool-calling loop over a LangChain chat model;
- :mod:`agents.copilot.offline`: simple commands read without a model;
- :mod:`agents.copilot.cli`: the ``cfl chat`` command.
"""
