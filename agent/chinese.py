"""The LLM's part in a Chinese turn: it proposes titles, the catalog decides; and its Chinese sentences are checked.

Reading. The catalog has English titles; people name films by their Chinese titles, and only some are in the
catalog's alias table. The model proposes, for each Chinese title span in the message, the English title the film
was released under. A wrong link is worse than none (it puts a film the user never named into their profile), and a
small model's translations are often wrong ("霸王别姬" → "The Great Escape", a real film), so the catalog and the
model check each other:
- the span must be in the message, not inside a title the alias table knows (the table wins), and not glossary
  words only ("冒险片" is a genre, not a title) (`title_candidates`);
- the English title gives at most three catalog candidates (`link_title`'s best matches);
- asked the other way ("the Chinese title of Frozen (2013)?"), the model must give back exactly the user's span
  for a candidate (`round_trip`); the first that does is the title, else nothing is linked. A wrong translation
  rarely survives: asked for The Great Escape, the model does not say "霸王别姬".
The message is then read again deterministically with the confirmed titles (tools/chinese.py), so polarity, genres
and hard exclusions come from the user's own words, as in English. The model never adds an item. Its English
`query` feeds semantic search, whose embedding model is English-only.

Sentences. `faithful_chinese` is `agent.prose.faithful` for a Chinese sentence: it names the card's title (its
Chinese alias or the catalog form), no other catalog title, no number outside the evidence, and every word (jieba)
comes from the card's evidence, its genres, or a short list of words of recommendation.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field, create_model

from convrec.agent.llm import LLM, LLMOutputError, Message
from convrec.agent.locale import genre_name, local_title
from convrec.agent.prompts import render
from convrec.agent.prose import MAX_SENTENCE_CHARS, allowed_numbers, cited_items, unsupported_words
from convrec.agent.reading import READ_MAX_TOKENS, reading_messages
from convrec.catalog.models import Catalog
from convrec.tools.chinese import fold_script, gloss, has_chinese, only_glossary, segment, title_matches, title_spans
from convrec.tools.linking import find_titles, link_title
from convrec.tools.models import Recommendation
from convrec.tools.reader import Reading, read_message
from convrec.tools.textnorm import fold, spoken_title

MAX_TITLES = 3
BACK_MAX_TOKENS = 32
ROUND_TRIP_CANDIDATES = 3  # catalog items tried per proposed title: a model call each
_NOT_A_TITLE_CHAR = re.compile(r"[\s\W_]+")
_HAN_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff，。！？、；：“”《》（）]+")
_NUMBER_OR_MARK = re.compile(r"[\d.\s/，。！？、；：,.!?;:“”\"'《》（）()~\-—]+")

# What a recommendation may say in Chinese without evidence: liking, fit, invitation; nothing about the film.
PRAISE_WORDS_ZH = frozenset("""
的 了 吧 呢 啊 呀 哦 哈 和 与 及 是 有 就 都 还 更 最 又 也 这 那 一 给 让 为 把 在 里 中 之 得 地 着 过 会 能 可以 要 想 来
去 你 您 我 我们 他们 大家 它 这部 那部 一部 部 电影 影片 片子 片 作品 推荐 推荐给 喜欢 爱 看 看看 值得 一看 值得一看 一定 应该 也许
或许 可能 相信 肯定 绝对 不会 错过 享受 欣赏 不错 好 很 非常 特别 十分 真 真的 精彩 很棒 棒 好看 经典 期待 试试 试一试 觉得
感觉 口味 胃口 合 适合 符合 合你 对 正 风格 类似 同样 相似 既然 因为 所以 那么 如果 的话 还有 而且 并且 一样 会是 一部分 选择
不妨 今晚 下次 接下来 人 很多 高分 评分 打分 分 预计 预测 喜好 偏好 类型 题材 一下 吗 呗 啦 哟 个 位 部分 其中 正是 就是
""".split())


@lru_cache(maxsize=4)
def proposals_schema(intents: tuple[str, ...]) -> type[BaseModel]:
    title = create_model("TitleProposal", zh=(str, Field(max_length=40)), en=(str, Field(max_length=80)))
    return create_model(
        "ChineseReading",
        intent=(Literal[intents], ...),  # type: ignore[valid-type]
        titles=(list[title], Field(default_factory=list, max_length=MAX_TITLES)),
        query=(str, Field(default="", max_length=80)),
    )


def chinese_llm_reading(llm: LLM, message: str, context: str, catalog: Catalog) -> Reading:
    schema = proposals_schema(("recommend", "refine", "feedback", "question", "greeting"))
    answer = llm.structured(reading_messages(message, context, "zh"), schema, max_tokens=READ_MAX_TOKENS)
    titles = {}
    for span, candidates in title_candidates(answer.titles, message, catalog).items():
        if (item_id := next((c for c in candidates if round_trip(llm, span, c, catalog)), None)) is not None:
            titles[span] = item_id
    return reading_with_titles(message, catalog, titles, answer.query)


def title_candidates(proposals: list, message: str, catalog: Catalog) -> dict[str, list[str]]:
    """Chinese span → the catalog items its English title may be, for spans that pass the checks that need no
    model (see the module's doc)."""
    known = [(found.start, found.end) for found in title_spans(fold_script(message, catalog.aliases), catalog)]
    found: dict[str, list[str]] = {}
    for proposal in proposals:
        span, english = proposal.zh.strip(), proposal.en.strip()
        if len(span) < 2 or not has_chinese(span) or span not in message or not english or only_glossary(span):
            continue
        start = message.index(span)
        if any(begin <= start and start + len(span) <= end for begin, end in known):
            continue  # a title found without the model (a longer span, "蝙蝠侠：侠影之谜" beside "蝙蝠侠", may still be proposed)
        if candidates := [c.item_id for c in link_title(english, catalog).candidates[:ROUND_TRIP_CANDIDATES]]:
            found[span] = candidates
    return found


def round_trip(llm: LLM, span: str, item_id: str, catalog: Catalog) -> bool:
    """Does the model, asked for the Chinese title of the item, give back the user's span? (An answer that is not
    the JSON asked for is a no; a model that is down stops the reading, LLMUnavailable.)"""
    item = catalog.item(item_id)
    asked = f"{spoken_title(item.title)} ({item.year})" if item.year else spoken_title(item.title)
    try:
        answer = llm.structured(back_messages(asked), back_schema(), max_tokens=BACK_MAX_TOKENS)
    except LLMOutputError:
        return False
    return _bare(answer.zh) == _bare(span)


def back_messages(title: str) -> list[Message]:
    return [{"role": "system", "content": render("zh/title_system")},
            {"role": "user", "content": render("zh/title_user", title=title)}]


@lru_cache(maxsize=1)
def back_schema() -> type[BaseModel]:
    return create_model("ChineseTitle", zh=(str, Field(max_length=40)))


def _bare(title: str) -> str:
    """A title without its punctuation and spaces: "蝙蝠侠：黑暗骑士" and "《蝙蝠侠 黑暗骑士》" are the same."""
    return _NOT_A_TITLE_CHAR.sub("", title)


def reading_with_titles(message: str, catalog: Catalog, titles: dict[str, str], query: str = "") -> Reading:
    """The deterministic reading of `message` with `titles` (span → item id) linked; `query` (English) when the
    words themselves leave nothing to search."""
    glossed = gloss(message, catalog, titles)
    reading = glossed.restore(read_message(glossed.english, catalog))
    english = " ".join(re.findall(r"[A-Za-z][A-Za-z'-]*", query))
    if reading.query is None and len(english.split()) >= 2:
        reading.query = english
    return reading


# -- checking a Chinese sentence ------------------------------------------------------------------------------------
def faithful_chinese(sentence: str, card: Recommendation, catalog: Catalog) -> bool:
    """True if the Chinese sentence may be shown in place of the card's template reason."""
    text = sentence.strip()
    if not text or len(text) > MAX_SENTENCE_CHARS or "\n" in text or not has_chinese(text):
        return False
    own = _title_forms(card, catalog)
    if not any(form in fold(text) for form in own):
        return False
    allowed = {card.item_id} | cited_items(card)
    if any(catalog.aliases[match.group(0)] not in allowed for match in title_matches(text, catalog.aliases)):
        return False
    latin = _HAN_RUN.sub(" , ", text)
    for mention in find_titles(latin, catalog):
        if mention.result.decision == "linked" and not {c.item_id for c in mention.result.candidates} & allowed:
            return False
    numbers = {n.rstrip("0").rstrip(".") if "." in n else n for n in re.findall(r"\d+(?:\.\d+)?", text)}
    if not numbers <= allowed_numbers(card) or unsupported_words(latin, card):
        return False
    return not unsupported_chinese_words(text, card, catalog)


def unsupported_chinese_words(sentence: str, card: Recommendation, catalog: Catalog) -> set[str]:
    evidence = _evidence_text(card, catalog)
    for form in sorted(_title_forms(card, catalog), key=len, reverse=True):
        sentence = sentence.replace(form, " ")
    words = [word for word in segment(sentence) if has_chinese(word) and not _NUMBER_OR_MARK.fullmatch(word)]
    return {word for word in words if word not in PRAISE_WORDS_ZH and word not in evidence
            and not all(char in PRAISE_WORDS_ZH or char in evidence for char in word)}


def _title_forms(card: Recommendation, catalog: Catalog) -> set[str]:
    forms = {fold(spoken_title(card.title)), fold(card.title)}
    forms |= {alias for alias, item_id in catalog.aliases.items() if item_id == card.item_id}
    return {form for form in forms if form}


def _evidence_text(card: Recommendation, catalog: Catalog) -> str:
    cited = [local_title(catalog, item_id, "zh") for item_id in cited_items(card)]
    genres = [genre_name(genre, "zh") for genre in card.genres]
    return " ".join([*(reason.text for reason in card.reasons), *cited, *genres])
