"""What the server relies on in agent/: the fair LLM queue, turns that never make cards wait for another user's
LLM work, cancellation, API keys stored hashed, and a memory that survives a failed write."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import threading
import time
from contextlib import aclosing

import pytest

from convrec.agent.events import Cards, Done, Token
from convrec.agent.memory import MIGRATIONS, Memory
from convrec.agent.scheduler import LLMScheduler, QueueFull
from convrec.server.keys import KeyStore
from convrec.server.security import KeyVerifier, Principal

WAIT_S = 30


async def wait_for(condition, what: str) -> None:
    for _ in range(WAIT_S * 100):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"gave up waiting for {what}")


# -- the scheduler ------------------------------------------------------------------------------------------------
def test_places_are_given_in_arrival_order():
    async def scenario():
        scheduler = LLMScheduler(slots=1, max_waiting=5)
        release, order = threading.Event(), []

        def work(name):
            if name == "first":
                release.wait(WAIT_S)
            order.append(name)

        tickets = [scheduler.admit() for _ in range(4)]
        tasks = []
        for ticket, name in zip(tickets, ["first", "second", "third", "fourth"]):
            async def run(ticket=ticket, name=name):
                try:
                    await ticket.call(work, name)
                finally:
                    ticket.close()

            tasks.append(asyncio.create_task(run()))
            await wait_for(lambda: scheduler.stats()["running"] + scheduler.stats()["waiting"] == len(tasks),
                           "the turn to queue")
        release.set()
        await asyncio.gather(*tasks)
        assert order == ["first", "second", "third", "fourth"]
        assert scheduler.stats() | {"mean_hold_s": 0} == {"slots": 1, "max_waiting": 5, "admitted": 0, "running": 0,
                                                          "waiting": 0, "mean_hold_s": 0}

    asyncio.run(scenario())


def test_a_full_queue_refuses_with_a_retry_estimate_and_frees_on_close():
    scheduler = LLMScheduler(slots=1, max_waiting=1)
    first, second = scheduler.admit(), scheduler.admit()
    with pytest.raises(QueueFull) as refused:
        scheduler.admit()
    assert refused.value.retry_after >= 1
    first.close()
    first.close()  # idempotent
    scheduler.admit().close()
    second.close()
    assert scheduler.stats()["admitted"] == 0


def test_a_cancelled_waiter_leaves_the_queue_and_a_running_call_keeps_its_place():
    async def scenario():
        scheduler = LLMScheduler(slots=1, max_waiting=4)
        release = threading.Event()
        holder, waiter = scheduler.admit(), scheduler.admit()
        running = asyncio.create_task(holder.call(release.wait, WAIT_S))
        await wait_for(lambda: scheduler.stats()["running"] == 1, "the first call")
        waiting = asyncio.create_task(waiter.call(lambda: "never"))
        await wait_for(lambda: scheduler.stats()["waiting"] == 1, "the second to wait")
        waiting.cancel()
        waiter.close()
        await wait_for(lambda: scheduler.stats()["waiting"] == 0, "the waiter to leave")

        running.cancel()  # the client went away while its generation runs
        with pytest.raises(asyncio.CancelledError):
            await running
        holder.close()
        assert holder.cancelled.is_set()
        assert scheduler.stats()["running"] == 1  # the thread still runs: nobody else may start yet
        release.set()
        await wait_for(lambda: scheduler.stats()["running"] == 0, "the place to be freed")
        third = scheduler.admit()
        assert await third.call(lambda: "next") == "next"
        third.close()

    asyncio.run(scenario())


# -- the agent with a scheduler ------------------------------------------------------------------------------------
class GatedLLM:
    name = "gated"

    def __init__(self, length: int = 3) -> None:
        self.gate, self.busy = threading.Event(), threading.Event()
        self.gate.set()
        self.length = length  # pieces per reply
        self.pieces = 0
        self.closed = threading.Event()

    def structured(self, messages, schema, *, max_tokens):
        self.busy.set()
        self.gate.wait(WAIT_S)
        return schema()

    def stream_chat(self, messages, *, max_tokens, temperature=0.3, stop=None):
        self.busy.set()
        try:
            for _ in range(self.length):
                self.gate.wait(WAIT_S)
                time.sleep(0.001)
                self.pieces += 1
                yield " word"
        finally:
            self.closed.set()


def test_cards_do_not_wait_for_another_users_llm_work(make_agent):
    llm = GatedLLM()
    agent = make_agent(llm)
    agent.scheduler = LLMScheduler(slots=1, max_waiting=4)

    async def drain(events, sink):
        async for event in events:
            sink.append(event)

    async def scenario():
        llm.gate.clear()
        first, rest_first, rest_second = agent.turn("ann", "I loved The Matrix"), [], []
        assert isinstance(await anext(first), Cards)
        draining = asyncio.create_task(drain(first, rest_first))  # on to the LLM reading, blocked on the gate
        await asyncio.to_thread(llm.busy.wait, WAIT_S)
        second = agent.turn("bob", "I loved Heat")
        cards = await anext(second)  # while the model is held by ann's turn
        assert isinstance(cards, Cards) and len(cards.recommendations) == 5
        assert agent.scheduler.stats()["running"] == 1
        llm.gate.set()
        await asyncio.gather(draining, drain(second, rest_second))
        for rest in (rest_first, rest_second):
            assert isinstance(rest[-1], Done) and sum(isinstance(e, Token) for e in rest) == 5
        assert agent.scheduler.stats()["admitted"] == 0

    asyncio.run(scenario())


def test_a_cancelled_turn_stops_generating_and_frees_the_model(make_agent):
    llm = GatedLLM(length=100_000)  # far longer than any real reply: only cancellation ends it early
    agent = make_agent(llm)
    agent.scheduler = LLMScheduler(slots=1, max_waiting=4)

    async def scenario():
        async def consume():
            async with aclosing(agent.turn("ann", "I loved The Matrix")) as events:
                async for _ in events:
                    pass

        task = asyncio.create_task(consume())
        await wait_for(lambda: llm.pieces > 0, "prose to start")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.to_thread(llm.closed.wait, WAIT_S)
        assert llm.closed.is_set() and llm.pieces < 100_000
        await wait_for(lambda: agent.scheduler.stats()["running"] == 0, "the model to be free")
        assert agent.scheduler.stats()["admitted"] == 0

    asyncio.run(scenario())


def test_tool_work_runs_off_the_event_loop(make_agent):
    agent = make_agent(None)
    threads = []
    recommend = agent.recommender.recommend
    agent.recommender = type("Spy", (), {"recommend": lambda self, request: threads.append(
        threading.current_thread()) or recommend(request)})()

    async def scenario():
        return [event async for event in agent.turn("ann", "I loved Heat")]

    events = asyncio.run(scenario())
    assert isinstance(events[-1], Done) and threads and threading.main_thread() not in threads


def test_retry_does_not_store_the_message_twice_and_remember_takes_in_history(make_agent):
    agent = make_agent(None)
    session = agent.remember("ann", "I loved Heat")
    assert "6" in agent.memory.profile("ann").liked

    async def turn(message, record=True):
        return await agent.run_turn("ann", message, session, record=record)

    asyncio.run(turn("more please"))
    asyncio.run(turn("more please", record=False))
    assert [m.content for m in agent.memory.messages(session) if m.role == "user"] == ["I loved Heat", "more please"]


def test_feedback_out_of_range_is_refused_before_anything_is_stored(make_agent):
    agent = make_agent(None)
    with pytest.raises(ValueError):
        agent.feedback("ann", "1", "rate", 9.0)
    assert agent.memory.feedback("ann") == []


# -- keys and failed writes ------------------------------------------------------------------------------------------
def test_api_keys_are_stored_hashed_and_verified(tmp_path):
    store = KeyStore(tmp_path / "state.sqlite3")
    verifier = KeyVerifier(store)
    record, token = store.create("openwebui")
    assert token.startswith(f"crk_{record.key_id}_")
    assert asyncio.run(verifier.verify(token)) == Principal(record.key_id, "openwebui")
    for wrong in ("", "crk", f"crk_{record.key_id}_", token[:-2] + "xx", token.replace("crk", "abc"), token + "x"):
        assert asyncio.run(verifier.verify(wrong)) is None
    raw = sqlite3.connect(tmp_path / "state.sqlite3").execute("SELECT * FROM http_api_keys").fetchall()
    secret = token.split("_", 2)[2]
    assert all(secret not in str(value) and secret.encode() not in (value if isinstance(value, bytes) else b"")
               for row in raw for value in row)
    assert store.revoke(record.key_id) and asyncio.run(verifier.verify(token)) is None
    assert not store.revoke(record.key_id)
    assert [key.key_id for key in store.all()] == [record.key_id] and store.all()[0].revoked_at
    with pytest.raises(ValueError):
        store.create("  ")


def test_keys_made_by_the_old_layout_are_carried_over(tmp_path):
    """Before server/keys.py, keys lived in agent/memory.py's `api_keys` table (state schema version 2)."""
    path = tmp_path / "state.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(MIGRATIONS[0] + """
        CREATE TABLE api_keys (key_id TEXT PRIMARY KEY, name TEXT NOT NULL, salt BLOB NOT NULL, digest BLOB NOT NULL,
                               created_at REAL NOT NULL, revoked_at REAL);
        PRAGMA user_version = 2;
    """)
    salt = bytes(range(16))
    old.executemany("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?)", [
        ("0a0b0c0d", "openwebui", salt, hashlib.sha256(salt + b"s3cret").digest(), 1.0, None),
        ("0e0f1011", "gone", salt, hashlib.sha256(salt + b"other").digest(), 2.0, 3.0)])
    old.commit()
    old.close()

    store = KeyStore(path)
    assert [(key.key_id, key.name, key.revoked_at) for key in store.all()] == [("0a0b0c0d", "openwebui", None),
                                                                              ("0e0f1011", "gone", 3.0)]
    verifier = KeyVerifier(store)
    assert asyncio.run(verifier.verify("crk_0a0b0c0d_s3cret")) == Principal("0a0b0c0d", "openwebui")
    assert asyncio.run(verifier.verify("crk_0e0f1011_other")) is None  # still revoked
    tables = {row[0] for row in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "api_keys" not in tables and "http_api_keys" in tables
    assert Memory(path).session("ann") and len(KeyStore(path).all()) == 2  # both open it again, nothing lost


def test_a_failed_write_does_not_poison_the_connection(tmp_path):
    memory = Memory(tmp_path / "state.sqlite3")
    session = memory.session("ann")
    with pytest.raises(UnicodeEncodeError):
        memory.add_message(session, "user", "bad \ud800")
    memory.add_message(session, "user", "fine")
    assert [m.content for m in memory.messages(session)] == ["fine"]


# -- which session a chat platform's request continues ----------------------------------------------------------------
def test_a_new_chat_never_continues_an_earlier_one_message_chat(tmp_path):
    from convrec.server.conversation import plan_turn

    memory = Memory(tmp_path / "state.sqlite3")
    first = plan_turn(memory, "ann", ["I loved Heat"], None, "s1")
    memory.session("ann", first.session)
    memory.add_message(first.session, "user", "I loved Heat")
    memory.add_message(first.session, "assistant", "Here are a few picks for you:")

    retry = plan_turn(memory, "ann", ["I loved  Heat"], None, "s2")  # a regenerate: the same single message
    assert (retry.session, retry.record) == ("s1", False)
    new_chat = plan_turn(memory, "ann", ["I like comedies"], None, "s3")
    assert (new_chat.session, new_chat.record, new_chat.absorb) == ("s3", True, [])
    memory.session("ann", "empty")  # a session opened through the native API, nothing said in it yet
    assert plan_turn(memory, "ann", ["something else"], None, "s4").session == "s4"
    # Editing the last message of a longer chat still continues it.
    memory.add_message(first.session, "user", "more recent please")
    edited = plan_turn(memory, "ann", ["I loved Heat", "older ones please"], None, "s5")
    assert (edited.session, edited.record) == ("s1", True)
