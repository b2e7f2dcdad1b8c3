"""Record the README's screenshot: a real conversation in the terminal UI with the local model.

Run: .venv/bin/python docs/screenshot.py [--llm local] [--out docs/conversation.svg] [--message TEXT ...]
The Chinese one: docs/screenshot.py --llm none --out docs/conversation-zh.svg --message "我喜欢黑客帝国和盗火线，讨厌爱情片。今晚看点什么？"

It drives `ConvrecApp` headless with Textual's Pilot, as a person would: it waits for the app to be ready, types
each message, waits for the reply to finish and saves the screen as SVG. Nothing is scripted on the model's side;
a fresh user over your data dir's catalog (the demo by default), forgotten again when the picture is taken.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from convrec.agent.memory import Memory
from convrec.core.settings import Settings
from convrec.tui.agent_message import AgentMessage
from convrec.tui.app import ConvrecApp

USER = "readme-screenshot"
MESSAGES = ["I loved The Matrix and Heat, but I hate rom-coms. Something for tonight?"]


async def record(llm: str, out: Path, size: tuple[int, int], messages: list[str]) -> None:
    memory = Memory(Settings().state_db)
    memory.forget_user(USER)
    app = ConvrecApp(user=USER, settings={"llm": llm})
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: app.ready, 600)
        for message in messages:
            replies = len(app.query(AgentMessage))
            app.prompt.value = message
            await pilot.press("enter")
            await wait_until(pilot, lambda: len(app.query(AgentMessage)) > replies and not app.busy, 600)
        await pilot.pause(0.5)
        out.write_text(app.export_screenshot(title="convrec"))
    memory.forget_user(USER)
    print(f"wrote {out}")


async def wait_until(pilot, condition, timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await pilot.pause(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llm", default="local")
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("conversation.svg"))
    parser.add_argument("--width", type=int, default=150)
    parser.add_argument("--height", type=int, default=46)
    parser.add_argument("--message", action="append", help="a message to type (repeat for several; default: the "
                        "README's English one)")
    args = parser.parse_args()
    asyncio.run(record(args.llm, args.out, (args.width, args.height), args.message or MESSAGES))


if __name__ == "__main__":
    main()
