"""The leaderboard: problems with hidden answers, submissions, scores, and the web app.

Modules: :mod:`~leaderboard.sealing` (hidden labs and their commitments),
:mod:`~leaderboard.ledger` (a signed chain per problem), :mod:`~leaderboard.db` (its tables),
:mod:`~leaderboard.scoring` (regret, AUC, bootstrap CIs, tied ranks),
:mod:`~leaderboard.runs` (running strategies on hidden labs, scoring runs),
:mod:`~leaderboard.boards` (board lines, ranking, what shows before the reveal),
:mod:`~leaderboard.service` (every operation), :mod:`~leaderboard.app` (FastAPI, ``cfl web``).
"""
