# ruff: noqa: E501  (HTML templates: lines are markup, not code)
"""The pages' Jinja2 templates, kept in Python so that no package-data is needed (autoescaped)."""

from __future__ import annotations

from jinja2 import DictLoader, Environment, select_autoescape

__all__ = ["environment"]

_BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{% if refresh %}<meta http-equiv="refresh" content="{{ refresh }}">{% endif %}
<title>{{ title }} · CFL</title>
<style>
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:0 1em;color:#222}
nav{padding:.6em 0;border-bottom:1px solid #ddd;margin-bottom:1em}
nav a{margin-right:1.2em}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{border-bottom:1px solid #eee;padding:4px 6px;text-align:left}
th a{text-decoration:none}
.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#080}.bad{color:#b00}.muted{color:#777}
form.inline{display:inline}
label{display:block;margin:.4em 0}
pre{background:#f6f6f6;padding:.6em;white-space:pre-wrap}
</style></head><body>
<nav><a href="/">Problems</a><a href="/submit">Submit</a><a href="/register">Register</a>
<a href="/campaigns">Campaigns</a><a href="/chat">Copilot</a><a href="/docs-api">API</a></nav>
<main>{% block body %}{% endblock %}</main></body></html>"""

_INDEX = """{% extends "base.html" %}{% block body %}
<h1>Problems</h1>
<form method="get" action="/">
 <label class="inline">Status <select name="status">
  <option value="">any</option>
  {% for s in ["open", "closed"] %}<option value="{{ s }}"{% if status == s %} selected{% endif %}>{{ s }}</option>{% endfor %}
 </select></label>
 <label class="inline">Kind <select name="kind">
  <option value="">any</option>
  {% for k in ["sealed", "open"] %}<option value="{{ k }}"{% if kind == k %} selected{% endif %}>{{ k }}</option>{% endfor %}
 </select></label>
 <button type="submit">Filter</button>
</form>
<table id="problems"><thead><tr><th>Problem</th><th>Title</th><th>Kind</th><th>Status</th>
<th class="num">Budget</th><th class="num">Entries</th></tr></thead><tbody>
{% for p in problems %}<tr><td><a href="/problems/{{ p.id }}">{{ p.id }}</a></td><td>{{ p.title }}</td>
<td>{{ p.kind }}</td><td>{{ p.status }}</td><td class="num">{{ p.budget }}</td>
<td class="num">{{ p.entries }}</td></tr>{% else %}<tr><td colspan="6">No problems.</td></tr>{% endfor %}
</tbody></table>{% endblock %}"""

_PROBLEM = """{% extends "base.html" %}{% block body %}
<h1>{{ problem.title }} <span class="muted">({{ problem.id }}, {{ problem.kind }}, {{ problem.status }})</span></h1>
<p>{{ card.text }}</p>
{% if problem.kind == "sealed" %}
<p>Objective <b>{{ card.objective.name }}</b>, {{ card.objective.direction }}; {{ card.space|length }}
parameters in [0, 1]; budget {{ problem.budget }} experiments; {{ problem.public_seeds }} public and
{{ problem.private_seeds }} private seeds. Commitment <code>{{ problem.commitment }}</code>
(<a href="/problems/{{ problem.id }}/ledger">ledger</a>).
{% if problem.status == "open" %}<a href="/problems/{{ problem.id }}/submit">Submit a strategy</a>.{% endif %}</p>
{% else %}
<p>Objective <b>{{ card.objective.name }}</b>, {{ card.objective.direction }}; judged by campaign
<a href="/campaigns/{{ problem.campaign }}">{{ problem.campaign }}</a> (<a href="/problems/{{ problem.id }}/ledger">ledger</a>).</p>
{% endif %}
{% if revealed %}<h2>Reveal</h2><p>Optimum {{ revealed.optimum }} at <code>{{ revealed.optimum_point }}</code>;
the reveal {% if reveal_ok %}<span class="ok">matches</span>{% else %}<span class="bad">does NOT match</span>{% endif %} the commitment.</p>{% endif %}
<form method="get" action="/problems/{{ problem.id }}">
 <label class="inline">Split <select name="split">{% for s in ["public", "private"] %}
  <option value="{{ s }}"{% if split == s %} selected{% endif %}>{{ s }}</option>{% endfor %}</select></label>
 <label class="inline">Kind <select name="kind"><option value="">any</option>{% for k in ["strategy", "session", "lab"] %}
  <option value="{{ k }}"{% if kind == k %} selected{% endif %}>{{ k }}</option>{% endfor %}</select></label>
 <label class="inline">Name or participant <input name="q" value="{{ q }}" maxlength="80"></label>
 <input type="hidden" name="sort" value="{{ sort }}"><input type="hidden" name="order" value="{{ order }}">
 <button type="submit">Filter</button>
</form>
{% if split == "private" and problem.status != "closed" %}<p>The private split is shown when the problem closes.</p>{% endif %}
<table id="board"><thead><tr>
{% for key, label in columns %}<th{% if key not in ("name", "participant", "kind", "strategy") %} class="num"{% endif %}>
<a href="{{ sort_links[key] }}" data-sort="{{ key }}">{{ label }}{% if sort == key %} {{ "▼" if order == "desc" else "▲" }}{% endif %}</a></th>{% endfor %}
<th>Ledger</th></tr></thead><tbody>
{% for r in rows %}<tr data-id="{{ r.id }}">
<td class="num">{{ r.rank }}</td><td><a href="/submissions/{{ r.id }}">{{ r.name }}</a></td><td>{{ r.participant }}</td>
<td>{{ r.kind }}</td><td>{{ r.strategy }}</td>
{% if show_truth %}<td class="num">{{ fmt(r.regret) }} <span class="muted">[{{ fmt(r.regret_low) }}, {{ fmt(r.regret_high) }}]</span></td>
<td class="num">{{ fmt(r.auc) }}</td>{% endif %}
<td class="num">{{ fmt(r.best) }}</td><td class="num">{{ r.experiments }}</td><td class="num">{{ fmt(r.wall_s) }}</td>
<td>{% if r.record %}<code>{{ r.record }}</code>{% endif %}</td></tr>
{% else %}<tr><td colspan="11">No scores yet.</td></tr>{% endfor %}
</tbody></table>
{% if problem.kind == "sealed" %}
<h2>Convergence</h2><img src="/problems/{{ problem.id }}/convergence.svg" alt="{{ "mean regret" if show_truth else "mean best measured value" }} after each experiment, best entries">
<h2>Score against budget</h2><img src="/problems/{{ problem.id }}/budget.svg" alt="{{ "final regret" if show_truth else "best found" }} against experiments per seed">
{% endif %}
{% if problem.kind == "sealed" and not show_truth %}<p class="muted" id="sealed-note">While the problem is open, entries rank by the best value measured (mean over seeds with a
bootstrap 95 % CI). Regret and AUC are computed on the sealed truth and appear, with the private split, when the problem
closes: next to your own measurements they would give the optimum away.</p>
{% else %}<p class="muted">{{ "Regret" if show_truth else "Best found" }}: mean over seeds with a bootstrap 95 % CI; entries whose CIs overlap share a rank.</p>{% endif %}
{% endblock %}"""

_SUBMIT = """{% extends "base.html" %}{% block body %}
<h1>Submit a strategy</h1>
{% if error %}<p class="bad">{{ error }}</p>{% endif %}
{% if done %}<p class="ok">Submission {{ done }} queued: it runs on the server; the board shows it when scored.
<a href="/problems/{{ problem_id }}">Back to the board</a>.</p>{% endif %}
<form method="post" action="/submit" id="submit-form">
 <label>Problem <select name="problem">{% for p in problems %}
  <option value="{{ p.id }}"{% if p.id == problem_id %} selected{% endif %}>{{ p.id }} — {{ p.title }}</option>{% endfor %}</select></label>
 <label>Your API token <input name="token" type="password" required maxlength="200"></label>
 <label>Entry name <input name="name" required maxlength="80"></label>
 <label>Strategy <select name="strategy">{% for s in strategies %}<option>{{ s }}</option>{% endfor %}</select></label>
 <label>Batch size <input name="batch" type="number" min="1" max="8" value="1"></label>
 <label>Initial design (space-filling experiments before the model) <input name="initial_design" type="number" min="1" max="60" value="{{ initial_design }}"></label>
 <label>Budget per seed (empty: the problem's) <input name="budget" type="number" min="1" max="60"></label>
 <button type="submit">Submit</button>
</form>
<p class="muted">A strategy is a named planner run with its documented defaults; nothing you send is executed as code.</p>
{% endblock %}"""

_REGISTER = """{% extends "base.html" %}{% block body %}
<h1>Register</h1>
{% if error %}<p class="bad">{{ error }}</p>{% endif %}
{% if token %}<p>Your API token (shown once; keep it): <code id="token">{{ token }}</code></p>{% endif %}
<form method="post" action="/register"><label>Name <input name="name" required maxlength="80"></label>
<button type="submit">Get a token</button></form>{% endblock %}"""

_SUBMISSION = """{% extends "base.html" %}{% block body %}
<h1>Submission {{ s.id }}: {{ s.name }}</h1>
<p>Problem <a href="/problems/{{ s.problem_id }}">{{ s.problem_id }}</a>; by {{ s.participant }};
{{ s.kind }} {{ s.strategy }}; status <b>{{ s.status }}</b>{% if s.error %} — {{ s.error }}{% endif %}.</p>
{% if s.status == "done" %}<table>
{% if truth %}<tr><th>Public regret</th><td class="num">{{ fmt(s.regret) }} [{{ fmt(s.regret_low) }}, {{ fmt(s.regret_high) }}]</td></tr>
<tr><th>AUC</th><td class="num">{{ fmt(s.auc) }}</td></tr>{% elif sealed %}<tr><th>Regret, AUC</th><td>sealed until the problem closes</td></tr>{% endif %}
<tr><th>Best found</th><td class="num">{{ fmt(s.best) }}</td></tr>
<tr><th>Experiments</th><td class="num">{{ s.experiments }}</td></tr>
<tr><th>Wall time (s)</th><td class="num">{{ fmt(s.wall_s) }}</td></tr>
{% if private and truth %}<tr><th>Private regret</th><td class="num">{{ fmt(s.p_regret) }}</td></tr>{% endif %}
<tr><th>Ledger record</th><td><code>{{ s.record }}</code></td></tr>
{% if evidence %}<tr><th>Scored from</th><td>{% for e in evidence %}<code>{{ e }}</code> {% endfor %}</td></tr>{% endif %}
</table>{% endif %}{% endblock %}"""

_CAMPAIGNS = """{% extends "base.html" %}{% block body %}
<h1>Campaigns</h1>
<table id="campaigns"><thead><tr><th>Campaign</th><th>Name</th><th class="num">Records</th><th>Updated</th><th>Finished</th></tr></thead><tbody>
{% for c in campaigns %}<tr><td><a href="/campaigns/{{ c.id }}">{{ c.id }}</a></td><td>{{ c.name }}</td>
<td class="num">{{ c.head_seq }}</td><td>{{ c.updated_at }}</td><td>{{ "yes" if c.finished else "" }}</td></tr>
{% else %}<tr><td colspan="5">No campaigns in the store.</td></tr>{% endfor %}</tbody></table>{% endblock %}"""

_CAMPAIGN = """{% extends "base.html" %}{% block body %}
<h1>Campaign {{ c.id }}</h1>
<p>{{ c.spec.goal }} — {{ "finished: " ~ c.finished.reason if c.finished else ("paused" if c.paused else "running or waiting") }}.
Rounds completed {{ c.rounds_completed }}; experiments by status:
{% for status, n in statuses %}{{ status }} {{ n }}{% if not loop.last %}, {% endif %}{% endfor %}.
<a href="/campaigns/{{ c.id }}/verify">Verify the ledger</a>.</p>
<h2>Progress</h2><img src="/campaigns/{{ c.id }}/progress.svg" alt="best score after each round">
<h2>Hypotheses</h2>
<table><thead><tr><th>Id</th><th>Statement</th><th>Status</th><th class="num">Credence</th><th class="num">Evidence n</th><th class="num">log10 BF</th><th class="num">Elo</th></tr></thead><tbody>
{% for h in hypotheses %}<tr><td>{{ h.id }}</td><td>{{ h.statement }}</td><td>{{ h.status }}</td>
<td class="num">{{ "%.2f"|format(h.credence) }}</td><td class="num">{{ h.evidence_n }}</td>
<td class="num">{{ "%.2f"|format(h.log10_bf) }}</td><td class="num">{{ "%.0f"|format(h.elo) }}</td></tr>
{% else %}<tr><td colspan="7">No hypotheses.</td></tr>{% endfor %}</tbody></table>
<h2>Devices (as the record knows them)</h2>
<table><thead><tr><th>Device</th><th>State</th><th>Detail</th></tr></thead><tbody>
{% for d in devices %}<tr><td>{{ d.name }}</td><td>{{ d.state }}</td><td>{{ d.detail }}</td></tr>{% endfor %}
</tbody></table>{% endblock %}"""

_VERIFY = """{% extends "base.html" %}{% block body %}
<h1>Ledger verification: {{ subject }}</h1>
{% if ok %}<p class="ok">Verified.</p>{% else %}<p class="bad">Does NOT verify.</p>{% endif %}
<pre>{% for line in lines %}{{ line }}
{% endfor %}</pre>
{% if records %}<table><thead><tr><th>Record</th><th>Type</th><th>Time</th><th>Hash</th></tr></thead><tbody>
{% for r in records %}<tr><td>{{ r.id }}</td><td>{{ r.type }}</td><td>{{ r.ts }}</td><td><code>{{ r.hash[:16] }}…</code></td></tr>{% endfor %}
</tbody></table>{% endif %}{% endblock %}"""

_CHAT = """{% extends "base.html" %}{% block body %}
<h1>Copilot</h1>
<div id="conversation">{% if message %}<p><b>You:</b> {{ message }}</p>
<pre id="reply">{{ reply }}</pre>{% endif %}</div>
<form method="post" action="/chat" id="chat-form"><label>Message <input name="message" required maxlength="2000" size="60"></label>
<button type="submit">Send</button></form>
<p class="muted">Read-only offline copilot: try "list campaigns", "status of CAMPAIGN", "best result", "help".</p>{% endblock %}"""

_API = """{% extends "base.html" %}{% block body %}
<h1>HTTP API</h1>
<pre>POST /api/participants                      {"name": "..."}            -> {"id", "token"} (shown once)
GET  /api/problems                                                        -> public problem cards
GET  /api/problems/{id}/leaderboard?split=public&amp;sort=rank
POST /api/problems/{id}/submissions          {"name", "strategy", "batch"}   (Authorization: Bearer TOKEN)
GET  /api/submissions/{id}
POST /api/problems/{id}/sessions             {"name"}                       -> {"session", "budget", "space"}
POST /api/problems/{id}/sessions/{sid}/experiments  {"params": {"x1": 0.5, ...}} -> {"n", "measured", "remaining"}
POST /api/problems/{id}/sessions/{sid}/finish                              -> {"submission"}</pre>
<p>Strategies: {{ strategies|join(", ") }}.</p>{% endblock %}"""

_ERROR = """{% extends "base.html" %}{% block body %}<h1>{{ status }}</h1><p>{{ message }}</p>{% endblock %}"""


def environment() -> Environment:
    """The template environment (autoescape on for every template)."""
    return Environment(
        loader=DictLoader(
            {
                "base.html": _BASE,
                "index.html": _INDEX,
                "problem.html": _PROBLEM,
                "submit.html": _SUBMIT,
                "register.html": _REGISTER,
                "submission.html": _SUBMISSION,
                "campaigns.html": _CAMPAIGNS,
                "campaign.html": _CAMPAIGN,
                "verify.html": _VERIFY,
                "chat.html": _CHAT,
                "api.html": _API,
                "error.html": _ERROR,
            }
        ),
        autoescape=select_autoescape(default=True, default_for_string=True),
        auto_reload=False,
    )
