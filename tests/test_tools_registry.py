"""The tool registry: typed functions, LangChain tools, and bad arguments as observations, never crashes."""

from __future__ import annotations

import json

import pytest

from convrec.tools.registry import Toolbox, call_tool, langchain_tools, registry


@pytest.fixture
def toolbox(demo_tools):
    catalog, recommender = demo_tools
    return Toolbox(catalog=catalog, recommender=recommender)


def test_every_tool_has_a_schema_and_a_description(toolbox):
    tools = langchain_tools(toolbox)
    assert {t.name for t in tools} == set(registry(toolbox))
    for tool in tools:
        assert tool.description and tool.args_schema.model_json_schema()["properties"]


def test_langchain_tool_runs(toolbox):
    tool = next(t for t in langchain_tools(toolbox) if t.name == "recommend")
    cards = json.loads(tool.invoke({"profile": {"liked": {"2571": 1.0}}, "k": 3}))
    assert len(cards) == 3 and all(c["reasons"] for c in cards)
    linked = json.loads(next(t for t in langchain_tools(toolbox) if t.name == "link_title").invoke({"title": "the matrix"}))
    assert linked["decision"] == "linked" and linked["candidates"][0]["item_id"] == "2571"


@pytest.mark.parametrize(("name", "arguments", "expected"), [
    ("recommend", {"k": 0}, "bad arguments for recommend: k"),
    ("recommend", {"k": -3}, "bad arguments for recommend: k"),
    ("recommend", {"k": 100000}, "bad arguments for recommend: k"),
    ("recommend", {"k": "five"}, "bad arguments for recommend: k"),
    ("recommend", {"profile": {"liked": {"no-such-id": 1}}}, "unknown item id"),
    ("similar_items", {"item_id": "no-such-id"}, "unknown item id"),
    ("similar_items", {}, "bad arguments for similar_items: item_id"),
    ("search_items", {"query": "space"}, "semantic search is not available"),
    ("link_title", {"title": ""}, "bad arguments for link_title: title"),
    ("launch_missiles", {}, "unknown tool"),
])
def test_bad_arguments_become_observations(toolbox, name, arguments, expected):
    observation = call_tool(toolbox, name, arguments)
    assert observation.startswith("error:") and expected in observation


def test_empty_profile_is_fine(toolbox):
    cards = json.loads(call_tool(toolbox, "recommend", {}))
    assert len(cards) == 5 and cards[0]["reasons"][0]["kind"] == "popular_cold_start"
