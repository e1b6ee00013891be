"""The HTML of the host-facing pages. Data arrives later from ``/app/api/*`` through the pages' own
scripts; what is here is the structure, the words, and the landmarks screen readers navigate by.

Everything is served from this origin only: a Sandstorm grain's UI runs under a strict
Content-Security-Policy (docs/sandstorm.md §UI Content-Security-Policy), so there are no external
assets, no inline scripts and no inline styles anywhere.
"""

from __future__ import annotations

import html

from starlette.responses import HTMLResponse

from app.downloads import DOWNLOAD_PATH
from common.config import Mode

# The player role's position in the package's `roles` list (sandstorm-pkgdef.capnp): Sandstorm's
# offer templates name a role by index (docs/sandstorm.md §Offer templates).
PLAYER_ROLE_ID = 1
# A friend's name, on the invite form of either mode; the page API refuses longer ones too.
MAX_FRIEND_NAME = 40


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def page(
    title: str,
    body: str,
    *,
    status_code: int = 200,
    script: str | None = None,
    nav: str = "",
    data: dict[str, str] | None = None,
) -> HTMLResponse:
    attributes = "".join(f' data-{esc(k)}="{esc(v)}"' for k, v in (data or {}).items())
    script_tag = f'\n<script type="module" src="/static/{esc(script)}"></script>' if script else ""
    document = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} · Soirée</title>
<link rel="stylesheet" href="/static/soiree.css">
<link rel="icon" href="/static/soiree.svg" type="image/svg+xml">{script_tag}
</head>
<body{attributes}>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<a class="brand" href="/"><img src="/static/soiree.svg" alt="" width="32" height="32">Soirée</a>
{nav}
</header>
<main id="main" tabindex="-1">
{body}
</main>
<div id="announcer" class="visually-hidden" role="status" aria-live="polite"></div>
</body>
</html>
"""
    return HTMLResponse(document, status_code=status_code)


def message(title: str, text: str, status_code: int) -> HTMLResponse:
    return page(
        title,
        f'<section class="card narrow"><h1>{esc(title)}</h1><p>{text}</p></section>',
        status_code=status_code,
    )


# ---------------------------------------------------------------------------------------------
# The host's dashboard

DASHBOARD_NAV = """<nav class="sections" aria-label="Dashboard sections">
<a href="#invite">Invite</a><a href="#party">Party</a><a href="#shares">Shares</a>
<a href="#traffic">Traffic</a><a href="#health">Health</a>
</nav>"""

SANDSTORM_INVITE = f"""<p>Each friend gets a key of their own. Type their name, create the key, and send
them the text Sandstorm shows: they paste it into their Soirée client (the Godot demo, or any
Godot game with the Soirée addon) to join.</p>
<form id="invite-form" class="inline-form" data-role-id="{PLAYER_ROLE_ID}">
<label for="invite-name">Friend's name</label>
<input id="invite-name" name="name" maxlength="{MAX_FRIEND_NAME}"
 autocomplete="off" placeholder="Ada" required>
<button type="submit">Create a key</button>
</form>
<p id="invite-error" class="error" role="alert" hidden></p>
<ol id="invite-results" class="invite-results" aria-label="Keys created on this page"></ol>
<p class="hint">A key that is never used expires five minutes after you leave this page. Once
your friend has used it, it stays valid until you revoke it in Sandstorm's
<strong>Share access → See who has access</strong>, where it is listed under your friend's name.</p>"""

STANDALONE_INVITE = f"""<p>Each friend gets an invite link of their own. Type their name, create the link,
and send it to them: they paste it into their Soirée client (the Godot demo, or any Godot game with
the Soirée addon) to join.
Revoke a link here to shut its holder out.</p>
<form id="invite-form" class="inline-form">
<label for="invite-name">Friend's name</label>
<input id="invite-name" name="label" maxlength="{MAX_FRIEND_NAME}"
 autocomplete="off" placeholder="Ada" required>
<button type="submit">Create an invite link</button>
</form>
<p id="invite-error" class="error" role="alert" hidden></p>
<div id="invite-new" class="invite-new" hidden>
<label for="invite-new-link">Send this link to <span id="invite-new-name"></span>:</label>
<div class="copy-row"><input id="invite-new-link" readonly>
<button type="button" class="secondary" data-copy="invite-new-link">Copy</button></div>
</div>
<h3 id="invites-heading">Invite links</h3>
<ul id="invites" class="invites" aria-labelledby="invites-heading"></ul>
<p id="invites-empty" class="empty" hidden>No invite links yet.</p>"""


SEND_THE_CLIENT = f"""<p class="hint">Friends new to V-Sekai can start with the
<a href="{DOWNLOAD_PATH}" download>Godot demo and addon (zip)</a>: send it along.</p>"""


def dashboard(mode: Mode) -> HTMLResponse:
    invite = SANDSTORM_INVITE if mode == "sandstorm" else STANDALONE_INVITE
    error = '<p id="invite-error" class="error" role="alert" hidden></p>'
    invite = invite.replace(error, error + "\n" + SEND_THE_CLIENT)
    body = f"""<h1 class="visually-hidden">Host dashboard</h1>
<p id="connection" class="banner" role="status" hidden></p>
<div class="grid">
<section id="invite" class="card wide" aria-labelledby="invite-title">
<h2 id="invite-title">Invite a player</h2>
{invite}
</section>

<section id="party" class="card wide" aria-labelledby="party-title">
<div class="card-head">
<h2 id="party-title">The party</h2>
<p id="party-summary" class="summary" aria-live="polite">Looking for the relay…</p>
</div>
<p id="party-empty" class="empty" hidden>Nobody is here yet. A room appears as soon as the first
player joins it.</p>
<div id="room-panel" hidden>
<div class="room-bar">
<label for="room-select">Room</label>
<select id="room-select"></select>
<button type="button" id="reset-room" class="danger" aria-describedby="reset-help">Reset room</button>
<span id="reset-help" class="hint">removes every object in the room; players stay</span>
</div>
<div class="map-and-legend">
<figure class="map">
<svg id="map" role="group" aria-labelledby="map-caption" viewBox="0 0 100 100"
 preserveAspectRatio="xMidYMid meet" focusable="false"></svg>
<figcaption id="map-caption">Top-down map of the room: each dot is an object at its
position, filled with its Owner's colour; the ring shows its Master's colour.</figcaption>
</figure>
<div class="legend">
<h3 id="members-heading">Members</h3>
<div class="table-wrap">
<table id="members" class="data" aria-labelledby="members-heading">
<thead><tr><th scope="col">Name</th><th scope="col">Latency</th><th scope="col">Connected since</th>
<th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody></tbody>
</table>
</div>
<p id="members-empty" class="empty" hidden>Nobody is in this room right now.</p>
</div>
</div>
<h3 id="objects-heading">Objects</h3>
<div class="table-wrap">
<table id="objects" class="data" aria-labelledby="objects-heading">
<thead><tr><th scope="col">Object</th><th scope="col">Owner</th><th scope="col">Master</th>
<th scope="col">Position</th><th scope="col">Rule</th></tr></thead>
<tbody></tbody>
</table>
</div>
<p id="objects-empty" class="empty" hidden>No objects in this room.</p>
</div>
</section>

<section id="shares" class="card wide" aria-labelledby="shares-title">
<div class="card-head">
<h2 id="shares-title">What each player holds</h2>
<p id="shares-summary" class="summary" aria-live="polite">Looking for the relay…</p>
</div>
<form id="policy-form" class="inline-form">
<label for="player-rooms">New rooms each player may create</label>
<input id="player-rooms" name="player_rooms" type="number" min="0" step="1" required
 aria-describedby="policy-help">
<button type="submit">Save</button>
</form>
<p id="policy-help" class="hint">0: players only join rooms that exist (the lobby, and rooms you
create). A room stops counting once nobody is in it and nothing is saved in it.</p>
<p id="shares-error" class="error" role="alert" hidden></p>
<div class="table-wrap">
<table id="accounts" class="data" aria-labelledby="shares-title">
<thead><tr><th scope="col">Player</th><th scope="col">Objects</th><th scope="col">Saved</th>
<th scope="col">Saved data</th><th scope="col">Rooms created</th>
<th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody></tbody>
</table>
</div>
<p id="accounts-empty" class="empty" hidden>Nobody holds anything in the party yet.</p>
</section>

<section id="traffic" class="card wide" aria-labelledby="traffic-title">
<h2 id="traffic-title">Traffic</h2>
<dl class="tiles">
<div><dt>Messages in</dt><dd id="rate-messages-in">–</dd></div>
<div><dt>Messages out</dt><dd id="rate-messages-out">–</dd></div>
<div><dt>Data in</dt><dd id="rate-bytes-in">–</dd></div>
<div><dt>Data out</dt><dd id="rate-bytes-out">–</dd></div>
<div><dt>Refused updates</dt><dd id="refused">–</dd></div>
</dl>
<div class="charts">
<figure class="chart">
<canvas id="chart-messages" role="img" aria-label="Messages per second: no data yet"></canvas>
<figcaption>Messages per second, last 5 minutes
<span class="key in">in</span> <span class="key out">out</span></figcaption></figure>
<figure class="chart"><canvas id="chart-bytes" role="img" aria-label="Data per second: no data yet"></canvas>
<figcaption>Data per second, last 5 minutes
<span class="key in">in</span> <span class="key out">out</span></figcaption></figure>
</div>
</section>

<section id="health" class="card wide" aria-labelledby="health-title">
<h2 id="health-title">Health</h2>
<div class="table-wrap">
<table id="processes" class="data" aria-labelledby="health-title">
<thead><tr><th scope="col">Part</th><th scope="col">State</th><th scope="col">Answers</th>
<th scope="col">Up for</th><th scope="col">Restarts</th></tr></thead>
<tbody></tbody>
</table>
</div>
<p id="supervisor-down" class="error" hidden>The supervisor does not answer, so the parts' states are
unknown.</p>
<dl class="facts">
<div><dt>Database</dt><dd id="db-kind">–</dd></div>
<div><dt>Database size</dt><dd id="db-size">–</dd></div>
<div><dt>Database files on disk</dt><dd id="db-store">–</dd></div>
<div><dt>Var directory</dt><dd id="var-size">–</dd></div>
</dl>
</section>
</div>"""
    return page("Host dashboard", body, script="dashboard.js", nav=DASHBOARD_NAV, data={"mode": mode})


# ---------------------------------------------------------------------------------------------
# The player's pages


def _get_the_client() -> str:
    return f"""<li><strong>Get the client.</strong> Any Godot 4 game with the Soirée addon joins this
party, games made with Godot's own multiplayer too once they use the addon's
<code>SoireeMultiplayerPeer</code>; the Soirée demo is a small one to start with.
<a class="button" href="{DOWNLOAD_PATH}" download>Download
the Godot demo and addon (zip)</a> Open it in Godot 4.3 or newer (<em>Import</em> →
<code>project.godot</code>) and press <em>Play</em>. (V-Sekai's own client can use this party's
accounts and content; its multiplayer runs over UDP, which cannot reach the party, and would
need the addon's peer in its place.)</li>"""


def player(mode: Mode, address: str) -> HTMLResponse:
    if mode == "sandstorm":
        link = """<li><strong>Paste your key.</strong> Ask the host for a key of your own. It looks like
<code>https://api-…#…</code>. Paste it whole into the client's party field, type your name and
press <em>Join</em>. Keep it to yourself: it is your ticket in.</li>"""
    else:
        link = f"""<li><strong>Paste your invite link.</strong> Ask the host for an invite link of your
own. It looks like <code>{esc(address)}/invite/…</code>. Paste it into the client's party field, type
your name and press <em>Join</em>. Keep it to yourself: it is your ticket in.</li>"""
    address_line = (
        ""
        if mode == "sandstorm"
        else f'<p class="hint">This party\'s address: <code class="address">{esc(address)}</code></p>\n'
    )
    body = f"""<section class="hero" aria-labelledby="play-title">
<h1 id="play-title">You're invited to a V-Sekai party</h1>
<p>This is a private party server for V-Sekai, the open-source social VR platform built on
Godot. Everyone who joins shares one world: avatars, objects and rooms are kept in sync by this
server, and nothing leaves it.</p>
</section>
<div class="grid">
<section class="card" aria-labelledby="join-title">
<h2 id="join-title">How to join</h2>
<ol class="steps">
{_get_the_client()}
{link}
<li><strong>Play.</strong> You arrive in the lobby with everyone else.</li>
</ol>
{address_line}</section>
<section id="rooms" class="card" aria-labelledby="rooms-title">
<h2 id="rooms-title">Who is here</h2>
<p id="rooms-summary" class="summary" aria-live="polite">Looking…</p>
<ul id="room-list" class="room-list"></ul>
</section>
</div>"""
    return page("Join the party", body, script="player.js", data={"mode": mode})


def invite(address: str, link: str) -> HTMLResponse:
    body = f"""<section class="hero" aria-labelledby="invite-title">
<h1 id="invite-title">You're invited to a V-Sekai party</h1>
<p>This link is your personal invitation to a private party server for V-Sekai, the
open-source social VR platform built on Godot. It is meant to be pasted into the game, not
opened in a browser: nothing has happened yet.</p>
</section>
<div class="grid">
<section class="card" aria-labelledby="use-title">
<h2 id="use-title">How to use it</h2>
<ol class="steps">
{_get_the_client()}
<li><strong>Paste this link</strong> into the client's party field:
<div class="copy-row"><label class="visually-hidden" for="invite-link">Your invite link</label>
<input id="invite-link" readonly value="{esc(link)}">
<button type="button" class="secondary" data-copy="invite-link">Copy</button></div></li>
<li><strong>Type your name and press <em>Join</em>.</strong> The first time you join, the name
you type becomes yours at this party.</li>
</ol>
<p class="hint">The link is yours alone: whoever holds it joins as you. If the host revokes
it, the client says so; ask them for a new one. More about this party:
<a href="/play">{esc(address)}/play</a>.</p>
</section>
</div>"""
    return page("Your invitation", body, script="invite.js")
