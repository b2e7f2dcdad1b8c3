"""The knowledge tool: people and collections from the catalog's own text, found in chat, ranked with evidence.

Every message here is written for these tests (none comes from the ReDial cases).
"""

from __future__ import annotations

import pytest

from convrec.catalog.loaders import load_catalog, load_demo_catalog
from convrec.tools.knowledge import (Entity, collections_in, described_genres, informativeness, knowledge_index,
                                     knowledge_path, load_or_build, people_in)
from convrec.tools.models import Profile
from convrec.tools.reader import read_message
from convrec.tools.recommend import RecommendRequest


@pytest.fixture(scope="module")
def demo():
    return load_demo_catalog()


def test_people_come_from_directed_by_and_starring():
    text = ("Night Harbor is a 1997 American thriller film directed by Jane Q. Doe and starring John Smith, "
            "Mary-Ann Major and Robert De Vries. Lena Holt and Sam Ortiz also star.")
    found = people_in(text)
    assert ("Jane Q. Doe", "directed") in found
    assert {name for name, role in found if role == "stars"} == {"John Smith", "Mary-Ann Major", "Robert De Vries",
                                                                 "Lena Holt", "Sam Ortiz"}


@pytest.mark.parametrize("text, expected", [
    ("Tide Line is a 2001 comedy written, produced and directed by Ada and Ben Marlowe. Cy Dunn stars as Ed, a diver.",
     {("Ada Marlowe", "directed"), ("Ben Marlowe", "directed"), ("Cy Dunn", "stars")}),  # siblings; "stars as"
    ("Far Ridge is a 1994 western directed and co-written by Nora Vance.", {("Nora Vance", "directed")}),
    ("An animated film featuring the voices of Tim Roe and Ida Lark.", {("Tim Roe", "stars"), ("Ida Lark", "stars")}),
    # a credit that opens a sentence
    ("Dry Creek is a 1990 comedy. Directed by Olga Brandt and starring Pete Ward, it follows two brothers.",
     {("Olga Brandt", "directed"), ("Pete Ward", "stars")}),
    ("Salt Flats is a 2003 road movie. Starring Dana Kim, it was shot in Utah.", {("Dana Kim", "stars")}),
    # a surname once the text gave the full name; one that it did not give is nobody
    ("Hot Sauce is a 2009 comedy written by Marty Kessel and Jo Brand, and starring Kessel and Lou Park.",
     {("Marty Kessel", "stars"), ("Lou Park", "stars")}),
    ("Red Dust is a 1986 drama starring Kessel and Lou Park.", {("Lou Park", "stars")}),
])
def test_people_come_from_more_ways_leads_credit_them(text, expected):
    assert set(people_in(text)) == expected


def test_collections_come_from_franchise_and_series_phrases():
    assert collections_in("It is the second installment in the Space Dogs franchise.") == ["Space Dogs"]
    assert collections_in("The film is part of the Marvel Cinematic Universe (MCU).") == ["Marvel"]
    assert collections_in("A standalone drama about a family farm.") == []


@pytest.mark.parametrize("text, expected", [
    ("Night Harbor is a 1997 American crime film directed by Jane Q. Doe.", ["Crime"]),
    ("Tin Hearts was a 1962 romantic musical comedy-drama about a dance hall.", ["Comedy", "Drama", "Musical",
                                                                               "Romance"]),
    ("Tide Line is a 2001 animated science fiction adventure film.", ["Adventure", "Animation", "Sci-Fi"]),
    ("Far Ridge is a 1994 film directed by Nora Vance. Critics called it a comedy.", []),  # only the opening
    ("A war veteran comes home to a town that forgot him.", []),
])
def test_described_genres_are_what_a_description_opens_by_saying_an_item_is(demo, text, expected):
    assert described_genres(text, demo) == expected


def test_demo_knowledge_has_people_series_and_title_stems(demo):
    knowledge = knowledge_index(demo)
    dicaprio = knowledge.items(Entity("person", "Leonardo DiCaprio"))
    assert "1721" in dicaprio and dicaprio["1721"] == "stars"  # Titanic
    assert knowledge.items(Entity("person", "Alfred Hitchcock"))["904"] == "directed"  # Rear Window
    assert len(knowledge.items(Entity("collection", "Harry Potter"))) >= 7  # from the titles' shared stem
    assert knowledge.lookup("hitchcock") == [Entity("person", "Alfred Hitchcock")]


def test_knowledge_is_saved_under_the_fingerprint_and_read_back(tiny_ml_dir, tmp_path):
    catalog = load_catalog(tiny_ml_dir)
    built = load_or_build(catalog, tmp_path)
    assert knowledge_path(tmp_path, catalog).is_file()
    again = load_or_build(catalog, tmp_path)
    assert (again.people, again.collections, again.searchable, again.genres) == (built.people, built.collections,
                                                                                built.searchable, built.genres)


def test_a_manifest_catalog_brings_people_and_collection_columns(tmp_path):
    (tmp_path / "items.csv").write_text(
        "id,title,people,series\n1,Dune,Frank Herbert,Dune Saga\n2,Dune Messiah,Frank Herbert,Dune Saga\n"
        "3,Neuromancer,William Gibson,\n", encoding="utf-8")
    (tmp_path / "ratings.csv").write_text("user,item,stars\nu1,1,5\nu1,2,4\nu2,3,5\n", encoding="utf-8")
    (tmp_path / "convrec.toml").write_text(
        'name = "books"\n[items]\npath = "items.csv"\nid = "id"\ntitle = "title"\n'
        'metadata = ["people", "series"]\n[ratings]\npath = "ratings.csv"\nuser_id = "user"\nitem_id = "item"\n'
        'rating = "stars"\nscale = [1, 5]\n', encoding="utf-8")
    catalog = load_catalog(tmp_path)
    knowledge = knowledge_index(catalog)
    assert set(knowledge.items(Entity("person", "Frank Herbert"))) == {"1", "2"}
    reading = read_message("anything else by Frank Herbert?", catalog)
    assert reading.entities_liked == {"person:Frank Herbert": 0.8}


@pytest.mark.parametrize("text, key", [
    ("I'm a massive Tom Hanks fan", "person:Tom Hanks"),
    ("got anything with Meryl Streep in it?", "person:Meryl Streep"),
    ("Spielberg never lets me down", "person:Steven Spielberg"),
    ("movies by Christopher Nolan please", "person:Christopher Nolan"),
    ("we binged the Harry Potter series last month and loved it", "collection:Harry Potter"),
    ("any more Star Wars movies I should catch up on?", "collection:Star Wars"),
    ("which Marvel films are worth it?", "collection:Marvel"),
    ("anything old with jimmy stewart?", "person:James Stewart"),  # a nickname of the credited name
    ("is that the kubrick one with the hotel?", "person:Stanley Kubrick"),  # "the X one", in lower case
])
def test_people_and_series_are_read_from_chat(demo, text, key):
    assert key in read_message(text, demo).entities_liked


def test_a_team_of_directors_is_everyone_in_it(demo):
    reading = read_message("anything by the coen brothers?", demo)
    assert set(reading.entities_liked) == {"person:Joel Coen", "person:Ethan Coen"}
    assert list(read_message("I love the Blues Brothers", demo).liked) == ["1220"]  # still the film


def test_a_disliked_person_and_a_title_that_is_also_a_series_name(demo):
    reading = read_message("I can't stand Adam Sandler movies", demo)
    assert "person:Adam Sandler" in reading.entities_disliked and not reading.entities_liked
    toy = read_message("I loved Toy Story", demo)  # the film, not the whole series
    assert toy.liked and not toy.entities_liked


def test_a_liked_person_leads_the_cards_with_evidence(demo_tools):
    catalog, recommender = demo_tools
    profile = Profile(entities_liked={"person:Leonardo DiCaprio": 1.0})
    cards = recommender.recommend(RecommendRequest(profile=profile, k=5))
    dicaprio = knowledge_index(catalog).items(Entity("person", "Leonardo DiCaprio"))
    assert sum(card.item_id in dicaprio for card in cards) >= 4
    first = cards[0].reasons[0]
    assert first.kind == "same_person" and first.evidence["person"] == "Leonardo DiCaprio"
    assert first.text in ("Stars Leonardo DiCaprio", "Directed by Leonardo DiCaprio", "With Leonardo DiCaprio")


def test_a_liked_series_gives_same_collection_reasons(demo_tools):
    catalog, recommender = demo_tools
    cards = recommender.recommend(RecommendRequest(profile=Profile(entities_liked={"collection:Harry Potter": 1.0}),
                                                   k=5))
    assert all(card.reasons[0].kind == "same_collection" for card in cards)
    assert all("Harry Potter" in card.title for card in cards)


def test_demo_knowledge_knows_what_films_are_described_as(demo):
    genres = knowledge_index(demo).genres
    assert genres["296"] == ["Crime"]  # Pulp Fiction: the catalog also lists Comedy, Drama and Thriller
    assert "Musical" in genres["164909"]  # La La Land: not a musical in the catalog's genres
    assert "Musical" not in demo.items.at["164909", "genres"]


def test_informativeness_prefers_words_documents_use_more_than_english_does():
    assert informativeness(0.01, 3.0) > informativeness(0.01, 6.0)  # "heist" vs "work" at the same share
    assert informativeness(0.02, 4.0) > informativeness(0.001, 4.0)
