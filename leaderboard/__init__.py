"""The FastAPI web app: leaderboard, submissions, dashboards and copilot chat (to come)."""
