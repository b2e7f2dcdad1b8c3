"""The turn policy with the scripted fake LLM: event order, onboarding, ambiguity, constraints, feedback,
failures of the LLM, and what reaches the LLM."""

from __future__ import annotations

import asyncio

import pytest

from convrec.agent.events import Cards, Done, Question, Status, Token
from convrec.agent.llm import LLMError, ScriptedLLM
from convrec.agent.prose import distinctness_violations, excerpt, fallback_sentence
from convrec.agent.reading import preferences_schema, validated
from convrec.tools.explain import brief
from convrec.tools.linking import link_title
from convrec.tools.models import Recommendation
from convrec.tools.textnorm import spoken_title


def run(agent, message, user="ann", session=None):
    async def collect():
        return [event async for event in agent.turn(user, message, session)]

    return asyncio.run(collect())


def cards_of(events, revision=None):
    found = [e for e in events if isinstance(e, Cards) and (revision is None or e.revision == revision)]
    return found[-1].recommendations if found else []


def reading(catalog, **fields):
    schema = preferences_schema(tuple(g for g in catalog.genres if g != "IMAX"))
    return schema(**fields)


def test_cards_come_before_any_prose_token(make_agent, demo_tools):
    catalog, _ = demo_tools
    llm = ScriptedLLM().enqueue(reading(catalog), *["The Matrix pick."] * 5)
    events = run(make_agent(llm), "I loved The Matrix")
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("Cards") < kinds.index("Token")
    assert isinstance(events[-1], Done) and kinds.count("Token") == 5


def test_cold_start_asks_with_quick_picks_and_still_shows_cards(make_agent):
    events = run(make_agent(None), "hi")
    question = next(e for e in events if isinstance(e, Question))
    assert question.kind == "elicit" and question.span is None
    assert len([c for c in question.choices if c.item_id]) >= 3 and any(c.genre for c in question.choices)
    assert len(cards_of(events)) == 5
    assert all(r.reasons[0].kind == "popular_cold_start" for r in cards_of(events))


def test_no_more_than_two_onboarding_questions(make_agent):
    agent = make_agent(None)
    asked = [any(isinstance(e, Question) for e in run(agent, text)) for text in ("hi", "hello", "hm", "ok")]
    assert asked == [True, True, False, False]


def test_ambiguous_title_is_asked_not_guessed(make_agent):
    events = run(make_agent(None), "I want to watch psycho")
    question = next(e for e in events if isinstance(e, Question))
    assert question.kind == "ambiguous" and question.span == "psycho"
    assert {"2389", "1219"} <= {c.item_id for c in question.choices}  # Psycho (1998) and (1960)


def test_while_asking_which_title_the_cards_assume_the_likeliest_and_show_none_of_them(make_agent):
    agent = make_agent(None)
    events = run(agent, "I loved Casino")
    question = next(e for e in events if isinstance(e, Question))
    candidates = {choice.item_id for choice in question.choices}
    cards = cards_of(events)
    assert "16" in candidates and not candidates & {c.item_id for c in cards}  # Casino (1995) among them
    assert any(r.kind == "similar_to_liked" and r.evidence["liked_item_id"] == "16" for c in cards for r in c.reasons)
    assert agent.memory.profile("ann").liked == {}  # a guess ranks this turn's cards; only the answer is kept


def test_liked_title_drives_cards_with_evidence(make_agent):
    events = run(make_agent(None), "I loved The Matrix")
    cards = cards_of(events)
    assert "2571" not in {c.item_id for c in cards}
    assert any(r.kind == "similar_to_liked" and r.evidence["liked_item_id"] == "2571" for c in cards for r in c.reasons)


@pytest.mark.parametrize("message", ["no horror, only movies after 2000 please", "I hate horror. From 2000 onwards",
                                     "anything but horror, something after 2000"])
def test_constraints_are_never_violated(make_agent, demo_tools, message):
    catalog, _ = demo_tools
    agent = make_agent(None)
    for text in (message, "I loved The Shining", "more please"):  # a liked horror film must not bring horror back
        for card in cards_of(run(agent, text)):
            assert "Horror" not in card.genres and card.year >= 2000


def test_feedback_changes_the_next_cards(make_agent):
    agent = make_agent(None)
    first = cards_of(run(agent, "I loved The Matrix"))
    agent.feedback("ann", first[0].item_id, "dislike")
    agent.feedback("ann", "1", "like")  # Toy Story
    second = agent.recommend("ann")
    assert first[0].item_id not in {c.item_id for c in second}
    assert [c.item_id for c in second] != [c.item_id for c in first]
    assert any(r.evidence.get("liked_item_id") == "1" for c in second for r in c.reasons)


def test_llm_reading_revises_cards_when_it_adds_something(make_agent, demo_tools):
    catalog, _ = demo_tools
    # "Ferril" is a name the deterministic reader makes nothing of; the LLM spells it, the knowledge index confirms.
    llm = ScriptedLLM().enqueue(reading(catalog, liked=["Will Ferrell"]), *["x"] * 5)
    agent = make_agent(llm)
    events = run(agent, "anything with Will Ferril")
    first, revised = [e for e in events if isinstance(e, Cards)]
    assert (first.revision, revised.revision) == (0, 1)
    assert agent.memory.profile("ann").entities_liked == {"person:Will Ferrell": 1.0}
    assert any(r.kind == "same_person" for c in revised.recommendations for r in c.reasons)


def test_llm_reads_only_what_the_reader_left_unread(make_agent, demo_tools):
    catalog, _ = demo_tools
    llm = ScriptedLLM().enqueue(*["x"] * 5)
    agent = make_agent(llm)
    events = run(agent, "I loved Heat and The Matrix, something with a heist")
    assert len([e for e in events if isinstance(e, Cards)]) == 1
    assert not any("<message>" in message["content"] for prompt in llm.prompts for message in prompt)


def test_llm_inventions_are_dropped(make_agent, demo_tools):
    catalog, _ = demo_tools
    invented = reading(catalog, liked=["Titanic", "The Godfather"], genres_yes=["Sci-Fi"], query="famous classics")
    llm = ScriptedLLM().enqueue(invented, *["x"] * 5)
    agent = make_agent(llm)
    run(agent, "something more recent please, and no horror")
    profile = agent.memory.profile("ann")
    assert not profile.liked and not profile.genres_liked and profile.era is not None and profile.era.year_min is not None


def test_llm_names_must_be_titles_the_message_says_and_its_query_passes_the_readers_hygiene(demo_tools):
    catalog, _ = demo_tools
    message = "I speak Spanish too, I like comedy and action movies, and horror, and I loved Toy Story"
    answer = reading(catalog, liked=["Action", "horror", "Toy Story"], genres_yes=["Comedy"],
                     query="comedy action movies")
    validated_reading = validated(answer, message, catalog)
    toy_story = link_title("Toy Story", catalog).item_id
    assert set(validated_reading.liked) == {toy_story}  # not Action Jackson, not Horror of Dracula
    assert validated_reading.genres_liked == {"Comedy"} and validated_reading.query is None


def test_dead_endpoint_mid_turn_degrades_and_loses_nothing(make_agent):
    llm = ScriptedLLM().enqueue(LLMError("connection refused", where="http://127.0.0.1:9"))
    agent = make_agent(llm)
    events = run(agent, "I loved Heat, and Fulano too")
    done = events[-1]
    assert isinstance(done, Done) and "LLM failed" in done.degraded
    assert len(cards_of(events)) == 5 and any(isinstance(e, Status) for e in events)
    assert agent.memory.profile("ann").liked == {"6": pytest.approx(agent.memory.profile("ann").liked["6"])}
    session = agent.memory.session("ann")
    assert [m.role for m in agent.memory.messages(session)] == ["user", "assistant"]


def test_garbage_json_from_the_model_is_recovered(make_agent):
    llm = ScriptedLLM().enqueue('{"intent": "recommend", "liked": [unterminated')
    events = run(make_agent(llm), "I loved Heat, and Fulano too")
    assert isinstance(events[-1], Done) and events[-1].degraded and len(cards_of(events)) == 5


def test_unfaithful_prose_falls_back_to_the_template(make_agent, demo_tools):
    catalog, _ = demo_tools
    lies = ["You will love Titanic, rated 9.9 by critics!"] * 10  # a second ask per card, as unfaithful
    llm = ScriptedLLM().enqueue(*lies)
    events = run(make_agent(llm), "I loved The Matrix")
    tokens = [e for e in events if isinstance(e, Token)]
    cards = {c.item_id: c for c in cards_of(events)}
    assert all_templates([(t.text, cards[t.item_id]) for t in tokens], catalog)
    assert tokens[0].text in {reason.text for reason in cards[tokens[0].item_id].reasons}
    assert not llm.answers  # each card was asked twice


def all_templates(shown: list[tuple[str, Recommendation]], catalog, first: int = 0) -> bool:
    """Each sentence from `first` on is its card's template: a reason, or, where the reasons would repeat an earlier
    card's sentence, the excerpt and a reason in brief."""
    return all(text == fallback_sentence(card, shown[:i], excerpt(card, catalog))
               for i, (text, card) in enumerate(shown) if i >= first)


def test_faithful_prose_is_used(make_agent, demo_tools):
    catalog, _ = demo_tools
    agent = make_agent(None)
    cards = cards_of(run(agent, "I loved The Matrix"))
    styles = ["Since you loved The Matrix, {} should be a great pick.", "{} is a solid choice for a fan of The Matrix.",
              "Try {} tonight.", "Enjoy {} as well.", "{}: a really good fit for your taste."]
    sentences = [style.format(c.title) for style, c in zip(styles, cards)]  # one skeleton each
    llm = ScriptedLLM().enqueue(*sentences)
    events = run(make_agent(llm), "I loved The Matrix", user="bob")
    assert [t.text for t in events if isinstance(t, Token)] == sentences


def test_what_reaches_the_llm_is_short_and_fenced(make_agent, demo_tools):
    catalog, _ = demo_tools
    llm = ScriptedLLM().enqueue(reading(catalog), *["x"] * 5)
    run(make_agent(llm), "I loved Heat, and Fulano too")
    system, user = llm.prompts[0]
    assert "<message>I loved Heat, and Fulano too</message>" in user["content"]
    assert len(system["content"]) < 400
    prose = [prompt[1]["content"] for prompt in llm.prompts[1:]]
    for content in prose:  # per-card: the title, a short fenced excerpt (no credits), the reason; not the message
        assert "<about>" in content and "directed by" not in content and "I loved Heat, and Fulano too" not in content
        assert len(content) < 400
    assert len({prompt[0]["content"] for prompt in llm.prompts[1:]}) == 1  # byte-identical: llama.cpp reuses it


def test_one_sentence_per_card_and_no_shared_skeleton(make_agent, demo_tools):
    catalog, _ = demo_tools
    cards = cards_of(run(make_agent(None), "I loved The Matrix"))
    same = [f"{c.title} should be a really great pick for you tonight. Also watch Titanic." for c in cards]
    llm = ScriptedLLM().enqueue(*same)
    tokens = [t.text for t in run(make_agent(llm), "I loved The Matrix", user="bob") if isinstance(t, Token)]
    assert tokens[0] == f"{cards[0].title} should be a really great pick for you tonight."  # the first sentence only
    # the same skeleton again, and nothing from the film's own words to cut back to: templates
    shown = list(zip(tokens, cards))
    assert all_templates(shown, catalog, first=1) and distinctness_violations(shown) == 0


def test_a_sentence_that_cannot_be_cut_back_is_asked_for_once_more(make_agent, demo_tools):
    catalog, _ = demo_tools
    first = cards_of(run(make_agent(None), "I loved The Matrix"))[0]
    told = f"{spoken_title(first.title)} is a {excerpt(first, catalog).split(';')[0]}."  # only what About says
    llm = ScriptedLLM().enqueue("You will love Titanic!", told)
    tokens = [t for t in run(make_agent(llm), "I loved The Matrix", user="bob") if isinstance(t, Token)]
    assert tokens[0].text == f"{told[:-1]} \u2014 {brief(first.reasons[0])}."  # the why from the reason, in brief
    assert llm.prompts[1][-1]["content"].endswith("Say only what About says about the movie.")


class CountingLLM(ScriptedLLM):
    """Counts the pieces the agent actually took from each stream (it stops decoding early)."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: list[int] = []

    def stream_chat(self, messages, **options):
        self.taken.append(0)
        for piece in super().stream_chat(messages, **options):
            self.taken[-1] += 1
            yield piece


def test_decoding_stops_at_the_first_word_the_check_would_reject(make_agent, demo_tools):
    catalog, _ = demo_tools
    cards = cards_of(run(make_agent(None), "I loved The Matrix"))
    invented = f"{cards[0].title} follows a hacker named Zorblax who fights robots in a long invented plot."
    llm = CountingLLM().enqueue(reading(catalog), invented, *[f"{c.title} is a good pick." for c in cards[1:]])
    tokens = [t for t in run(make_agent(llm), "I loved The Matrix", user="bob") if isinstance(t, Token)]
    assert tokens[0].text in {r.text for r in cards[0].reasons}  # rejected: the template
    assert llm.taken[1] < len(invented.split())  # [0] is the reading; the invented sentence was cut short


def test_a_card_without_an_excerpt_keeps_its_template_without_a_model_call(make_agent, demo_tools):
    catalog, _ = demo_tools
    cards = cards_of(run(make_agent(None), "I loved The Matrix"))
    item = cards[0].item_id
    saved = catalog.items.at[item, "description"], catalog.items.at[item, "tags"]
    catalog.items.at[item, "description"], catalog.items.at[item, "tags"] = "", []
    try:
        llm = ScriptedLLM().enqueue(*[f"{c.title} is a good pick." for c in cards[1:]])
        tokens = [t for t in run(make_agent(llm), "I loved The Matrix", user="bob") if isinstance(t, Token)]
    finally:
        catalog.items.at[item, "description"], catalog.items.at[item, "tags"] = saved
    assert tokens[0].text == cards[0].reasons[0].text
    assert len(llm.prompts) == len(cards) - 1  # one call per other card: nothing unread to read


def test_llm_cannot_overturn_what_the_words_said(make_agent, demo_tools):
    catalog, _ = demo_tools
    llm = ScriptedLLM().enqueue(reading(catalog, genres_yes=["Horror"], disliked=["The Matrix"]), *["x"] * 5)
    agent = make_agent(llm)
    events = run(agent, "I loved The Matrix. No horror please.")
    profile = agent.memory.profile("ann")
    assert "Horror" in profile.constraints.exclude_genres and "Horror" not in profile.genres_liked
    assert "2571" in profile.liked and "2571" not in profile.disliked
    assert all("Horror" not in c.genres for c in cards_of(events))
