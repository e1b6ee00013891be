"""The host's dashboard and the player's pages in a real browser, against a whole standalone party:
launcher.sh, supervisord, Caddy, PostgreSQL, the Uro-compatible API, the relay and the app.
Players are bots on the relay's Python SDK, signed in with the invite links the host made."""

from __future__ import annotations

import io
import itertools
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trio

from common.identity import read_ticket
from common.secretfiles import ticket_key
from relay.client import Disconnected, RelayClient, RelayError, open_relay
from relay.protocol import Lifetime, Rule, Status
from tests.app.dashboard import (
    DESKTOP,
    PHONE,
    StandaloneParty,
    map_object,
    map_point,
    member_row,
    no_horizontal_scroll,
    screenshot,
    standalone_party,
    text_of,
)
from tests.support.browser import Page, open_browser

pytestmark = pytest.mark.slow

CONTROLS = {"button", "textbox", "combobox", "link", "checkbox", "listbox"}


@pytest.fixture(scope="module")
def party() -> Iterator[StandaloneParty]:
    with standalone_party() as p:
        yield p


async def host_dashboard(page: Page, party: StandaloneParty) -> None:
    await page.set_viewport(*DESKTOP)
    await page.navigate(party.host_link)  # the key becomes a cookie and leaves the address bar
    assert await page.evaluate("location.pathname + location.search") == "/"
    await page.wait_for("!!document.querySelector('#processes tbody tr')", what="the health panel")


async def invite(page: Page, name: str) -> str:
    """The host types a friend's name and creates a link, as a person would."""
    await page.type("#invite-name", name)
    await page.click("#invite-form button[type=submit]")
    return str(
        await page.wait_for(
            f"!document.getElementById('invite-new').hidden"
            f" && document.getElementById('invite-new-name').textContent === {json.dumps(name)}"
            " && document.getElementById('invite-new-link').value",
            what="the new invite link",
        )
    )


async def wait_for_goodbye(client: RelayClient) -> int:
    with trio.fail_after(30):
        while client.goodbye is None:
            await trio.sleep(0.1)
    return client.goodbye.code


async def test_the_host_invites_a_player_watches_them_and_moderates(party: StandaloneParty) -> None:
    async with open_browser() as page:
        await host_dashboard(page, party)
        link = await invite(page, "Ada")
        assert link.startswith(f"{party.url}/invite/")
        await page.wait_for(
            "[...document.querySelectorAll('#invites .invite')]"
            ".some(li => li.textContent.includes('Ada') && li.textContent.includes('not used yet'))",
            what="Ada's invite in the list",
        )

        # Ada's client uses the link: the API signs her in, the relay lets her in with a ticket.
        signed_in = await trio.to_thread.run_sync(party.redeem, link)
        assert signed_in.status_code == 200, signed_in.text
        token = signed_in.json()["data"]["access_token"]
        async with open_relay(party.relay_url, ticket=lambda: party.ticket(token)) as ada:
            garden = await ada.join("garden")
            lamp = await garden.spawn(b"lamp", rule=Rule.ASK, position=(0.0, 1.0, 0.0))
            avatar = await garden.spawn(b"ada", rule=Rule.DENY, position=(1.0, 0.0, 2.0))
            await page.wait_for(
                "[...document.querySelectorAll('#room-select option')].some(o => o.value === 'garden')"
            )
            await page.select("#room-select", "garden")
            shown = await page.wait_for(map_object(avatar), what="Ada's avatar on the map")
            assert shown == ["1.0", "0.0", "2.0", str(ada.member), str(ada.member), "deny"]
            await trio.sleep(1.2)  # dots glide to their places

            async def offset() -> tuple[float, float]:
                """Where the avatar is drawn relative to the lamp, in screen pixels."""
                a, b = await page.evaluate(map_point(avatar)), await page.evaluate(map_point(lamp))
                return a[0] - b[0], a[1] - b[1]

            before = await offset()
            assert before[0] > 0 and before[1] > 0  # +x is right, +z is down
            row = member_row(ada.member)
            assert "Ada" in await page.wait_for(text_of(row), what="Ada in the members table")

            # She walks: the map follows.
            await garden.update(avatar, b"ada", position=(6.0, 0.0, -3.0))
            moved = await page.wait_for(
                f"(() => {{ const o = {map_object(avatar)}; return o && o[0] === '6.0' && o; }})()",
                what="the avatar to move on the map",
            )
            assert moved[:3] == ["6.0", "0.0", "-3.0"]
            await trio.sleep(1.2)
            after = await offset()
            assert after[0] > before[0] + 5 and after[1] < 0  # further right, and now above the lamp
            await screenshot(page, "standalone-dashboard-with-a-player")

            # The host opens a ball up for anyone to take: the relay tells Ada's client.
            ball = await garden.spawn(b"ball", rule=Rule.ASK, position=(0.0, 0.5, 0.0))
            await page.wait_for(map_object(ball), what="the ball on the map")
            await page.select(f"#objects tr[data-object='{ball}'] select", "allow")
            await garden.wait_for(lambda view: view.objects[ball].rule == Rule.ALLOW, timeout=30)
            await page.wait_for(f"{map_object(ball)}[5] === 'allow'", what="the map to show the new rule")

            # Resetting the room despawns everything in it; Ada stays.
            await page.click("#reset-room")
            assert await page.evaluate(text_of("#reset-room")) == "Reset: sure?"  # asks first
            await page.click("#reset-room")
            await garden.wait_for(lambda view: not view.objects, timeout=30)
            await page.wait_for(
                f"!{map_object(avatar)} && !{map_object(ball)} && !{map_object(lamp)}"
                " && !document.getElementById('objects-empty').hidden",
                what="an empty map",
            )
            assert await page.evaluate(f"!!document.querySelector({json.dumps(row)})")

            # Kicked: her connection ends and she and her new avatar vanish from the dashboard.
            avatar = await garden.spawn(b"ada", rule=Rule.DENY, position=(2.0, 0.0, 2.0))
            await page.wait_for(map_object(avatar), what="the new avatar")
            await page.click(f"{row} button")
            await page.click(f"{row} button")
            assert await wait_for_goodbye(ada) == 4003  # KICKED
            await page.wait_for(
                f"!document.querySelector({json.dumps(row)}) && !{map_object(avatar)}",
                what="Ada to disappear from the dashboard",
            )
        assert page.errors == []

        # The link is in use; revoking it shuts Ada out.
        await page.wait_for(
            "[...document.querySelectorAll('#invites .invite')]"
            ".some(li => li.textContent.includes('joined as Ada'))",
            timeout=30,
            what="the invite to show who used it",
        )
        item = (
            f"#invites .invite[data-invite='{next(i['id'] for i in party.invites() if i['link'] == link)}']"
        )
        await page.click(f"{item} .revoke button")
        await page.click(f"{item} .revoke button")
        await page.wait_for(f"document.querySelector(\"{item} .pill\").textContent === 'revoked'")
        refused = await trio.to_thread.run_sync(party.redeem, link)
        assert refused.status_code == 403
        await screenshot(page, "standalone-dashboard-invites")
        assert page.errors == []


def account_row(name: str) -> str:
    """JavaScript: the cells of a player's row in the shares table, or null."""
    return f"""(() => {{
        const row = [...document.querySelectorAll('#accounts tbody tr')]
            .find(r => r.querySelector('.name').textContent === {json.dumps(name)});
        return row && [...row.querySelectorAll('td:not(.actions)')].map(td => td.textContent);
    }})()"""


async def test_the_host_sees_each_player_s_share_sets_their_rooms_and_removes_them(
    party: StandaloneParty,
) -> None:
    link = await make_invite(party, "Mel")
    token = (await trio.to_thread.run_sync(party.redeem, link)).json()["data"]["access_token"]
    async with open_browser() as page:
        await host_dashboard(page, party)
        await page.wait_for("document.getElementById('player-rooms').value === '2'", what="the setting")
        # Mel makes a room of her own and leaves two saved objects there as she goes.
        async with open_relay(party.relay_url, ticket=lambda: party.ticket(token)) as mel:
            attic = await mel.join("attic")
            for state in (b"chest", b"lamp-of-mel"):
                await attic.spawn(state, lifetime=Lifetime.PERSISTENT)
        shown = await page.wait_for(account_row("Mel"), what="Mel's share")
        assert shown == ["2 of 256", "2 of 64", "16 B", "1 of 2"]
        assert "2 saved objects of 4096" in await page.evaluate(text_of("#shares-summary"))
        await screenshot(page, "standalone-dashboard-shares")

        # The host lets players create no rooms: Mel can go back to the attic, not make a new one.
        await page.type("#player-rooms", "0")
        await page.click("#policy-form button[type=submit]")
        await page.wait_for(f"{account_row('Mel')}?.[3] === '1 of 0'", what="the new setting")
        async with open_relay(party.relay_url, ticket=lambda: party.ticket(token)) as mel:
            with pytest.raises(RelayError) as refused:
                await mel.join("cellar")
            assert refused.value.status == Status.QUOTA
            attic = await mel.join("attic")
            assert len(attic.view.objects) == 2
            await page.wait_for(f"{account_row('Mel')}?.[0] === '2 of 256'", what="Mel playing")
            ticket = await party.ticket(token)
            user_id = read_ticket(ticket_key(party.cfg), ticket, now=time.time()).identity.user_id
            row = f"#accounts tbody tr[data-user='{user_id}'] "

            # What she left behind goes; she stays.
            await page.click(f"{row}button.clear")
            await page.click(f"{row}button.clear")
            await attic.wait_for(lambda view: not view.objects, timeout=30)
            await page.wait_for(f"{account_row('Mel')}?.[0] === '0 of 256'", what="her objects gone")

            # Removed from the party: her connection ends, and a ticket she fetched before is refused.
            spare = await party.ticket(token)
            await page.click(f"{row}button.remove")
            await page.click(f"{row}button.remove")
            assert await wait_for_goodbye(mel) == 4003  # KICKED
            assert mel.goodbye is not None and mel.goodbye.reason == "removed by the host"
        with pytest.raises(Disconnected):
            async with open_relay(party.relay_url, ticket=spare, reconnect=False):
                pass
        await page.wait_for(f"!{account_row('Mel')}", what="Mel's row to go (nothing left, no room)")
        # Back as it was, for the other tests: two rooms each.
        await page.type("#player-rooms", "2")
        await page.click("#policy-form button[type=submit]")
        await page.wait_for("document.getElementById('player-rooms').value === '2'")
        assert page.errors == []
    async with httpx.AsyncClient(trust_env=False, timeout=30) as http:
        policy = await http.get(f"http://127.0.0.1:{party.cfg.relay_admin_port}/policy")
        assert policy.json() == {"player_rooms": 2}


async def test_traffic_and_health_panels_show_the_running_party(party: StandaloneParty) -> None:
    async with open_browser() as page:
        await host_dashboard(page, party)
        states = await page.wait_for(
            """(() => { const rows = [...document.querySelectorAll('#processes tbody tr')];
              return rows.length === 5 && rows.every(r => r.querySelector('.state').textContent === 'up')
                && rows.map(r => r.querySelector('th').textContent); })()""",
            what="five parts up",
        )
        assert states == [
            "Database",
            "Accounts and content API",
            "Relay",
            "Pages (this dashboard)",
            "Front door",
        ]
        assert (await page.evaluate(text_of("#db-kind"))).startswith("PostgreSQL")
        assert (await page.evaluate(text_of("#var-size"))).endswith("MB")
        token = (await trio.to_thread.run_sync(party.redeem, await invite(page, "Bo"))).json()["data"][
            "access_token"
        ]
        async with (
            open_relay(party.relay_url, ticket=lambda: party.ticket(token)) as bo,
            trio.open_nursery() as moving,
        ):
            lobby = await bo.join("lobby")
            thing = await lobby.spawn(b"x", position=(0.0, 0.0, 0.0))

            async def move() -> None:  # traffic for the relay to measure, until the checks are done
                for step in itertools.count():
                    await lobby.update(thing, b"x" * 200, position=(step % 100 / 10, 0.0, 0.0))
                    await trio.sleep(0.1)

            moving.start_soon(move)
            label = await page.wait_for(
                "(() => { const l = document.getElementById('chart-bytes').getAttribute('aria-label');"
                " return /in now [1-9]/.test(l) && l; })()",
                what="the chart to show incoming data",
            )
            assert "Data per second, last 5 minutes" in label
            # The rates come with the next sample, which may be a poll after the chart's.
            rate = text_of("#rate-messages-in")
            await page.wait_for(
                f"(() => {{ const t = {rate}; return !!t && t !== '0/s'; }})()", what="a message rate"
            )
            await screenshot(page, "standalone-dashboard-traffic")

            # For screen readers: landmarks, and a name for every control and every drawn object.
            await page.wait_for(f"!!document.querySelector({json.dumps(member_row(bo.member))})")
            tree = await page.accessibility_tree()
            roles = {role for role, _ in tree}
            assert {"banner", "navigation", "main", "region", "table", "status"} <= roles
            unnamed = [(role, name) for role, name in tree if role in CONTROLS and not name.strip()]
            assert unnamed == []
            names = [name for role, name in tree if role == "image"]
            assert any(name.startswith("Object ") and "owner Bo" in name for name in names)
            assert any(name.startswith("Messages per second, last 5 minutes: in now") for name in names)
            # The relay pings every 15 s; the first answer gives Bo's latency.
            cell = json.dumps(member_row(bo.member) + " .latency")
            latency = await page.wait_for(
                f"(() => {{ const c = document.querySelector({cell});"
                " return c && /^[0-9]+ ms$/.test(c.textContent) && c.textContent; })()",
                timeout=60,
                what="Bo's latency",
            )
            assert int(latency.split()[0]) < 5000
            moving.cancel_scope.cancel()
        assert page.errors == []


async def test_a_visitor_gets_the_player_page_and_the_download(
    party: StandaloneParty, tmp_path: Path
) -> None:
    token = (await trio.to_thread.run_sync(party.redeem, await make_invite(party, "Cy"))).json()["data"][
        "access_token"
    ]
    async with open_relay(party.relay_url, ticket=lambda: party.ticket(token)) as cy, open_browser() as page:
        await cy.join("lobby")
        await page.set_viewport(*PHONE, mobile=True)
        await page.navigate(party.url + "/")
        assert await page.evaluate("location.pathname") == "/play"
        await page.wait_for(
            "[...document.querySelectorAll('#room-list .room[data-room=\"lobby\"] .people li')]"
            ".some(li => li.textContent === 'Cy')",
            what="Cy in the lobby on the player page",
        )
        assert await page.evaluate(no_horizontal_scroll())
        assert await page.evaluate("document.querySelector('main h1').textContent") == (
            "You're invited to a V-Sekai party"
        )
        assert await page.evaluate(
            "!document.querySelector('#invite-form, #map, #processes')"
        )  # no host parts
        await screenshot(page, "standalone-player-page-phone")

        await page.allow_downloads(tmp_path)
        await page.click("a[download]")
        zip_path = tmp_path / "soiree-godot-demo.zip"
        with trio.fail_after(30):
            while not zip_path.exists():
                await trio.sleep(0.2)
        with zipfile.ZipFile(io.BytesIO(zip_path.read_bytes())) as archive:
            names = archive.namelist()
        assert "soiree-godot-demo/addons/soiree/plugin.cfg" in names
        assert "soiree-godot-demo/project.godot" in names
        assert page.errors == []


async def make_invite(party: StandaloneParty, name: str) -> str:
    async with open_browser() as page:
        await host_dashboard(page, party)
        return await invite(page, name)


async def test_the_dashboard_at_phone_width(party: StandaloneParty) -> None:
    async with open_browser() as page:
        await page.set_viewport(*PHONE, mobile=True)
        await page.navigate(party.host_link)
        await page.wait_for("!!document.querySelector('#processes tbody tr')")
        await page.wait_for("!document.getElementById('room-panel').hidden", what="the lobby")
        assert await page.evaluate(no_horizontal_scroll())
        # Every control can be reached: nothing a host needs is pushed off screen.
        for selector in ("#invite-name", "#invite-form button", "#room-select", "#reset-room"):
            right = await page.evaluate(f"document.querySelector('{selector}').getBoundingClientRect().right")
            assert right <= PHONE[0], selector
        await screenshot(page, "standalone-dashboard-phone")
        assert page.errors == []


async def test_an_invite_link_opened_in_a_browser_explains_and_is_not_used(party: StandaloneParty) -> None:
    link = await make_invite(party, "Dee")
    async with open_browser() as page:
        await page.set_viewport(*PHONE, mobile=True)
        await page.navigate(link)
        assert await page.evaluate("document.getElementById('invite-link').value") == link
        assert "paste" in (await page.evaluate("document.querySelector('main').textContent")).lower()
        assert await page.evaluate(no_horizontal_scroll())
        await screenshot(page, "standalone-invite-page-phone")
        assert page.errors == []
    [dee] = [i for i in await trio.to_thread.run_sync(party.invites) if i["link"] == link]
    assert dee["redeemed_by"] is None and not dee["revoked"]  # opening the page redeemed nothing


async def test_without_the_host_key_nothing_of_the_host_is_reachable(party: StandaloneParty) -> None:
    token = (await trio.to_thread.run_sync(party.redeem, await make_invite(party, "Eve"))).json()["data"][
        "access_token"
    ]
    async with open_relay(party.relay_url, ticket=lambda: party.ticket(token)) as eve, open_browser() as page:
        lobby = await eve.join("lobby")
        await page.navigate(party.url + "/?key=guessed")
        assert "not valid" in await page.evaluate("document.body.textContent")
        await page.navigate(party.url + "/")
        assert await page.evaluate("location.pathname") == "/play"
        # The page's own origin, the visitor's browser: the API refuses every host action.
        statuses = await page.evaluate(
            f"""Promise.all([
              ["GET", "/app/api/live"], ["GET", "/app/api/health"], ["GET", "/app/api/invites"],
              ["POST", "/app/api/invites"], ["POST", "/app/api/rooms/lobby/kick"],
              ["POST", "/app/api/rooms/lobby/reset"], ["POST", "/app/api/rooms/lobby/objects/1/rule"],
              ["GET", "/app/api/accounts"], ["POST", "/app/api/accounts/x/clear"],
              ["POST", "/app/api/accounts/x/remove"], ["POST", "/app/api/policy"],
            ].map(([method, path]) => fetch(path, {{method,
              headers: {{"X-Requested-With": "soiree", "Content-Type": "application/json"}},
              body: method === "GET" ? undefined : JSON.stringify({{member: {eve.member}, rule: "allow"}}),
            }}).then(r => r.status)))"""
        )
        assert statuses == [403] * 11

    # The relay's admin endpoint is loopback only, and the front door does not route to it.
    async with httpx.AsyncClient(base_url=party.url, trust_env=False, timeout=30) as front:
        for method, path in (
            ("GET", "/stats"),
            ("GET", "/rooms"),
            ("GET", "/rooms/lobby"),
            ("POST", "/rooms/lobby/kick"),
            ("POST", "/rooms/lobby/reset"),
            ("GET", "/relay/stats"),
            ("POST", "/relay/rooms/lobby/kick"),
        ):
            answer = await front.request(method, path, json={"member": 1})
            assert answer.status_code in (404, 405), (method, path, answer.status_code)
            assert (
                "members" not in answer.text
                and "kicked" not in answer.text
                and "despawned" not in answer.text
            )
    assert lobby.joined and eve.goodbye is None  # still there: nothing reached the relay's moderation
