"""Snapshots (pytest-textual-snapshot) of the main screens over the tiny catalog, no LLM.

What changes from run to run is pinned before the screenshot: the session id is given, the latencies are set to
fixed text, the cursor does not blink. Update after an intended change with `pytest tests/test_tui_snapshots.py
--snapshot-update`, and look at the SVGs (tests/__snapshots__/test_tui_snapshots/) before committing them.
"""

from __future__ import annotations

from test_tui import app_for, make_runtime, tiny  # noqa: F401 - fixtures

from convrec.tui.agent_message import AgentMessage

SIZE = (140, 42)
LATENCY = "cards 12 ms · total 0.1 s"


async def settle(pilot) -> None:
    app = pilot.app
    while not (app.ready and app.status_bar.state == "ready" and not app.busy and not app._pending):
        await pilot.pause(0.05)
    app.prompt.cursor_blink = False
    if app.status_bar.latency:
        app.status_bar.set_fields(latency=LATENCY)
    for message in app.query(AgentMessage):
        if "ms" in str(message.query_one("#status").render()):
            message.set_status(LATENCY)
    await pilot.pause(0.1)


async def say(pilot, text: str) -> None:
    pilot.app.prompt.value = text
    await pilot.press("enter")
    await settle(pilot)


def test_welcome_with_quick_picks(snap_compare, make_runtime):  # noqa: F811
    app = app_for(make_runtime(), user="newbie", session="s1")
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_conversation_with_cards(snap_compare, make_runtime):  # noqa: F811
    app = app_for(make_runtime(), user="ann", session="s1")

    async def run_before(pilot):
        await settle(pilot)
        await say(pilot, "I loved Toy Story, no horror")
        await pilot.press("tab")  # the first card has focus: its keys show in the footer
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_profile_panel(snap_compare, make_runtime):  # noqa: F811
    app = app_for(make_runtime(), user="ann", session="s1")

    async def run_before(pilot):
        await settle(pilot)
        await say(pilot, "I loved Toy Story and Heat, I like comedy, nothing before 1990")
        await pilot.press("f2")
        while not pilot.app.profile_panel.entries:
            await pilot.pause(0.05)
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare, make_runtime):  # noqa: F811
    app = app_for(make_runtime(), user="ann", session="s1")

    async def run_before(pilot):
        await settle(pilot)
        await pilot.press("f1")
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
