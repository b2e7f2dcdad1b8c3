"""Reading Chinese: a message is glossed into the English the deterministic reader already understands.

"我喜欢黑客帝国，不要恐怖片" → `i like "The Matrix (1999)" , no horror`. The English reader then does everything it
does for English (cue polarity per clause, hard exclusions, year limits), so a constraint works exactly as in
English. The gloss is built in three steps:
1. titles: the catalog's aliases (`Catalog.aliases`, e.g. the demo's Chinese release titles) and any titles the LLM
   proposed and the catalog confirmed, longest first, become the catalog's own title in quotes;
2. years: "90年代" → "the 90s", "2010年以后" → "since 2010", "2000年之前" → "before 2000", "八十年代" → "the eighties";
3. words: jieba segments the rest; each word is looked up in `GLOSSARY` (taste, opinion, negation, era words);
   Latin text passes through unchanged (mixed messages), other Chinese words are left out.
`Gloss.restore` puts the user's own words back into the reading's title spans.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from convrec.catalog.models import Catalog
from convrec.tools.knowledge import nth_film
from convrec.tools.linking import link_title
from convrec.tools.textnorm import fold, longest_matches, spoken_title

if TYPE_CHECKING:
    import jieba

    from convrec.tools.reader import Reading

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]+")


def _gloss(phrases: str, english: str) -> dict[str, str]:
    return {phrase: english for phrase in phrases.split()}


# Chinese word → the English words the reader knows. An empty gloss drops the word (particles, measure words).
GLOSSARY: dict[str, str] = {
    # opinions
    **_gloss("喜欢 喜爱 爱看 想要 偏爱", "like"),
    **_gloss("很喜欢 超喜欢 特别喜欢 非常喜欢 真喜欢 好喜欢 超爱 热爱 爱 最爱 酷爱 钟爱", "love"),
    **_gloss("最喜欢", "favorite"),
    **_gloss("想看 想找 想要看 求 求推荐 推荐 给我推荐 来点 来些 来几部 来一部 找 找找", "want to see"),
    **_gloss("类似 像 类似于 相似 差不多 那样 一样", "like"),
    **_gloss("看过 看了 刚看了 看完 最近看了 最近看过 以前看过", "watched"),
    **_gloss("没看过 没看 还没看 还没看过 没有看过", "havent seen"),
    **_gloss("好看 很好看 真好看 不错 很棒 超棒 棒 精彩 很精彩 好 很好 神作 经典之作 值得一看", "great"),
    **_gloss("最好 最好的 最棒", "best"),
    **_gloss("无聊 很无聊 太无聊 难看 很难看 烂 太烂 很烂 没意思 一般 失望", "boring"),
    # negations and dislikes
    **_gloss("不要 别 别再 不需要 排除 不想要 千万别 不要再 算了 就算了 免了", "no"),
    **_gloss("不想看 不要看 别推荐 不要推荐 别给我推荐 不要给我推荐 不看 不爱看 不想", "dont want"),
    **_gloss("不喜欢 不爱 不太喜欢 不怎么喜欢 不感兴趣 没兴趣 没有兴趣 不感冒", "dont like"),
    **_gloss("讨厌 厌恶 受不了 反感 恨 最讨厌 很讨厌", "hate"),
    **_gloss("除了", "anything but"),
    **_gloss("太", "too"),
    **_gloss("吓人 可怕 恐怖的 太吓人", "scary"),
    # genres and taste words
    **_gloss("恐怖 恐怖片 恐怖电影 恐怖类", "horror"),
    **_gloss("鬼片 鬼", "ghosts"),
    **_gloss("惊悚 惊悚片 惊悚电影", "thriller"),
    **_gloss("悬疑 悬疑片 悬疑电影 推理 推理片", "mystery"),
    **_gloss("喜剧 喜剧片 喜剧电影 搞笑 搞笑片 搞笑的 幽默 轻松 轻松的", "comedy"),
    **_gloss("爱情喜剧 浪漫喜剧", "romantic comedy"),
    **_gloss("爱情 爱情片 爱情电影 浪漫 言情", "romance"),
    **_gloss("动画 动画片 动画电影 卡通", "animation"),
    **_gloss("动漫 日漫", "anime"),
    **_gloss("科幻 科幻片 科幻电影", "sci fi"),
    **_gloss("动作 动作片 动作电影 打斗", "action"),
    **_gloss("冒险 冒险片 冒险电影", "adventure"),
    **_gloss("奇幻 奇幻片 魔幻 魔幻片 童话", "fantasy"),
    **_gloss("魔法", "magic"),
    **_gloss("犯罪 犯罪片 犯罪电影 警匪 警匪片", "crime"),
    **_gloss("黑帮 黑帮片 黑社会", "gangster"),
    **_gloss("侦探 侦探片", "detective"),
    **_gloss("纪录片 纪录 记录片", "documentary"),
    **_gloss("剧情 剧情片", "drama"),
    **_gloss("传记 传记片", "biopic"),
    **_gloss("战争 战争片 战争电影 二战", "war"),
    **_gloss("西部 西部片", "western"),
    **_gloss("歌舞 歌舞片 音乐剧", "musical"),
    **_gloss("家庭 家庭片 合家欢 全家", "family"),
    **_gloss("孩子 小孩 儿童 儿童片 小朋友", "kids"),
    **_gloss("黑色电影", "film noir"),
    **_gloss("超级英雄 超英", "superhero"),
    **_gloss("漫威", "marvel"),
    **_gloss("僵尸 丧尸", "zombies"),
    **_gloss("吸血鬼", "vampires"),
    **_gloss("太空 外太空 宇宙", "space"),
    **_gloss("外星人", "aliens"),
    **_gloss("机器人", "robots"),
    **_gloss("时间旅行 穿越", "time travel"),
    **_gloss("武侠 武侠片 功夫片 武打", "martial arts"),
    # eras
    **_gloss("最近的 最新 最新的 新片 新电影 新一点 新一点的 新的 近几年 近几年的 近年 近年的", "recent"),
    **_gloss("老电影 老片 老片子 经典老片 老一点 老一点的 老的", "old movies"),
    **_gloss("不要太老 别太老 不要太老的 别太老的 不太老的", "nothing too old"),
    **_gloss("不要太新 别太新", "nothing too new"),
    **_gloss("清新 清新的", ""),  # fresh in style, not new in time
    # the sentence's joints
    **_gloss("但是 但 不过 可是 然而", "but"),
    **_gloss("和 跟 与 还有 以及 或者 或 及", "and"),
    **_gloss("我 我们", "i"),
    **_gloss("电影 片子 影片 片", "movies"),
    **_gloss("有没有 有什么 什么 任何", "any"),
    **_gloss("什么都行 都可以 随便 都行", "anything"),
    **_gloss("请", "please"),
}
_PUNCTUATION = str.maketrans({"，": ",", "、": ",", "。": ".", "！": "!", "？": "?", "；": ";", "：": ":", "（": "(",
                              "）": ")", "《": '"', "》": '"', "“": '"', "”": '"', "「": '"', "」": '"'})
# After "no"/"don't want": the verbs of the request itself ("别给我推荐恐怖片" → "no horror", not "no … recommend").
_REQUEST_AFTER_NEGATION = frozenset("给 我 推荐 看 来 来点 要 再 点 这种 那种 任何 什么".split())
_NEGATIONS = frozenset({"no", "dont want", "dont like", "hate", "anything but"})

_CHINESE_DECADES = {"二十": "twenties", "三十": "thirties", "四十": "forties", "五十": "fifties", "六十": "sixties",
                    "七十": "seventies", "八十": "eighties", "九十": "nineties"}
_DECADE_PART = {"初": "early", "初期": "early", "早期": "early", "中期": "mid", "末": "late", "末期": "late",
                "后期": "late"}
_Y = r"((?:19|20)\d\d)\s*年?"
_YEARS: list[tuple[re.Pattern, str]] = [
    (re.compile(_Y + r"\s*(?:到|至|-|~|—|–)\s*" + _Y), r" \1 to \2 "),
    (re.compile(_Y + r"\s*(?:以后|之后|后|以来|起|往后)"), r" since \1 "),
    (re.compile(_Y + r"\s*(?:以前|之前|前)"), r" before \1 "),
]
_DECADE = re.compile(r"(?:上世纪|上个世纪)?(?:((?:19|20)?\d0)|(" + "|".join(_CHINESE_DECADES) + r"))\s*年代"
                     r"(初期|初|早期|中期|末期|末|后期)?")
_EXACT_YEAR = re.compile(r"((?:19|20)\d\d)\s*年")
_TWO_DECADES = re.compile(r"(?:上世纪|上个世纪)?([二三四五六七八])([三四五六七八九])十年代")  # 八九十年代: the 80s and 90s
_DIGITS = "〇一二三四五六七八九"


def has_chinese(text: str) -> bool:
    return _HAN.search(text) is not None


def is_chinese(text: str) -> bool:
    """Mostly Chinese: more Han characters than Latin words (one character weighs about a word)."""
    return len(_HAN.findall(text)) > len(_LATIN_WORD.findall(text))


@dataclass(frozen=True)
class Gloss:
    english: str  # what the English reader reads
    spans: dict[str, str]  # item_id → the user's own words for the title
    inserted: dict[str, str]  # item_id → the catalog title put in its place

    def restore(self, reading: Reading) -> Reading:
        """The reading of the English gloss, with the user's words as title spans, and without titles read inside
        an inserted title ("2001" in "Spirited Away (2001)")."""
        stray = {title.item_id for title in reading.titles if title.item_id not in self.inserted
                 and any(title.span in inserted for inserted in self.inserted.values())}
        titles = [title.model_copy(update={"span": self.spans.get(title.item_id, title.span)})
                  for title in reading.titles if title.item_id not in stray]
        return reading.model_copy(update={
            "titles": titles, "liked": {i: s for i, s in reading.liked.items() if i not in stray},
            "disliked": {i: s for i, s in reading.disliked.items() if i not in stray}})


def gloss(text: str, catalog: Catalog, titles: dict[str, str] | None = None) -> Gloss:
    """The English gloss of a message with Chinese in it. `titles`: more Chinese title → item_id (e.g. the LLM's,
    confirmed against the catalog) on top of the catalog's aliases and the titles found by pinyin."""
    written = text
    text = fold_script(text, catalog.aliases)  # same length: a position in one is the same place in the other
    spans: dict[str, str] = {}
    inserted: dict[str, str] = {}
    pieces: list[str] = []
    position = 0
    for found in title_spans(text, catalog, titles):
        pieces.append(_gloss_words(text[position:found.start]))
        inserted[found.item_id] = _catalog_title(catalog, found.item_id)
        pieces.append(f' "{inserted[found.item_id]}" ')
        spans.setdefault(found.item_id, written[found.start:found.end])
        position = found.end
    pieces.append(_gloss_words(text[position:]))
    english = re.sub(r"\s+", " ", " ".join(pieces)).strip()
    return Gloss(english=topic_first(english), spans=spans, inserted=inserted)


@dataclass(frozen=True, order=True)
class TitleSpan:
    start: int
    end: int
    item_id: str


def title_spans(text: str, catalog: Catalog, titles: dict[str, str] | None = None) -> list[TitleSpan]:
    """Where `text` names catalog titles, in order: aliases (and `titles`, span → item_id) as written; titles found
    by their pinyin; an alias with a sequel number ("疯狂的麦克斯4", `sequel_spans`); and titles that are everyday
    words, without title marks where the sentence shows they are titles (`cued_spans`)."""
    known = {**pinyin_titles(text, catalog), **catalog.aliases,
             **{fold_script(span, catalog.aliases): item_id for span, item_id in (titles or {}).items()}}
    found = [TitleSpan(match.start(), match.end(), known[_title_key(match.group(0), known)])
             for match in title_matches(text, known)]
    found += sequel_spans(text, known, catalog, found)
    found += cued_spans(text, catalog.aliases, found)
    return sorted(found)


def _catalog_title(catalog: Catalog, item_id: str) -> str:
    """The title as the English reader links it to this item: with the year only when the name alone is not enough
    ("Titanic (1997)"; a bare year could be read as a title of its own, "2001")."""
    item = catalog.item(item_id)
    name = spoken_title(item.title)
    if item.year is None or link_title(name, catalog).item_id == item_id:
        return name
    return f"{name} ({item.year})"


# -- titles by sound: a Chinese film's catalog title often carries its pinyin, "Hero (Ying xiong)" --------------------
PINYIN_MIN_CHARS = 3  # two-character spans are everyday words too often (英雄 "hero", 功夫 "kung fu", 活着 "alive")
PINYIN_MAX_CHARS = 12
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_PARENTHESIZED = re.compile(r"\(([^()]*)\)")


@dataclass(frozen=True)
class _Sounded:
    span: str
    item_id: str
    end: int


def pinyin_titles(text: str, catalog: Catalog) -> dict[str, str]:
    """Chinese spans of `text` whose toneless pinyin is a catalog title or alternate title, letters only:
    "卧虎藏龙" = "Wo hu cang long", "霸王别姬" = "Ba wang bie ji". Only spans of 3+ characters; a sound shared by two
    catalog titles links neither. Cantonese romanizations ("Mou gaan dou") and Japanese ones do not match: those
    films need aliases or the LLM."""
    index = _pinyin_index(catalog)
    found: dict[str, str] = {}
    for run in _HAN_RUN.finditer(text):
        chars = run.group(0)
        sounds = [_letters(sound) for sound in _pinyin(chars)]

        def sounded_at(start: int) -> _Sounded | None:
            for end in range(min(len(chars), start + PINYIN_MAX_CHARS), start + PINYIN_MIN_CHARS - 1, -1):
                if (item_id := index.get("".join(sounds[start:end]))) is not None:
                    return _Sounded(chars[start:end], item_id, end)
            return None

        found.update({match.span: match.item_id for match in longest_matches(len(chars), sounded_at)})
    return found


def _pinyin_index(catalog: Catalog) -> dict[str, str]:
    """Letters-only title → item_id, for every title and parenthesized alternate (unique sounds only)."""
    if "pinyin_index" not in catalog._cache:
        owners: dict[str, set[str]] = {}
        for item_id, title in catalog.items["title"].items():
            for name in [title, *_PARENTHESIZED.findall(title)]:
                if len(key := _letters(name.removeprefix("a.k.a. "))) >= 2 * PINYIN_MIN_CHARS:
                    owners.setdefault(key, set()).add(str(item_id))
        catalog._cache["pinyin_index"] = {key: ids.pop() for key, ids in owners.items() if len(ids) == 1}
    return catalog._cache["pinyin_index"]


def _letters(text: str) -> str:
    return re.sub(r"[^a-z]", "", fold(text).replace("ü", "u"))


def _pinyin(chars: str) -> list[str]:
    from pypinyin import lazy_pinyin  # its dictionaries load (~0.3 s) only when Chinese is first read

    return lazy_pinyin(chars, v_to_u=True)


# -- traditional characters: "鐵達尼號" is 铁达尼号, "喜歡" is 喜欢 ----------------------------------------------------
RARE_CHAR_COUNT = 100  # jieba's count for a character: simplified everyday ones have thousands, traditional ones ~0


def fold_script(text: str, aliases: dict[str, str]) -> str:
    """`text` with every span that spells a word convrec knows (a glossary word or an alias, 2+ characters) in other
    characters of the same sound written as that word. Only characters that are rare in jieba's (simplified)
    dictionary may differ, and each must share a reading with the word's character there (pypinyin): so traditional
    characters fold into simplified ones, while everyday simplified text stays as it is. Same length as `text`."""
    rare = [_HAN.match(char) is not None and _char_count(char) < RARE_CHAR_COUNT for char in text]
    if not any(rare):
        return text
    words = _words_by_sound(tuple(word for word in aliases if len(word) >= 2))
    folded = list(text)
    start = 0
    while start < len(text):
        candidates = sorted({word for sound in _readings(text[start]) for word in words.get(sound, ())},
                            key=lambda word: (-len(word), word))
        found = next((word for word in candidates if _spells(text, start, word, rare)), None)
        if found:
            folded[start:start + len(found)] = found
            start += len(found)
        else:
            start += 1
    return "".join(folded)


def _spells(text: str, start: int, word: str, rare: list[bool]) -> bool:
    span = text[start:start + len(word)]
    return len(span) == len(word) and any(rare[start:start + len(word)]) and all(
        written == known or (rare[start + offset] and _readings(written) & _readings(known))
        for offset, (written, known) in enumerate(zip(span, word)))


@lru_cache(maxsize=4)
def _words_by_sound(aliases: tuple[str, ...]) -> dict[str, list[str]]:
    """The glossary's and the aliases' words of 2+ characters by each sound of their first character."""
    words: dict[str, list[str]] = {}
    for word in {*aliases, *(word for word in GLOSSARY if len(word) >= 2)}:
        for sound in _readings(word[0]):
            words.setdefault(sound, []).append(word)
    return words


@lru_cache(maxsize=8192)
def _readings(char: str) -> frozenset[str]:
    """The toneless readings of one character ("乐" → le, yue); the character itself if it has none."""
    from pypinyin import Style, pinyin

    return frozenset(pinyin(char, style=Style.NORMAL, heteronym=True, errors=lambda c: [c])[0])


def _char_count(char: str) -> int:
    tokenizer = _segmenter()
    tokenizer.check_initialized()
    return tokenizer.FREQ.get(char) or 0


def title_matches(text: str, titles: dict[str, str]) -> list[re.Match]:
    """Where `titles` (name → item_id) occur in `text`, the longest name at each place ("终结者2", not "终结者").
    A name that goes on as a longer title ("终结者4", "星球大战：最后的绝地武士", "指环王之王者归来") is another film, one the
    table lacks: no match there, rather than the wrong film."""
    return list(_title_pattern(tuple(sorted(titles, key=len, reverse=True))).finditer(text)) if titles else []


# What continues a title into a sequel's or an episode's: a number, a colon, "之" (but not 之后, 之前, 之类, 之一…),
# 第N部; and a number that counts films ("黑客帝国3部都好看": three films, not the third).
_TITLE_GOES_ON = r"(?![\d０-９:：·]|之(?![后前类一外间中])|第[\d一二三四五六七八九十]|(?<=\d)[部集])"
# Inside a title, people write the break between its parts in several ways or not at all: "蝙蝠侠：黑暗骑士",
# "蝙蝠侠:黑暗骑士", "蝙蝠侠 黑暗骑士", "蝙蝠侠之黑暗骑士", "蝙蝠侠黑暗骑士"; "哈利·波特", "哈利波特".
_TITLE_BREAKS = "：:·・•"
_BREAK_CHARS = rf"[{_TITLE_BREAKS}\s]"
_ANY_BREAK = rf"(?:{_BREAK_CHARS}|之)?"


def _title_key(written: str, titles: dict[str, str]) -> str:
    """The name in `titles` that a matched span stands for (the span may write its breaks differently)."""
    if written in titles:
        return written
    bare = _without_breaks(written)
    return next(name for name in sorted(titles, key=len, reverse=True) if _without_breaks(name) == bare)


def _without_breaks(name: str) -> str:
    return re.sub(rf"{_BREAK_CHARS}|(?<=.)之(?=.)", "", name)


@lru_cache(maxsize=8)
def _title_pattern(titles: tuple[str, ...]) -> re.Pattern:
    return re.compile(_any_title(titles) + _TITLE_GOES_ON)


def _any_title(titles: tuple[str, ...]) -> str:
    """A pattern for any of `titles` (longest first), its breaks written any way."""
    alternatives = ("".join(_ANY_BREAK if char in _TITLE_BREAKS else re.escape(char) for char in title)
                    for title in titles)
    return "(?:" + "|".join(alternatives) + ")"


# -- sequels: "疯狂的麦克斯4", "玩具总动员第三部" are the Nth film of the series the alias names -------------------------------
_HAN_NUMBERS = "一二三四五六七八九十"
_COUNTED = "部集个遍次曲年季星分岁号"  # "黑客帝国3部都好看", "教父三部曲": a count, not a sequel number
_SEQUEL_NUMBER = (rf"\s*(?:(?P<digits>\d{{1,2}})(?![\d０-９{_COUNTED}])"
                  rf"|第(?P<nth>\d{{1,2}}|[{_HAN_NUMBERS}]{{1,2}})[部集]"
                  rf"|(?P<han>[二三四五六七八九])(?![{_HAN_NUMBERS}{_COUNTED}]))")


def sequel_spans(text: str, titles: dict[str, str], catalog: Catalog, taken: list[TitleSpan]) -> list[TitleSpan]:
    """Titles followed by a sequel number that no alias spells: "疯狂的麦克斯4" is the 4th film of the series that
    疯狂的麦克斯 starts (`knowledge.nth_film`: Mad Max: Fury Road), "玩具总动员第三部" Toy Story 3. Nothing when the
    catalog cannot tell which film that is (not the first film instead)."""
    # "哈利波特1" names the series' first film, so 哈利波特 + a number names the series (哈利波特 alone does not)
    titles = {**{name[:-1]: item_id for name, item_id in titles.items() if name.endswith("1") and len(name) > 2},
              **titles}
    plain = tuple(sorted((name for name in titles if not name.startswith("《")), key=len, reverse=True))
    found = []
    for match in _sequel_pattern(plain).finditer(text) if plain else ():
        if any(span.start < match.end() and match.start() < span.end for span in taken):
            continue
        number = match["digits"] or match["nth"] or match["han"]
        number = int(number) if number.isdigit() else _han_number(number)
        name = _title_key(match["title"], titles)
        if (item_id := nth_film(catalog, titles[name], number)) is not None and _agrees(name, titles, catalog):
            found.append(TitleSpan(match.start(), match.end(), item_id))
    return found


def _agrees(name: str, titles: dict[str, str], catalog: Catalog) -> bool:
    """The series' order agrees with the numbered names the table has ("X战警2" is X2, which "X-Men …" titles do
    not name: so the catalog's order of X-Men films is not the table's, and X战警4 links nothing)."""
    numbered = {int(other[len(name):]): item_id for other, item_id in titles.items()
                if other.startswith(name) and other[len(name):].isdigit()}
    return all(nth_film(catalog, titles[name], number) == item_id for number, item_id in numbered.items())


@lru_cache(maxsize=8)
def _sequel_pattern(titles: tuple[str, ...]) -> re.Pattern:
    return re.compile(f"(?P<title>{_any_title(titles)}){_SEQUEL_NUMBER}")


def _han_number(written: str) -> int:
    """一 … 九十九: "三" → 3, "十二" → 12, "二十" → 20."""
    if "十" not in written:
        return _DIGITS.index(written)
    tens, _, ones = written.partition("十")
    return (_DIGITS.index(tens) if tens else 1) * 10 + (_DIGITS.index(ones) if ones else 0)


# -- everyday-word titles without title marks ------------------------------------------------------------------------
# A title that is an everyday word ("《英雄》" in the alias table) links without its marks only where the sentence shows
# it is a film; an ordinary use of the word ("他是我的英雄", "我想学功夫", "好好活着") never does. Each pattern is read
# at the word's edge (before: the text up to it; after: the text from its end).
_CLAUSE_REST = r"[^，。！？；,.!?;]*"
_FILM_PARTS = "画面|剧情|结局|配乐|台词|演技|镜头|特效|原声|主题曲|插曲|续集|票房|海报|预告片?|片尾|片头|导演|主演|男主|女主"
_TITLE_CUES_BEFORE = re.compile(
    r"(?:(?:看|重温|刷|二刷|三刷|再刷)(?:过|了|完了?)(?:[\d一二两三四五六七八九十几好多无数很]+遍)?|重温|二刷|三刷|电影)\s*$")
_TITLE_CUES_AFTER = re.compile(
    r"^\s*(?:这部|那部|这个电影|那个电影|这片|这一部"  # "英雄这部电影"
    rf"|(?:这种|那种|这类|那类|之类){_CLAUSE_REST}(?:片|电影|作品|动画|剧)"  # "怦然心动那种清新的爱情片"
    rf"|(?:的|里的|中的)?(?:{_FILM_PARTS})"  # "英雄画面很美", "你的名字的配乐"
    rf"|是{_CLAUSE_REST}(?:电影|作品|影片|片子|动画|神作)"  # "一一是杨德昌最好的作品"
    r"|(?:真|很|太|超)?(?:好看|难看|百看不厌|烧脑)"
    r"|(?:让我|把我|看得我)?(?:看哭|哭|泪目|笑死))")  # "活着让我哭了好久", "你的名字哭死我了"
# Liked or disliked, and judged as a film in its clause or the next: "我不喜欢英雄，太假了" (not "我喜欢功夫，很酷").
_OPINION_BEFORE = re.compile(r"(?:喜欢|喜爱|爱看|最爱|超爱|讨厌|受不了)\s*$")
_JUDGED_AS_FILM = re.compile(rf"^[^。！？；.!?;]*?(?:好看|难看|无聊|精彩|感人|拖沓|烂片|太长|冗长|经典|神作|烧脑|催泪|太假"
                             rf"|{_FILM_PARTS})")
# Where a name ends: the message's end, a mark, a particle, an adverb, a count of viewings.
_NAME_ENDS = re.compile(r"[，。！？；：,.!?;:、…~]|(?:和|跟|与|还有|以及|了|吧|啊|呢|吗|呀|嘛|很|真|太|挺|超|特别|非常|也|都|"
                        r"还|是|让|把|这|那|我|才|就|又|再|后|时|简直|确实|实在|竟然|居然|不|没|以后|之后|以前|"
                        r"[\d一二两三四五六七八九十几好多]+遍)")
# Joined to a title that is linked: "周星驰的功夫和少林足球".
_LIST_JOINT = re.compile(r"^\s*(?:和|跟|与|、|还有|以及|及|或|或者|,|，)\s*$")
# Someone's X: only a person's ("周星驰的功夫"), not anyone's ("我的英雄"), and not said of their skill ("成龙的功夫很厉害").
_POSSESSIVE = re.compile(r"的\s*$")
_PERSON_TAGS = frozenset({"nr", "nrt", "nrfg"})
_DESCRIBED_AFTER = re.compile(r"^\s*(?:很|真|太|非常|特别|好|挺|超|蛮|十分|相当|厉害|不错|了得|一流)")
_ORDINARY_BEFORE = re.compile(r"(?:(?:我|你|他|她|它|咱|自己|大家|们)的|[个位名些])\s*$")
_ORDINARY_AFTER = re.compile(rf"^(?:们|的(?!\s*(?:{_FILM_PARTS})))")


def cued_spans(text: str, aliases: dict[str, str], taken: list[TitleSpan]) -> list[TitleSpan]:
    """Titles that are everyday words ("《英雄》" in the alias table) written without title marks, where the sentence
    shows they are titles: after a watch verb (看过英雄, 重温了活着, 电影英雄), before a film word (英雄这部电影,
    怦然心动那种爱情片, 英雄的配乐, 一一是…最好的作品, 你的名字哭死我了), as someone's (张艺谋的英雄), or listed with a
    linked title (功夫和少林足球). The word must be a whole word (jieba) and not an ordinary use (我的英雄, 英雄们)."""
    bare = {alias[1:-1]: item_id for alias, item_id in aliases.items()
            if alias.startswith("《") and alias.endswith("》") and len(alias) > 2 and alias[1:-1] not in aliases}
    if not bare:
        return []
    edges = _word_edges(text)
    candidates = []
    for name in sorted(bare, key=len, reverse=True):
        for match in re.finditer(re.escape(name), text):
            start, end = match.span()
            if start in edges and end in edges and not any(
                    span.start < end and start < span.end for span in [*taken, *candidates]):
                candidates.append(TitleSpan(start, end, bare[name]))
    candidates = [span for span in candidates if not _ORDINARY_BEFORE.search(text[:span.start])
                  and not _ORDINARY_AFTER.match(text[span.end:])]
    found = [span for span in candidates if _TITLE_CUES_AFTER.match(text[span.end:]) or (
        _ends_a_name(text, span) and (_TITLE_CUES_BEFORE.search(text[:span.start]) or _persons_work(text, span)
                                      or _judged(text, span)))]
    while True:  # a list grows from any linked title it holds
        linked = [*taken, *found]
        listed = [span for span in candidates if span not in found and _ends_a_name(text, span) and any(
            _LIST_JOINT.match(text[a.end:b.start]) for a, b in ((span, other) if span < other else (other, span)
                                                                  for other in linked))]
        if not listed:
            return sorted(found)
        found += listed


def _ends_a_name(text: str, span: TitleSpan) -> bool:
    """The word is the whole name, not the start of a longer one the table lacks ("看了唐人街探案", "电影英雄本色"):
    what follows is the message's end, a mark, a particle, an adverb or a word the glossary knows."""
    rest = text[span.end:].lstrip()
    return not rest or _NAME_ENDS.match(rest) is not None or any(
        rest.startswith(word) for word in segment(rest[:6])[:1] if word in GLOSSARY)


def _judged(text: str, span: TitleSpan) -> bool:
    """ "我不喜欢英雄，太假了": an opinion verb before, a film's qualities judged in the clause or the next one."""
    if not _OPINION_BEFORE.search(text[:span.start]):
        return False
    rest = re.split(r"[，,]", text[span.end:], maxsplit=2)
    return _JUDGED_AS_FILM.match("，".join(rest[:2])) is not None


def _persons_work(text: str, span: TitleSpan) -> bool:
    """ "张艺谋的英雄": the word before 的 is a person's name (jieba's part of speech), and what follows is not a
    description of the word itself ("小明的功夫很好")."""
    before = text[:span.start]
    if not _POSSESSIVE.search(before) or _DESCRIBED_AFTER.match(text[span.end:]):
        return False
    words = list(_tagger().cut(before.rstrip().removesuffix("的")))
    return bool(words) and words[-1].flag in _PERSON_TAGS and has_chinese(words[-1].word)


def _word_edges(text: str) -> set[int]:
    """Where jieba's words of `text` start and end."""
    return {edge for _, start, end in _segmenter().tokenize(text) for edge in (start, end)}


@lru_cache(maxsize=1)
def _tagger():
    import jieba.posseg

    return jieba.posseg.POSTokenizer(_segmenter())


# Chinese often names the thing first and gives the opinion last ("恐怖片我不看", "这部我不喜欢", "科幻片就算了"); the
# English reader takes a cue before what it is about, so such a clause is turned round: "horror i dont want" →
# "i dont want horror".
_CLAUSE = re.compile(r'(?:"[^"]*"|[^",.!?;])+')
_OPINION_LAST = re.compile(r"^(?P<thing>.*?\S)\s+(?P<cue>(?:i\s+)?(?:dont like|dont want|hate|no|like|love))$")
_NEGATION_ENDS = ("no", "dont want", "dont like", "hate", "anything but", "too")
# An opinion in a clause of its own is about the clause before it ("拯救大兵瑞恩太血腥了，我不喜欢").
_OPINION_ALONE = re.compile(r'(?P<thing>(?:"[^"]*"|[^",.!?;])+?)\s*(?P<mark>[,.!?;])\s*'
                            r"(?P<cue>(?:i\s+)?(?:dont like|hate|love|like))\s*(?=[.!?;]|$)")
_OPINION_WORDS = re.compile(r"\b(?:like|love|hate|favorite|great|boring|best|no|dont want)\b")


def topic_first(english: str) -> str:
    """Each clause of a gloss that ends on its opinion, with the opinion put first."""
    def turned(clause: re.Match) -> str:
        text = clause.group(0).strip()
        last = _OPINION_LAST.match(text)
        if last is None or last.group("thing") in ("i", "") or last.group("thing").endswith(_NEGATION_ENDS) or \
                (last.group("cue") == "like" and "like" in last.group("thing").split()):  # "像…一样": a frame
            return clause.group(0)
        thing, cue = last.group("thing"), last.group("cue")
        if thing.startswith("i ") and not cue.startswith("i "):  # "我对战争片不感兴趣": i war dont like
            thing, cue = thing.removeprefix("i "), f"i {cue}"
        return f" {cue} {thing} "
    def joined(alone: re.Match) -> str:
        if _OPINION_WORDS.search(re.sub(r'"[^"]*"', "", alone.group("thing"))):  # it had an opinion of its own
            return alone.group(0)
        return f" {alone.group('cue')} {alone.group('thing')}{alone.group('mark')} "
    english = _OPINION_ALONE.sub(joined, english)
    return re.sub(r"\s+", " ", _CLAUSE.sub(turned, english)).strip()



def _gloss_words(text: str) -> str:
    text = _years(text.translate(_PUNCTUATION))
    out: list[str] = []
    negated = False
    for word in segment(text):
        if not word.strip():
            continue
        if not has_chinese(word):
            out.append(word)
            negated = False
            continue
        if negated and (word in _REQUEST_AFTER_NEGATION or GLOSSARY.get(word) == "want to see"):
            continue
        english = GLOSSARY.get(word, "")
        negated = english in _NEGATIONS
        if english:
            out.append(english)
    return " ".join(out)


def _years(text: str) -> str:
    for pattern, english in _YEARS:
        text = pattern.sub(english, text)
    text = _TWO_DECADES.sub(_two_decades, text)
    text = _DECADE.sub(_decade, text)
    return _EXACT_YEAR.sub(r" from \1 ", text)


def _two_decades(match: re.Match) -> str:
    first, second = (_DIGITS.index(digit) for digit in match.groups())
    return f" 19{first}0 to 19{second}9 " if second == first + 1 else match.group(0)


def _decade(match: re.Match) -> str:
    decade = match.group(1) + "s" if match.group(1) else _CHINESE_DECADES[match.group(2)]
    part = _DECADE_PART.get(match.group(3) or "", "")
    return f" {part} the {decade} " if part else f" the {decade} "


def only_glossary(text: str) -> bool:
    """Made of glossary words only ("冒险片", "喜剧电影"): taste words, never a title."""
    words = [word for word in segment(text) if word.strip()]
    return bool(words) and all(word in GLOSSARY for word in words)


def segment(text: str) -> list[str]:
    """Words, by jieba with the glossary's phrases in its dictionary (so "恐怖片" stays one word)."""
    return list(_segmenter().cut(text))


@lru_cache(maxsize=1)
def _segmenter() -> jieba.Tokenizer:
    import jieba  # loads its dictionary (~1 s) only when Chinese is first read

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    for word in GLOSSARY:
        if len(word) > 1:
            tokenizer.add_word(word, freq=1_000_000)
    return tokenizer
