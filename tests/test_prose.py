"""The faithfulness check on the LLM's card sentences: only the card's own evidence, said plainly."""

from __future__ import annotations

import pytest

from convrec.agent.prose import faithful, unsupported_words
from convrec.tools import explain
from convrec.tools.models import Recommendation
from convrec.tools.textnorm import spoken_title


@pytest.fixture(scope="module")
def catalog(demo_tools):
    return demo_tools[0]


def matrix_card(reason=None) -> Recommendation:
    reason = reason or explain.similar_to_liked("79132", "Inception (2010)", 0.57)
    return Recommendation(item_id="2571", title="Matrix, The", year=1999, genres=["Action", "Sci-Fi", "Thriller"],
                          score=0.9, reasons=[reason])


@pytest.mark.parametrize("sentence", [
    "Since you liked Inception, The Matrix should be a great choice.",
    "Because you liked Inception (2010), The Matrix should be a good fit for you.",  # not "2010: The Year…"
    "The Matrix is a thrilling sci-fi pick, similar to Inception (0.57).",
])
def test_a_sentence_built_from_the_evidence_passes(catalog, sentence):
    assert faithful(sentence, matrix_card(), catalog), unsupported_words(sentence, matrix_card())


@pytest.mark.parametrize("sentence, why", [
    ("The Matrix follows a hacker who discovers reality is a simulation.", "an invented plot"),
    ("Since you liked Inception, The Matrix and Titanic are great choices.", "another title"),
    ("The Matrix is 92% similar to Inception.", "a number not in the evidence"),
    ("Since you liked Inception, you will love it.", "the card's own title is missing"),
    ("You rewrite one fact about a movie recommendation: The Matrix.", "the instructions echoed"),
])
def test_anything_else_falls_back_to_the_template(catalog, sentence, why):
    assert not faithful(sentence, matrix_card(), catalog), why


def test_genre_words_count_as_evidence_only_for_the_cards_genres():
    horror = Recommendation(item_id="1258", title="Shining, The", year=1980, genres=["Horror"], score=1.0,
                            reasons=[explain.genre_match(["Horror"])])
    assert unsupported_words("The Shining is a scary, creepy horror pick you should enjoy.", horror) == set()
    assert unsupported_words("The Shining is a hilarious comedy.", horror) == {"hilarious", "comedy"}


@pytest.mark.parametrize("title, spoken", [
    ("Matrix, The (1999)", "The Matrix (1999)"),
    ("Dark Knight, The", "The Dark Knight"),
    ("Léon: The Professional (a.k.a. The Professional) (Léon)", "Léon: The Professional (Léon)"),
    ("Heat (1995)", "Heat (1995)"),
])
def test_spoken_titles_put_the_article_first_and_drop_aliases(title, spoken):
    assert spoken_title(title) == spoken


def test_a_title_said_the_way_people_say_it_counts_as_named(catalog):
    card = Recommendation(item_id="1233", title="Boot, Das (Boat, The)", year=1981, genres=["Action", "Drama", "War"],
                          score=1.0, reasons=[explain.genre_match(["War"])])
    assert faithful("Das Boot is a great war pick for you.", card, catalog)
