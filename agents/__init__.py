"""Co-scientists that propose hypotheses; ``agents.offline`` needs no LLM."""
