"""Entity linking: messy spellings → catalog ids, titles inside chat text, and no titles made of chat words."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest

from convrec.catalog.loaders import load_catalog, load_demo_catalog
from convrec.tools.linking import find_titles, link_title, title_index
from convrec.tools.reader import read_message

CASES = Path(__file__).parent / "data" / "linking_cases.csv"
REDIAL_DEV = Path(__file__).resolve().parents[1] / "evaluation" / "data" / "redial-dev" / "cases.jsonl"

# 163 spellings; 48 of them (the second half of the file) were written before the linker was run on them and
# 46 passed. 0.9 tolerates a few catalog quirks (MovieLens calls Spider-Man: Homecoming "Untitled Spider-Man
# Reboot") while a regression in any normalization rule (articles, numerals, accents, alternates) fails it.
MIN_ACCURACY = 0.9
# Measured 0.955 / 0.931 on the 342 seeker turns. The reference only holds movies the ReDial workers tagged, so
# right links to untagged titles ("Hostel", "Inception" in passing) count as false; the floor catches collapses.
MIN_REDIAL_PRECISION = 0.85
MIN_REDIAL_RECALL = 0.8


@pytest.fixture(scope="module")
def demo():
    return load_demo_catalog()


def _load_cases() -> list[dict[str, str]]:
    with CASES.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def _passes(case: dict[str, str], result) -> bool:
    expected = [item for item in case["expected_ids"].split("|") if item]
    if case["decision"] == "linked":
        return result.decision == "linked" and result.item_id == expected[0]
    if case["decision"] == "ambiguous":
        return result.decision == "ambiguous" and set(expected) <= {c.item_id for c in result.candidates}
    return result.decision == "none"


def test_linking_accuracy_on_messy_spellings(demo):
    cases = _load_cases()
    assert len(cases) >= 60
    failures = []
    for case in cases:
        assert all(item in demo for item in case["expected_ids"].split("|") if item), case
        result = link_title(case["query"], demo, limit=8)
        if not _passes(case, result):
            got = [f"{c.item_id} {c.title}" for c in result.candidates[:3]]
            failures.append(f"{case['query']!r}: expected {case['decision']} {case['expected_ids']}, "
                            f"got {result.decision} {got} ({case['kind']})")
    accuracy = 1 - len(failures) / len(cases)
    print(f"\nlinking accuracy {accuracy:.3f} on {len(cases)} spellings")
    for failure in failures:
        print("  FAIL", failure)
    assert accuracy >= MIN_ACCURACY, failures


@pytest.mark.parametrize("query, item_id", [("the matrix", "2571"), ("Godfather 2", "1221"), ("amelie", "4973"),
                                            ("heat 1995", "6"), ("lotr fellowship", "4993")])
def test_clear_titles_link_with_high_confidence(demo, query, item_id):
    result = link_title(query, demo)
    assert result.decision == "linked" and result.item_id == item_id
    assert 0.8 <= result.confidence <= 1.0


@pytest.mark.parametrize("query, expected", [("psycho", {"1219", "2389"}), ("Star Wars", {"260", "1196", "1210"}),
                                             ("batman", {"592", "153"}), ("king kong", {"2366", "41569"}),
                                             ("dune", {"2021", "7842"})])
def test_ambiguous_names_come_back_with_their_candidates(demo, query, expected):
    result = link_title(query, demo)
    assert result.decision == "ambiguous"
    assert result.item_id is None
    assert expected <= {candidate.item_id for candidate in result.candidates}


def test_nonsense_links_nothing(demo):
    assert link_title("xyzzy plugh", demo).decision == "none"
    assert link_title("   ", demo).decision == "none"


def test_index_is_built_once_per_catalog(demo):
    assert title_index(demo) is title_index(demo)


def _linked(text: str, catalog) -> list[str]:
    return [m.result.item_id for m in find_titles(text, catalog) if m.result.decision == "linked"]


def test_finds_several_titles_in_lower_case_text(demo):
    assert _linked("i grew up with toy story and the matrix", demo) == ["1", "2571"]


def test_finds_titles_next_to_opinion_words(demo):
    mentions = find_titles("loved Heat, hated Cats", demo)
    assert [(m.span, m.result.item_id) for m in mentions] == [("Heat", "6"), ("Cats", "107780")]
    assert mentions[0].start == 6 and mentions[0].end == 10


@pytest.mark.parametrize("text", ["I want something up to date", "it was fun", "her", "I like cars a lot too",
                                  "I'm stuck on animation right now", "we love to laugh", "I like romance movies",
                                  "Big fan of horror", "I can't wait", "Hi! How are you", "seven of us are coming",
                                  "Any others funny action comedies?", "I like comedy and action Super hero movies"])
def test_chat_words_are_not_titles(demo, text):
    assert find_titles(text, demo) == []


@pytest.mark.parametrize("text, item_id", [("I liked Her", "106920"), ("I have seen Up It's good", "68954"),
                                           ('my kids love "Big"', None), ("Heat (1995) was great", "6"),
                                           ("i loved the matirx", "2571"), ("we watched Crouching Tiger, Hidden "
                                                                           "Dragon", "3996")])
def test_everyday_titles_link_when_set_apart(demo, text, item_id):
    mentions = find_titles(text, demo)
    assert len(mentions) == 1
    assert mentions[0].result.item_id == item_id  # "Big": Big vs Big Fish stays a question


@pytest.mark.parametrize("text, labels", [
    ("Memento is one of my all time favorites", ["Memento (2000)"]),
    ("Speed is my dad's favorite action movie", ["Speed (1994)"]),
    ("Argo was gripping from start to end", ["Argo (2012)"]),  # well known and the sentence's subject
    ("Gravity with Sandra Bullock looked amazing", ["Gravity (2013)"]),
    ("Her was a really odd film", ["Her (2013)"]),  # an object pronoun is never a subject
    ("Alien and Aliens, both great", ["Alien (1979)", "Aliens (1986)"]),  # listed beside a title
    ("Toy Story, Cars and Up are the ones my kids rewatch", ["Toy Story (1995)", "Cars (2006)", "Up (2009)"]),
    ("we finally saw the movie Network", ["Network (1976)"]),
    ("i really enjoyed get out", ["Get Out (2017)"]),  # words that could be chat, right after a watching verb
    ("we're rewatching home alone with the kids", ["Home Alone (1990)"]),
    ("die hard is a christmas movie, fight me", ["Die Hard (1988)"]),  # the sentence calls it a film
    ("Clue is the funniest thing ever", ["Clue (1985)"]),  # a superlative judges like its plain form
    ("fight club, se7en and zodiac are my comfort rewatches", ["Fight Club (1999)", "Seven (a.k.a. Se7en) (1995)",
                                                               "Zodiac (2007)"]),
    ("network from 1976 still holds up", ["Network (1976)"]),
    ("something like speed, tense from start to end", ["Speed (1994)"]),  # what a request is compared to
    ("shawshank still makes me cry", ["Shawshank Redemption, The (1994)"]),  # a rare word of one well-known title
    ("lotr fellowship is my go to rewatch", ["Lord of the Rings: The Fellowship of the Ring, The (2001)"]),
    ("harry potter azkaban was the best one", ["Harry Potter and the Prisoner of Azkaban (2004)"]),  # not a question
    ("spirited away and totoro for the kids", ["Spirited Away (Sen to Chihiro no kamikakushi) (2001)",
                                               "My Neighbor Totoro (Tonari no Totoro) (1988)"]),
])
def test_everyday_titles_link_when_the_sentence_says_they_are_films(demo, text, labels):
    assert [demo.item(item_id).label for item_id in _linked(text, demo)] == labels


@pytest.mark.parametrize("text", [
    "Life is too short for bad movies", "Family is coming over, a fun movie please",
    "Nothing is better than a good horror movie", "Whatever works for the two of us",
    "something like a true story would be nice",  # the subtitle of FairyTale: A True Story
    "a film about storms and twisters", "It was long but It was worth it",
    "I saw it all", "we enjoyed it so much", "I'm watching out for spoilers", "we are watching together",
    "I watched up until the end", "I finished off the popcorn",
    "we left after 10 minutes", "the hoverboard scene still holds up", "home is a great place to relax",
    "something like home, cozy", "I want something like fun and light", "something like romance",
    "forrest is my cousin",
])
def test_chat_that_opens_like_a_judged_title_is_not_one(demo, text):
    assert _linked(text, demo) == []


@pytest.mark.parametrize("text", [
    "we're having a movie night with my cousins, anything fun?",  # "a movie X" is a kind of X, not "the movie X"
    "I need a movie. One that makes me laugh",  # "movie" ends the sentence before
    "I Love sci-fi and We Like big explosions",  # one word after "I"/"we" is a verb, capitals or not
    "my brother loved Buddy Trip last summer",  # a word of a longer capitalised name, after a cue
    "have you seen Once Upon a Time yet?",
    "something with good vibes for a sunday",  # a film with few ratings and a word English uses: a sign needed
    "hitchcock never disappoints",
    "the band was playing the score live",  # "the" and a frequent word: chat
    "a movie about a boy and his dog",  # after "about": what a film is about (A Boy and His Dog is a title)
    "I also liked M lol",  # one letter is no title (M, 1931, needs "the movie M")
    "is dinner ready? we are starving",
    "speed is the best part of that game",  # "speed" (5.0) is too common to open a sentence as a title
])
def test_words_that_only_look_like_titles_link_nothing(demo, text):
    assert _linked(text, demo) == []


@pytest.mark.parametrize("text, labels", [
    ("the movie Z was great", ["Z (1969)"]),  # one letter after "the movie"
    ("that film Network stayed with me", ["Network (1976)"]),
    ("i liked boyhood", ["Boyhood (2014)"]),  # a rarer word after a cue
    ("i loved the score", ["Score, The (2001)"]),
    ("movies like Aliens  Life or District 9", ["Aliens (1986)", "District 9 (2009)"]),  # well known: no longer name
    ("jumanji was so much fun with the kids", ["Jumanji (1995)"]),  # a well-known title opening a judged sentence
    ("gladiator made me cry like a baby", ["Gladiator (2000)"]),  # or one saying what it did to the speaker
    ("is jumanji any good for kids?", ["Jumanji (1995)"]),  # or a question that judges it
])
def test_titles_that_pass_those_checks(demo, text, labels):
    assert [demo.item(item_id).label for item_id in _linked(text, demo)] == labels


def test_the_movie_is_no_title_of_its_own(demo):
    assert [demo.item(item_id).label for item_id in _linked("I love the movie Twister", demo)] == ["Twister (1996)"]


def test_franchise_in_text_is_an_ambiguous_mention(demo):
    (mention,) = find_titles("I really like the original Star Wars", demo)
    assert mention.span == "Star Wars" and mention.result.decision == "ambiguous"
    assert "260" in {candidate.item_id for candidate in mention.result.candidates}


def test_links_against_any_catalog(request):
    tiny = load_catalog(Path(request.config.rootpath) / "tests" / "fixtures" / "tiny_ml")
    assert link_title("matrix", tiny).item_id == "2571"
    assert _linked("loved twelve monkeys", tiny) == ["32"]


def test_redial_dev_seeker_turns_precision_and_recall(demo):
    true_positive = false_positive = missed = ambiguous = turns = 0
    start = time.perf_counter()
    for line in REDIAL_DEV.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        for text, reference in zip(case["seeker_turns"], case["seeker_turn_ml_ids"]):
            turns += 1
            mentions = find_titles(text, demo)
            linked = {m.result.item_id for m in mentions if m.result.decision == "linked"}
            ambiguous += sum(m.result.decision == "ambiguous" for m in mentions)
            true_positive += len(linked & set(reference))
            false_positive += len(linked - set(reference))
            missed += len(set(reference) - linked)
    precision = true_positive / (true_positive + false_positive)
    recall = true_positive / (true_positive + missed)
    per_turn_ms = (time.perf_counter() - start) / turns * 1000
    print(f"\nReDial dev seeker turns: {turns}, linked right {true_positive}, linked wrong or untagged "
          f"{false_positive}, missed {missed}, ambiguous mentions {ambiguous}; precision {precision:.3f}, "
          f"recall {recall:.3f}, {per_turn_ms:.1f} ms per turn")
    assert precision >= MIN_REDIAL_PRECISION and recall >= MIN_REDIAL_RECALL


def test_a_title_whose_cast_the_message_names_is_meant(demo):
    """In lower case "drive" and "big" could be chat; the stars named beside them say they are films, and which."""
    assert [demo.item(i).label for i in _linked_by_reader("drive with ryan gosling has the best soundtrack", demo)] \
        == ["Drive (2011)"]
    assert [demo.item(i).label for i in _linked_by_reader("tom hanks in big is such a comfort watch", demo)] \
        == ["Big (1988)"]  # not Big Fish
    assert _linked_by_reader("i want to drive with tom hanks", demo) == []  # a star named, but not Drive's
    assert [demo.item(i).label for i in _linked_by_reader("prisoners with hugh jackman was so tense", demo)] \
        == ["Prisoners (2013)"]  # "with" and a person the index knows, though not (yet) as this film's star
    assert _linked_by_reader("i went for a walk with tom hanks", demo) == []  # "a walk" is a common noun


def _linked_by_reader(text, catalog):
    return [title.item_id for title in read_message(text, catalog).titles]
