"""Search documents and the incremental Chroma index (embedded and server mode), on a hand-made 24-movie catalog."""

from __future__ import annotations

import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest
from conftest import free_port

from convrec.catalog.documents import MAX_DOCUMENT_TAGS, content_hash, documents, item_document, title_only
from convrec.catalog.fingerprint import fingerprint
from convrec.catalog.models import ITEM_COLUMNS, RATING_COLUMNS, Catalog, RatingScale
from convrec.catalog.vectors import VectorIndex, collection_name, genre_key, open_client, similarity
from convrec.core.errors import ConvrecError, InputError
from convrec.core.settings import Settings

MOVIES = [  # id, title, year, genres, tags (most frequent first), description
    ("1", "Toy Story", 1995, ["Animation", "Children", "Comedy"], ["pixar", "toys"],
     "Toys that secretly come to life when their owner is away compete for his affection."),
    ("2", "Jaws", 1975, ["Horror", "Thriller"], ["shark", "beach"],
     "A great white shark terrorizes a seaside resort town, and the police chief hunts it."),
    ("3", "Alien", 1979, ["Horror", "Sci-Fi"], ["space", "creature"],
     "The crew of a space freighter is stalked by a deadly alien creature."),
    ("4", "Heat", 1995, ["Action", "Crime", "Thriller"], ["heist", "los angeles"],
     "A detective pursues a crew of professional bank robbers in Los Angeles."),
    ("5", "Finding Nemo", 2003, ["Animation", "Children", "Comedy"], ["pixar", "ocean"],
     "A clownfish crosses the ocean to find his son."),
    ("6", "The Notebook", 2004, ["Drama", "Romance"], ["love story"],
     "A poor young man and a rich young woman fall in love in 1940s South Carolina."),
    ("7", "Spaceballs", 1987, ["Comedy", "Sci-Fi"], ["parody", "space"],
     "A parody of space operas: a mercenary rescues a princess from an evil galactic empire."),
    ("8", "Airplane!", 1980, ["Comedy"], ["parody", "spoof"],
     "A disaster-movie spoof about an airliner whose crew falls ill with food poisoning."),
    ("9", "The Godfather", 1972, ["Crime", "Drama"], ["mafia"],
     "The aging patriarch of a crime dynasty hands control to his reluctant son."),
    ("10", "Star Wars", 1977, ["Action", "Adventure", "Sci-Fi"], ["space", "jedi"],
     "A farm boy joins rebels fighting a galactic empire and its planet-destroying space station."),
    ("11", "Groundhog Day", 1993, ["Comedy", "Fantasy", "Romance"], ["time loop"],
     "A weatherman relives the same day over and over."),
    ("12", "Titanic", 1997, ["Drama", "Romance"], ["ship", "iceberg"],
     "A romance aboard the ill-fated ship that sinks after hitting an iceberg."),
    ("13", "The Shining", 1980, ["Horror"], ["stephen king", "hotel"],
     "A writer caretaking an isolated hotel in winter descends into madness."),
    ("14", "Mad Max: Fury Road", 2015, ["Action", "Adventure", "Sci-Fi"], ["desert", "cars"],
     "In a post-apocalyptic desert wasteland, a woman rebels against a tyrant with a war rig."),
    ("15", "Ratatouille", 2007, ["Animation", "Children", "Comedy"], ["pixar", "cooking"],
     "A rat who dreams of becoming a chef in Paris teams up with a kitchen boy."),
    ("16", "Fargo", 1996, ["Comedy", "Crime", "Thriller"], ["dark comedy", "snow"],
     "A car salesman's plan to have his wife kidnapped goes wrong in snowy Minnesota."),
    ("17", "Casablanca", 1942, ["Drama", "Romance"], ["classic", "world war ii"],
     "A nightclub owner in wartime Morocco must choose between love and virtue."),
    ("18", "The Matrix", 1999, ["Action", "Sci-Fi"], ["virtual reality", "hacker"],
     "A hacker learns that reality is a simulation run by machines."),
    ("19", "Home Alone", 1990, ["Children", "Comedy"], ["christmas"],
     "A boy left home alone at Christmas defends the house against burglars."),
    ("20", "Paranormal Activity", 2007, ["Horror"], ["found footage", "ghost"], None),
    ("21", "Untitled Home Movie", None, [], [], None),
    ("22", "Galaxy Quest", 1999, ["Adventure", "Comedy", "Sci-Fi"], ["parody", "space"],
     "The cast of a cancelled space TV show is mistaken for real heroes by aliens."),
    ("23", "Die Hard", 1988, ["Action", "Thriller"], ["christmas", "skyscraper"],
     "A New York cop fights terrorists who take over a Los Angeles skyscraper at Christmas."),
    ("24", "Up", 2009, ["Adventure", "Animation", "Children"], ["pixar", "balloons"],
     "An old man ties thousands of balloons to his house and flies to South America."),
]


def make_catalog(movies=MOVIES, name: str = "test-movies") -> Catalog:
    items = pd.DataFrame([{"title": title, "year": year, "genres": list(genres), "tags": list(tags),
                           "description": description, "metadata": {}}
                          for _, title, year, genres, tags, description in movies],
                         index=pd.Index([movie[0] for movie in movies], dtype="str", name="item_id"))
    items["year"] = items["year"].astype("Int64")
    items = items[ITEM_COLUMNS]
    ratings = pd.DataFrame({"user_id": ["u1"], "item_id": [movies[0][0]], "rating": [4.0],
                            "timestamp": pd.array([None], dtype="Int64")})[RATING_COLUMNS]
    scale = RatingScale()
    return Catalog(name=name, items=items, ratings=ratings, scale=scale,
                   fingerprint=fingerprint(items, ratings, scale))


def retagged(movies, item_id: str, tags: list[str]):
    return [(m[0], m[1], m[2], m[3], tags if m[0] == item_id else m[4], m[5]) for m in movies]


@pytest.fixture(scope="module")
def embedder():
    from convrec.catalog.embeddings import embedding_function

    return embedding_function()  # the real model: the first load costs 5-60 s (torch import)


@pytest.fixture
def encoded(embedder, monkeypatch) -> list[int]:
    """How many documents each call of the embedding function encoded."""
    calls: list[int] = []
    real = type(embedder).__call__

    def counting(self, input):  # noqa: A002 - the protocol's parameter name
        calls.append(len(input))
        return real(self, input)

    monkeypatch.setattr(type(embedder), "__call__", counting)
    return calls


# -- documents (no model) ------------------------------------------------------------------------------------------

def test_document_has_title_year_genres_tags_description():
    docs = documents(make_catalog())
    assert docs["1"] == ("Toy Story (1995)\nGenres: Animation, Children, Comedy\nTags: pixar, toys\n"
                         "Toys that secretly come to life when their owner is away compete for his affection.")
    assert docs["20"] == "Paranormal Activity (2007)\nGenres: Horror\nTags: found footage, ghost"
    assert docs["21"] == "Untitled Home Movie"


def test_title_only_documents_are_those_with_no_tags_and_no_description():
    catalog = make_catalog()
    docs = documents(catalog)
    flagged = dict(zip(catalog.items.index, title_only(catalog)))
    assert flagged["21"] and not flagged["1"] and not flagged["20"]  # "20" has tags but no description
    for item_id in (item_id for item_id in docs if flagged[item_id]):  # the title line, at most a genres line
        assert all(line.startswith("Genres: ") for line in docs[item_id].splitlines()[1:])


def test_document_is_compact_and_deterministic():
    tags = ["Pixar", "pixar ", "toys"] + [f"tag{n}" for n in range(10)]
    movie = ("1", "Toy Story (1995)", 1995, ["Animation"], tags, "  Toys\n come   to life. ")
    catalog = make_catalog([movie])
    doc = documents(catalog)["1"]
    assert doc.splitlines()[0] == "Toy Story (1995)"  # the year is not repeated
    assert doc.splitlines()[2] == "Tags: " + ", ".join(["Pixar", "toys"] + [f"tag{n}" for n in range(6)])
    assert len(doc.splitlines()[2].split(", ")) == MAX_DOCUMENT_TAGS
    assert doc.splitlines()[3] == "Toys come to life."
    assert item_document(catalog.items.loc["1"]) == doc == documents(make_catalog([movie]))["1"]
    assert len(content_hash(doc)) == 16 and content_hash(doc) != content_hash(doc + ".")


def test_collection_names_are_valid_for_chroma():
    assert collection_name("ml-latest-small") == "items-ml-latest-small"
    assert collection_name("my catalog/ü") == "items-my-catalog"
    assert collection_name("x" * 300 + "---")[-1] == "x"


def test_similarity_is_the_clipped_cosine():
    assert similarity(0.0) == 1.0 and similarity(0.25) == 0.75 and similarity(1.4) == 0.0


# -- the index (real model) ----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_sync_embeds_only_what_changed(tmp_path, embedder, encoded):
    catalog = make_catalog()
    first = VectorIndex(open_client(tmp_path), catalog.name, embedder).sync(catalog)
    assert (first.embedded, first.deleted, first.unchanged) == (24, 0, 0) and sum(encoded) == 24

    encoded.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # reopening the persisted collection must not warn (e.g. about its config)
        reopened = VectorIndex(open_client(tmp_path), catalog.name, embedder)
        assert reopened.sync(catalog) == type(first)(embedded=0, deleted=0, unchanged=24)
    assert encoded == []

    report = reopened.sync(make_catalog(retagged(MOVIES, "4", ["heist", "bank robbery"])))
    assert (report.embedded, report.unchanged) == (1, 23) and sum(encoded) == 1

    encoded.clear()
    report = reopened.sync(make_catalog(retagged(MOVIES, "4", ["heist", "bank robbery"])[1:]))
    assert (report.embedded, report.deleted, report.unchanged) == (0, 1, 23) and encoded == []
    assert reopened.count() == 23


@pytest.mark.slow
def test_persisted_config_rebuilds_the_function_offline(tmp_path, embedder):
    catalog = make_catalog()
    VectorIndex(open_client(tmp_path), catalog.name, embedder).sync(catalog)
    collection = open_client(tmp_path).get_collection(collection_name(catalog.name))
    rebuilt = collection.configuration["embedding_function"]  # what Chroma builds from the persisted config
    assert rebuilt.get_config()["model_name"] == embedder.get_config()["model_name"]
    assert collection.configuration["hnsw"]["space"] == "cosine"


@pytest.mark.slow
def test_query_finds_the_obvious_item(tmp_path, embedder):
    catalog = make_catalog()
    index = VectorIndex(open_client(tmp_path), catalog.name, embedder)
    index.sync(catalog)
    hits = index.query("toys that come to life when nobody is watching", 5)
    assert hits[0][0] == "1"
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert all(0.0 <= s <= 1.0 for _, s in hits)
    assert index.query("a shark attacks swimmers at the beach", 1)[0][0] == "2"
    assert len(index.query("anything", 100)) == 24 and index.query("anything", 0) == []


@pytest.mark.slow
def test_exact_search_gives_chromas_neighbours_and_sees_a_sync(tmp_path, embedder, monkeypatch):
    """Small catalogs are searched exactly (the same answer every run); HNSW answers beyond EXACT_SEARCH_MAX."""
    import convrec.catalog.vectors as vectors

    catalog = make_catalog()
    index = VectorIndex(open_client(tmp_path), catalog.name, embedder)
    index.sync(catalog)
    exact = index.neighbours("1", 5)
    monkeypatch.setattr(vectors, "EXACT_SEARCH_MAX", 0)
    by_chroma = VectorIndex(open_client(tmp_path), catalog.name, embedder).neighbours("1", 5)
    assert [i for i, _ in exact] == [i for i, _ in by_chroma]
    assert [s for _, s in exact] == pytest.approx([s for _, s in by_chroma], abs=1e-4)
    monkeypatch.undo()
    index.sync(make_catalog(MOVIES[1:]))
    assert index.neighbours("1", 5) == [] and "1" not in {i for i, _ in index.query("toys", 24)}


@pytest.mark.slow
def test_metadata_filters_genres_and_years(tmp_path, embedder):
    catalog = make_catalog()
    index = VectorIndex(open_client(tmp_path), catalog.name, embedder)
    index.sync(catalog)
    comedies = index.query("war in outer space", 4, where={genre_key("Comedy"): True})
    assert len(comedies) == 4 and all("Comedy" in catalog.item(item_id).genres for item_id, _ in comedies)
    assert comedies[0][0] in {"7", "22"}  # Spaceballs, Galaxy Quest
    recent = index.query("anything", 24, where={"$and": [{"year": {"$gte": 2000}}, {genre_key("Horror"): True}]})
    assert [item_id for item_id, _ in recent] == ["20"]
    assert "21" not in {item_id for item_id, _ in index.query("home movie", 24, where={"year": {"$lt": 3000}})}


@pytest.mark.slow
def test_another_embedding_model_starts_the_collection_over(tmp_path, embedder):
    from convrec.catalog.embeddings import embedding_function, embedding_model_path

    catalog = make_catalog()
    VectorIndex(open_client(tmp_path), catalog.name, embedder).sync(catalog)
    other_folder = tmp_path / "other-model"  # the same weights under another path count as another model
    other_folder.mkdir()
    for part in embedding_model_path().iterdir():
        (other_folder / part.name).symlink_to(part)
    other = VectorIndex(open_client(tmp_path), catalog.name, embedding_function(other_folder))
    assert other.count() == 0 and other.sync(catalog).embedded == 24


@pytest.mark.slow
def test_from_settings_uses_the_data_dir(isolated_settings):
    catalog = make_catalog(MOVIES[:3])
    assert VectorIndex.from_settings(catalog.name, Settings()).sync(catalog).embedded == 3
    assert (Settings().index_dir / "chroma").is_dir()


@pytest.mark.slow
def test_nothing_to_embed_never_loads_the_model(isolated_settings, embedder):
    catalog = make_catalog(MOVIES[:3])
    VectorIndex.from_settings(catalog.name, Settings()).sync(catalog)
    script = ("import sys; from test_index_vectors import MOVIES, make_catalog; "
              "from convrec.catalog.vectors import VectorIndex; from convrec.core.settings import Settings; "
              "catalog = make_catalog(MOVIES[:3]); "
              "report = VectorIndex.from_settings(catalog.name, Settings()).sync(catalog); "
              "print(report.embedded, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parent, capture_output=True, text=True,
                         timeout=120)
    assert run.stdout.split() == ["0", "False", "False"], run.stderr[-2000:]

# -- server mode ---------------------------------------------------------------------------------------------------


@pytest.fixture
def chroma_server(tmp_path):
    """A real `chroma run` on a free port; yields its URL once it answers (about 1-3 s here)."""
    port, log = free_port(), tmp_path / "chroma.log"
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as output:
        server = subprocess.Popen([str(Path(sys.executable).parent / "chroma"), "run", "--path",
                                   str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
                                  stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                open_client(tmp_path, url)
                break
            except ConvrecError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"chroma run did not answer: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.slow
def test_server_mode_syncs_and_queries(chroma_server, embedder, encoded, monkeypatch):
    monkeypatch.setenv("CONVREC_CHROMA_URL", chroma_server)
    catalog = make_catalog()
    index = VectorIndex.from_settings(catalog.name, Settings())
    assert index.sync(catalog).embedded == 24
    assert not (Settings().index_dir / "chroma").exists()  # stored by the server, not embedded
    assert index.query("toys that come to life when nobody is watching", 1)[0][0] == "1"
    comedies = index.query("war in outer space", 3, where={genre_key("Comedy"): True})
    assert all("Comedy" in catalog.item(item_id).genres for item_id, _ in comedies)
    encoded.clear()
    assert VectorIndex.from_settings(catalog.name, Settings()).sync(catalog).embedded == 0 and encoded == []


def test_unreachable_server_is_a_clear_error(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ConvrecError, match="cannot reach the Chroma server") as caught:
        open_client(tmp_path, url)
    assert caught.value.where == url and "chroma run" in caught.value.fix
    with pytest.raises(InputError, match="not a Chroma server URL"):
        open_client(tmp_path, "ftp://example.org")
