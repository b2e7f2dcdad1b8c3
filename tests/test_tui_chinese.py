"""A Chinese conversation in the TUI: wide characters in the reply, the cards' reasons and the quick-pick chips.

Snapshot (pytest-textual-snapshot); update after an intended change with `--snapshot-update` and look at the SVG.
"""

from __future__ import annotations

from test_tui import app_for, make_runtime, tiny  # noqa: F401 - fixtures
from test_tui_snapshots import SIZE, say, settle

from convrec.tui.card import RecCard


def test_chinese_conversation(snap_compare, make_runtime):  # noqa: F811
    app = app_for(make_runtime(), user="zh", session="s1")

    async def run_before(pilot):
        await settle(pilot)
        await say(pilot, "有什么好电影推荐吗？不要恐怖片")
        cards = list(pilot.app.query(RecCard))
        assert cards and all(card.size.width <= SIZE[0] for card in cards)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
