"""Chinese end to end: reading (gloss, aliases, LLM title proposals), replies in Chinese, the faithfulness check."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from convrec.agent.chinese import (back_schema, chinese_llm_reading, faithful_chinese, proposals_schema, reading_with_titles,
                                   title_candidates)
from convrec.agent.llm import ScriptedLLM
from convrec.agent.locale import language_of, local_title, localized_reason
from convrec.catalog.aliases import read_aliases
from convrec.core.errors import CatalogError
from convrec.evaluation.chinese import CASES_PATH, cases_of_split, load_cases, score_case
from convrec.tools.chinese import fold_script, pinyin_titles
from convrec.tools.explain import genre_match, same_collection, same_person, similar_description, similar_to_liked
from convrec.tools.models import Recommendation
from convrec.tools.reader import read_message


@pytest.fixture(scope="module")
def catalog():
    from convrec.catalog.loaders import load_demo_catalog

    return load_demo_catalog()


def test_the_issue_message_links_the_matrix_and_keeps_the_horror_exclusion(catalog):
    reading = read_message("我喜欢黑客帝国，不要恐怖片", catalog)
    assert set(reading.liked) == {"2571"}
    assert reading.constraints.exclude_genres == {"Horror"}
    assert reading.titles[0].span == "黑客帝国"  # the user's own words, not the gloss


@pytest.mark.parametrize(("text", "liked", "excluded", "years"), [
    ("别给我推荐战争片，想看喜剧", {"Comedy"}, {"War"}, (None, None)),
    ("除了动画片都可以", set(), {"Animation"}, (None, None)),
    ("七十年代的西部片", {"Western"}, set(), (1970, 1979)),
    ("1995年到2005年的动作片", {"Action"}, set(), (1995, 2005)),
    ("no horror please, 来点科幻的", {"Sci-Fi"}, {"Horror"}, (None, None)),
])
def test_genres_negations_and_years_read_as_in_english(catalog, text, liked, excluded, years):
    reading = read_message(text, catalog)
    assert reading.genres_liked >= liked
    assert reading.constraints.exclude_genres == excluded
    assert (reading.constraints.year_min, reading.constraints.year_max) == years


def test_every_demo_alias_links_to_its_item_liked_and_disliked(catalog):
    for alias, item_id in catalog.aliases.items():
        assert set(read_message(f"我喜欢{alias}", catalog).liked) == {item_id}, alias
        assert set(read_message(f"我讨厌{alias}", catalog).disliked) == {item_id}, alias


def test_an_alias_table_naming_an_unknown_item_is_a_clear_error(tmp_path: Path, catalog):
    table = tmp_path / "aliases.csv"
    table.write_text("item_id,alias\n2571,黑客帝国\n999999999,不存在\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="lacks") as error:
        read_aliases(table, catalog.items.index)
    assert ":3" in error.value.where


def test_a_manifest_catalog_brings_its_aliases_through_the_store(tmp_path: Path):
    from convrec.catalog.store import CatalogStore

    folder = tmp_path / "books"
    folder.mkdir()
    (folder / "books.csv").write_text("book,name,kinds\n7,Dune,Sci-Fi\n8,Emma,Romance\n", encoding="utf-8")
    (folder / "stars.csv").write_text("reader,book,stars\na,7,5\nb,8,4\n", encoding="utf-8")
    (folder / "aliases.csv").write_text("item_id,alias\n7,沙丘\n", encoding="utf-8")
    (folder / "convrec.toml").write_text('name = "books"\n[items]\npath = "books.csv"\nid = "book"\n'
                                         'title = "name"\ngenres = "kinds"\n[ratings]\npath = "stars.csv"\n'
                                         'user_id = "reader"\nitem_id = "book"\nrating = "stars"\nscale = [1, 5]\n'
                                         '[aliases]\npath = "aliases.csv"\n')
    store = CatalogStore(tmp_path / "store")
    store.import_catalog(folder)
    assert store.active().aliases == {"沙丘": "7"}
    (folder / "aliases.csv").write_text("item_id,alias\n7,沙丘\n8,爱玛\n", encoding="utf-8")
    store.import_catalog(folder)  # same items and ratings, so the same version: its aliases are updated
    assert store.active().aliases == {"沙丘": "7", "爱玛": "8"}
    assert set(read_message("我喜欢爱玛", store.active()).liked) == {"8"}


def test_the_llm_proposes_titles_and_the_catalog_decides(catalog):
    schema = proposals_schema(("recommend",))
    proposals = schema(intent="recommend", titles=[{"zh": "千与千寻", "en": "Spirited Away"},
                                                   {"zh": "不存在的电影", "en": "A Film Nobody Made 3000"},
                                                   {"zh": "阿凡达", "en": "Avatar"}]).titles
    found = title_candidates(proposals, "我喜欢千与千寻，讨厌不存在的电影", dataclasses.replace(catalog, aliases={}))
    assert list(found) == ["千与千寻"] and found["千与千寻"][0] == "5618"  # 阿凡达 is not in the message
    reading = reading_with_titles("我喜欢千与千寻，不要恐怖片", catalog, {"千与千寻": "5618"})
    assert set(reading.liked) == {"5618"} and reading.constraints.exclude_genres == {"Horror"}


@pytest.mark.parametrize("zh, en, why", [
    ("冒险片", "Adventure", "a genre word is not a title"),
    ("黑客帝国", "Blade Runner", "the alias table knows this span"),
    ("星球大战", "Star Wars", "inside an alias the table knows (星球大战：新希望)"),
    ("英雄", "Heroes", "an everyday-word title the sentence shows is the table's film (我看过英雄)"),
    ("终结者4", "Terminator Genisys", "a sequel number the catalog's series resolves (Terminator Salvation)"),
])
def test_proposals_that_fail_a_check_are_dropped(catalog, zh, en, why):
    proposals = proposals_schema(("recommend",))(intent="recommend", titles=[{"zh": zh, "en": en}]).titles
    message = {"星球大战": "我喜欢星球大战：新希望", "英雄": "我看过英雄"}.get(zh, f"我喜欢{zh}")
    assert title_candidates(proposals, message, catalog) == {}, why


def test_the_round_trip_picks_the_candidate_the_model_names_back(catalog):
    # "Terminator" gives several candidates; the model's Chinese title for the second is the user's span.
    candidates = title_candidates(proposals_schema(("recommend",))(intent="recommend", titles=[
        {"zh": "未来战士", "en": "Terminator"}]).titles, "我喜欢未来战士", catalog)["未来战士"]
    assert len(candidates) >= 2
    llm = ScriptedLLM().enqueue(proposals_schema(("recommend",))(intent="recommend", titles=[
        {"zh": "未来战士", "en": "Terminator"}]), back_schema()(zh="终结者"), back_schema()(zh="未来战士"))
    reading = chinese_llm_reading(llm, "我喜欢未来战士", "", catalog)
    assert set(reading.liked) == {candidates[1]} and len(llm.prompts) == 3


def test_chinese_films_link_by_the_pinyin_in_their_catalog_title(catalog):
    # "Farewell My Concubine (Ba wang bie ji)", "Raise the Red Lantern (Da hong deng long gao gao gua)", no aliases.
    catalog = dataclasses.replace(catalog, aliases={})
    reading = read_message("我喜欢霸王别姬，讨厌大红灯笼高高挂", catalog)
    assert set(reading.liked) == {"446"} and set(reading.disliked) == {"1280"}
    assert pinyin_titles("我喜欢英雄，想看喜剧", catalog) == {}  # two characters: an everyday word as often as a film


def test_an_alias_that_goes_on_as_a_longer_title_links_nothing(catalog):
    assert read_message("我喜欢终结者2", catalog).liked.keys() == {"589"}
    assert not read_message("我喜欢玩具总动员4", catalog).liked  # not Toy Story: a film the catalog lacks
    assert not read_message("星球大战：最后的绝地武士很好看", catalog).liked
    assert read_message("看完教父之后想看别的", catalog).liked.keys() == {"858"}


@pytest.mark.parametrize(("text", "liked", "disliked"), [
    ("我喜歡駭客帝國", {"2571"}, set()),  # traditional characters: 喜歡 is 喜欢, 駭客帝國 is 骇客帝国
    ("我不喜歡鐵達尼號", set(), {"1721"}),
    ("蝙蝠侠黑暗骑士很好看", {"58559"}, set()),  # the table writes 蝙蝠侠：黑暗骑士
    ("星球大战之新希望是经典", {"260"}, set()),
])
def test_titles_written_in_other_characters_or_breaks_link(catalog, text, liked, disliked):
    reading = read_message(text, catalog)
    assert (set(reading.liked), set(reading.disliked)) == (liked, disliked)
    assert all(title.span in text for title in reading.titles)  # the user's own characters


def test_simplified_text_is_never_folded_into_another_word(catalog):
    text = "宫崎骏的电影我都喜欢，不要太长"  # 崎 is rare in jieba's counts, but spells no known word here
    assert fold_script(text, catalog.aliases) == text


@pytest.mark.parametrize(("text", "liked", "disliked", "excluded"), [
    ("Shrek 我不喜欢", set(), {"4306"}, set()),  # the thing first, the opinion last
    ("恐怖片我不看，动画片就算了", set(), set(), {"Horror", "Animation"}),
    ("我对纪录片不感兴趣", set(), set(), {"Documentary"}),
    ("阿甘正传我很喜欢，泰坦尼克号我讨厌", {"356"}, {"1721"}, set()),
])
def test_an_opinion_after_its_thing_reads_as_before_it(catalog, text, liked, disliked, excluded):
    reading = read_message(text, catalog)
    assert (set(reading.liked), set(reading.disliked)) == (liked, disliked)
    assert reading.constraints.exclude_genres == excluded


def test_a_title_that_is_an_everyday_word_links_in_title_marks(catalog):
    assert set(read_message("张艺谋的《英雄》很好看", catalog).liked) == {"7090"}
    assert not read_message("他是我的英雄", catalog).liked
    assert local_title(catalog, "7090", "zh") == "英雄"  # shown without the marks


@pytest.mark.parametrize(("text", "liked", "disliked"), [
    ("我看过英雄", {"7090"}, set()),  # a watch verb before it
    ("看了好几遍怦然心动", {"80586"}, set()),
    ("昨天二刷了你的名字", {"163134"}, set()),
    ("电影功夫很好看", {"31878"}, set()),
    ("英雄这部电影怎么样", {"7090"}, set()),  # a film word after it
    ("唐人街这部电影很经典", {"1252"}, set()),
    ("我不喜欢后天那种灾难片", set(), {"8361"}),
    ("毕业生的配乐很好听", {"1247"}, set()),
    ("李安的推手", {"298"}, set()),  # a person's
    ("一一和饮食男女都是台湾电影", {"4334", "232"}, set()),  # listed with a linked title
    ("蝴蝶效应和盗梦空间都很烧脑", {"7254", "79132"}, set()),
    ("我不喜欢英雄，太假了", set(), {"7090"}),  # an opinion verb, and judged as a film
    ("我喜欢活着，剧情很感人", {"326"}, set()),
])
def test_an_everyday_word_title_links_without_marks_where_the_sentence_shows_a_film(catalog, text, liked, disliked):
    reading = read_message(text, catalog)
    assert (set(reading.liked), set(reading.disliked)) == (liked, disliked)


@pytest.mark.parametrize("text", [
    "他是我的英雄", "我的英雄是我爸爸", "中国的英雄", "一个英雄", "英雄们都回来了", "英雄所见略同", "我喜欢英雄主义的电影",
    "电影里的英雄都很帅", "我喜欢英雄，他们很勇敢", "我想学功夫", "我喜欢功夫片", "小明的功夫很好", "成龙的功夫很厉害",
    "他的功夫是跟师父学的", "看了一个功夫表演", "我喜欢功夫，很酷", "好好活着", "活着真好", "活着的意义是什么",
    "你的名字是什么", "我忘了你的名字", "我看了你的简历", "正值花样年华", "他们一一回答了问题", "醉拳是一种拳法",
    "地心引力让苹果掉下来", "我怦然心动", "今天宿醉了", "后天要上班", "唐人街很热闹", "我看过唐人街的夜景",
    "看了唐人街探案",  # a longer title the table lacks (Detective Chinatown), not Chinatown
])
def test_an_everyday_word_in_ordinary_use_links_nothing(catalog, text):
    reading = read_message(text, catalog)
    assert not reading.liked and not reading.disliked


@pytest.mark.parametrize(("text", "item_id"), [
    ("我喜欢终结者4", "68791"),  # the 4th Terminator film: Terminator Salvation
    ("疯狂的麦克斯3很好看", "3704"),  # Mad Max Beyond Thunderdome: no number in its title, the 3rd by release
    ("玩具总动员第三部", "78499"),
    ("冰川时代3", "69644"),  # Ice Age: Dawn of the Dinosaurs (its TV specials do not count)
])
def test_a_sequel_number_links_the_nth_film_of_the_series(catalog, text, item_id):
    assert set(read_message(text, catalog).liked) == {item_id}


@pytest.mark.parametrize("text", [
    "玩具总动员4", "黑客帝国3部都好看",
    "玩具总动员第二十部",  # the 20th, not the 2nd
    "X战警4",  # the catalog's "X-Men …" order skips X2, which the table calls X战警2: the orders disagree
])
def test_a_sequel_the_catalog_lacks_or_a_count_of_films_links_no_sequel(catalog, text):
    assert not read_message(text, catalog).liked


def test_the_nth_film_of_a_series_is_none_when_the_order_is_uncertain(catalog):
    from convrec.tools.knowledge import nth_film

    assert nth_film(catalog, "3702", 4) == "122882"  # Mad Max → Fury Road
    assert nth_film(catalog, "3702", 2) == "3703"  # "Road Warrior, The (Mad Max 2)": the number in its alternate title
    assert nth_film(catalog, "4306", 3) == "53121"  # Shrek the Third
    assert nth_film(catalog, "2571", 2) is None  # The Matrix's sequels both came out in 2003 (the table has 黑客帝国2)
    assert nth_film(catalog, "1214", 2) is None  # "Aliens" is not named "Alien …", and Alien³ says it is the 3rd
    assert nth_film(catalog, "1", 4) is None  # no Toy Story 4 in the demo catalog


@pytest.mark.parametrize(("text", "liked"), [
    ("我喜欢 Her 和 Up", {"106920", "68954"}),  # English titles in a Chinese sentence: the English linker's rules
    ("我看了 Heat，很好看", {"6"}),
    ("今天心情很 up", set()),
])
def test_english_titles_in_a_chinese_message_link_by_the_english_rules(catalog, text, liked):
    assert set(read_message(text, catalog).liked) == liked


@pytest.mark.parametrize(("text", "disliked", "excluded", "years"), [
    ("阿凡达太长了，我不喜欢", {"72998"}, set(), (None, None)),  # the opinion in a clause of its own
    ("别再给我推荐爱情片了", set(), {"Romance"}, (None, None)),
    ("七八十年代的喜剧", set(), set(), (1970, 1989)),
])
def test_more_of_how_chinese_says_it(catalog, text, disliked, excluded, years):
    reading = read_message(text, catalog)
    assert set(reading.disliked) == disliked and not reading.liked
    assert reading.constraints.exclude_genres == excluded
    assert (reading.constraints.year_min, reading.constraints.year_max) == years


def test_a_chinese_turn_answers_in_chinese_with_catalog_cards(make_agent):
    agent = make_agent(None)
    result = asyncio.run(agent.run_turn("zh", "我喜欢黑客帝国，不要恐怖片"))
    assert language_of(result.reply) == "zh" and result.reply.startswith("为你挑了几部电影")
    assert result.recommendations and all(card.item_id in agent.catalog for card in result.recommendations)
    assert not any("Horror" in card.genres for card in result.recommendations)
    assert all(language_of(card.reasons[0].text) == "zh" for card in result.recommendations)


def test_the_llm_path_in_a_turn_links_a_title_missing_from_the_aliases(make_agent):
    llm = ScriptedLLM().enqueue(
        proposals_schema(("recommend", "refine", "feedback", "question", "greeting"))(
            intent="recommend", titles=[{"zh": "侧耳倾听", "en": "Whisper of the Heart"}], query=""),
        back_schema()(zh="《侧耳倾听》"))
    llm.enqueue(*["不行"] * 10)  # every card's sentence fails the check: the templates stay
    agent = make_agent(llm)
    result = asyncio.run(agent.run_turn("zh-llm", "最近看了侧耳倾听，很好看"))
    assert "26903" in result.profile.liked
    assert "Earlier" in llm.prompts[0][1]["content"] and "侧耳倾听" in llm.prompts[0][1]["content"]
    assert "Whisper of the Heart" in llm.prompts[1][1]["content"]  # asked the other way round


def test_a_proposal_the_model_cannot_translate_back_is_dropped(catalog):
    # "无间道" proposed as The Departed (its remake): the model calls The Departed "无间道风云", not the user's words.
    llm = ScriptedLLM().enqueue(
        proposals_schema(("recommend",))(intent="recommend", titles=[{"zh": "无间道", "en": "The Departed"}]),
        back_schema()(zh="无间道风云"))
    reading = chinese_llm_reading(llm, "我喜欢无间道", "", dataclasses.replace(catalog, aliases={}))
    assert not reading.liked and len(llm.prompts) == 2


def test_a_round_trip_answer_that_is_not_json_is_a_no_and_the_reading_goes_on(catalog):
    llm = ScriptedLLM().enqueue(proposals_schema(("recommend",))(intent="recommend", titles=[
        {"zh": "侧耳倾听", "en": "Whisper of the Heart"}]), "not json")
    reading = chinese_llm_reading(llm, "我喜欢侧耳倾听，不要恐怖片", "", catalog)
    assert not reading.liked and reading.constraints.exclude_genres == {"Horror"}


def test_chinese_reasons_cite_the_same_evidence(catalog):
    reason = localized_reason(similar_to_liked("2571", "Matrix, The", 0.8234), catalog, "zh")
    assert reason.text == "因为你喜欢《黑客帝国》（相似度 0.82）" and reason.evidence["liked_item_id"] == "2571"
    assert localized_reason(genre_match(["Sci-Fi", "Action"]), catalog, "zh").text == "属于你喜欢的类型：科幻、动作"


def test_every_reason_kind_has_a_chinese_template(catalog):
    from typing import get_args

    from convrec.agent.prompts import template
    from convrec.tools.models import ReasonKind

    for kind in get_args(ReasonKind):
        assert template(f"zh/reason_{kind}").template, kind
    reason = localized_reason(similar_description("2571", "Matrix, The", 0.5), catalog, "zh")
    assert reason.text == "简介和《黑客帝国》相近（相似度 0.50）"


def test_person_and_collection_reasons_read_in_chinese(catalog):
    liked = localized_reason(same_person("Keanu Reeves", "stars", "2571", "Matrix, The", "stars"), catalog, "zh")
    assert liked.text == "主演：Keanu Reeves，也参与了《黑客帝国》" and liked.evidence["person"] == "Keanu Reeves"
    assert localized_reason(same_person("Ridley Scott", "directed"), catalog, "zh").text == "导演：Ridley Scott"
    assert localized_reason(same_collection("The Matrix Collection", "2571", "Matrix, The"), catalog,
                            "zh").text == "属于The Matrix Collection，和《黑客帝国》一样"


def _card(catalog, item_id: str, reason) -> Recommendation:
    item = catalog.item(item_id)
    return Recommendation(item_id=item_id, title=item.title, year=item.year, genres=list(item.genres), score=1.0,
                          reasons=[localized_reason(reason, catalog, "zh")])


@pytest.mark.parametrize(("sentence", "ok"), [
    ("你喜欢《黑客帝国》，那《终结者2》应该也很合你的口味。", True),
    ("既然你喜欢黑客帝国，Terminator 2: Judgment Day 一定值得一看。", True),
    ("你喜欢《黑客帝国》，那《终结者2》的相似度高达 0.95。", False),  # a number the evidence lacks
    ("你喜欢《黑客帝国》，《泰坦尼克号》和《终结者2》都很合适。", False),  # another title
    ("你喜欢《黑客帝国》，《终结者2》讲的是机器人杀手回到过去。", False),  # a plot the evidence lacks
    ("你喜欢《黑客帝国》，这部也很合你的口味。", False),  # does not name its own title
])
def test_the_faithfulness_check_reads_chinese(catalog, sentence, ok):
    card = _card(catalog, "589", similar_to_liked("2571", "Matrix, The", 0.81))
    assert faithful_chinese(sentence, card, catalog) is ok


def test_the_test_set_is_large_enough_and_scores_itself(catalog):
    cases = load_cases(CASES_PATH)
    assert len(cases) >= 40 and {case["category"] for case in cases} >= {"title", "genre", "negation", "era", "mixed"}
    for category in {case["category"] for case in cases}:  # each category split evenly between the halves
        halves = [case["half"] for case in cases if case["category"] == category]
        assert abs(halves.count("tune") - halves.count("check")) <= 1, category
    case = cases[0]
    reading = read_message(case["text"], catalog)
    from convrec.tools.models import Profile

    profile = Profile(liked=reading.liked, constraints=reading.constraints)
    scores = score_case(case, profile, [], "为你挑了几部电影：", catalog)
    assert scores["titles_linked"] == scores["titles"] == 1 and scores["exclusions_kept"] == 1


@pytest.mark.parametrize("split", ["heldout", "blind"])
def test_each_blind_set_names_only_demo_items_and_runs_as_its_own_split(catalog, split):
    cases = cases_of_split(split)
    assert len(cases) >= 30 and {case["half"] for case in cases} == {split}
    named = [item for case in cases for key in ("liked", "disliked") for item in case["expected"].get(key, [])]
    assert len(named) >= 30 and all(item in catalog for item in named)
    others = {case["text"] for other in ("all", "heldout", "blind") if other != split for case in cases_of_split(other)}
    assert not others & {case["text"] for case in cases}


def test_messages_of_your_own_load_as_one_tuning_set_naming_demo_items(catalog):
    cases = load_cases(CASES_PATH.with_name("chinese_messages_own.jsonl"), half="tune")
    assert {case["half"] for case in cases} == {"tune"} and {"unlisted", "everyday", "ordinary"} <= {
        case["category"] for case in cases}
    named = [item for case in cases for key in ("liked", "disliked") for item in case["expected"].get(key, [])]
    assert named and all(item in catalog for item in named)


def test_a_pick_for_a_chinese_disambiguation_question_keeps_the_opinion():
    from convrec.agent.events import Choice, Question
    from convrec.agent.frontend import choice_message
    from convrec.agent.locale import ambiguity_question

    question = Question(kind="ambiguous", text=ambiguity_question("泰坦", "zh"), span="泰坦",
                        choices=[Choice(label="Titanic (1997)", item_id="1721")])
    assert choice_message(question, question.choices[0], "我讨厌泰坦") == "我讨厌Titanic (1997)"
