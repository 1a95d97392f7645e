"""Deterministic corpus of 200 news-site comments for the thread-read benchmark.

Both servers must store exactly the same thread, so the corpus is generated
from a fixed seed instead of being random per run: same bodies, same authors,
same tree every time. The text is made to look like real comments under a
local-news article (plain sentences, some Markdown emphasis, some links), so
that Markdown rendering and HTML sanitising do realistic work.

Shape: 50 root comments and 150 replies nested up to depth 4 (a root is
depth 0). Comments are listed in creation order and every parent comes before
its children, so they can be posted in list order.

Run `python bench/corpus.py` to print a summary.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import TypedDict

SEED = 20240917
TOTAL = 200
ROOTS = 50
MAX_DEPTH = 4
EMAIL_SHARE = 0.6  # share of commenters who leave an e-mail address


class Comment(TypedDict):
    """One corpus comment; `parent_key` names an earlier comment, or is None for a root."""

    key: str
    parent_key: str | None
    author: str
    email: str | None
    body: str


# fmt: off
FIRST_NAMES = [
    "Anna", "Ben", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas",
    "Kemal", "Lena", "Marco", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sami", "Tara",
    "Ulrich", "Vera", "Wen", "Yusuf", "Zoe",
]
LAST_NAMES = [
    "Adler", "Brennan", "Costa", "Duarte", "Engel", "Fischer", "Garcia", "Hansen", "Ito",
    "Jansen", "Kowalski", "Lindqvist", "Moreau", "Novak", "Okafor", "Petrov", "Rossi", "Schmidt",
    "Tanaka", "Varga",
]
# fmt: on
HANDLES = ["longtime_reader", "riverside_mum", "cyclist42", "old_town_resident", "retired_teacher"]

TOPICS = [
    "the new bus lanes",
    "the council budget",
    "the library closure",
    "the housing plan",
    "the school merger",
    "the bridge repairs",
    "the parking fees",
    "the harbour project",
    "the night-time noise rules",
    "the tram extension",
]
OPENERS = [
    "I have lived here for twenty years and {topic} is the first change I actually like.",
    "Honestly, {topic} was decided far too quickly.",
    "Thanks for covering {topic}; the national papers ignored it completely.",
    "Does anyone know when {topic} will be voted on?",
    "The article leaves out how much {topic} will cost each household.",
    "My neighbours are split down the middle on {topic}.",
    "We discussed {topic} at the residents' meeting last week.",
    "I'm not convinced {topic} solves anything.",
]
MIDDLES = [
    "The consultation was held on a weekday afternoon, when most of us were at work.",
    "Traffic on the high street has been worse every month since spring.",
    "The figures in the second paragraph don't match the ones from last year.",
    "Small shops are the ones who will feel it first.",
    "My kids walk that route every morning, so safety matters more than speed.",
    "Other towns tried the same thing and quietly reversed it.",
    "It would help to see the full report rather than a summary.",
    "The mayor promised a second round of public hearings.",
    "Nobody asked the people who actually use the service every day.",
    "Prices have gone up twice this year already.",
]
CLOSERS = [
    "Let's see what happens at the next council meeting.",
    "I hope the paper follows up on this.",
    "Either way, good reporting.",
    "We deserve a straight answer.",
    "Curious what others think.",
    "Not holding my breath.",
]
REPLY_OPENERS = [
    "Fair point, but {topic} was in the manifesto.",
    "I disagree; {topic} has been debated for years.",
    "Exactly this.",
    "Source?",
    "You're right about the timing, wrong about the cost.",
    "That's not what the minutes say.",
    "Same experience here.",
    "Good question, I'd like to know too.",
]
# fmt: off
EMPHASIS_WORDS = [
    "actually", "completely", "every", "far", "first", "much", "not", "quietly", "twice", "worse",
]
# fmt: on
LINKS = [
    ("council minutes", "https://council.example.org/minutes/2024-09"),
    ("the full report", "https://townhall-bench.example.net/reports/budget.pdf"),
    ("last year's article", "https://news.example.com/local/2023/08/plan"),
    ("the petition", "https://petitions.example.org/p/12345"),
    ("this map", "https://maps.example.org/?q=high+street"),
]


def _author(rng: random.Random) -> tuple[str, str | None]:
    """Pick a display name and, for most commenters, an e-mail address."""
    if rng.random() < 0.15:
        name = rng.choice(HANDLES)
    else:
        name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    email = None
    if rng.random() < EMAIL_SHARE:
        local = name.lower().replace(" ", ".").replace("_", ".")
        email = f"{local}@mail.example.com"
    return name, email


def _emphasise(sentence: str, rng: random.Random) -> str:
    """Wrap one word of the sentence in *emphasis* if a suitable word exists."""
    words = sentence.split(" ")
    candidates = [i for i, word in enumerate(words) if word.strip(".,;?").lower() in EMPHASIS_WORDS]
    if not candidates:
        return sentence
    i = rng.choice(candidates)
    word = words[i]
    core = word.rstrip(".,;?")
    words[i] = f"*{core}*{word[len(core) :]}"
    return " ".join(words)


def _body(rng: random.Random, is_reply: bool) -> str:
    """Compose a 1-4 sentence Markdown body, sometimes with a link or emphasis."""
    topic = rng.choice(TOPICS)
    opener = rng.choice(REPLY_OPENERS if is_reply else OPENERS).format(topic=topic)
    count = rng.randint(1, 4)
    extra = rng.sample(MIDDLES, k=min(count - 1, 2))
    if count == 4:
        extra.append(rng.choice(CLOSERS))
    sentences = [opener, *extra]
    if rng.random() < 0.3:
        i = rng.randrange(len(sentences))
        sentences[i] = _emphasise(sentences[i], rng)
    if rng.random() < 0.2:
        label, url = rng.choice(LINKS)
        sentences[-1] += f" See [{label}]({url})."
    elif rng.random() < 0.05:
        sentences[-1] += f" {rng.choice(LINKS)[1]}"
    return " ".join(sentences)


def _kinds(rng: random.Random) -> list[str]:
    """Creation order of roots and replies: the first comment is a root."""
    rest = ["root"] * (ROOTS - 1) + ["reply"] * (TOTAL - ROOTS)
    rng.shuffle(rest)
    return ["root", *rest]


def _pick_parent(rng: random.Random, made: list[Comment], depth: dict[str, int]) -> str:
    """Pick a parent for a reply, favouring recent comments like a live discussion.

    Only comments shallower than MAX_DEPTH qualify, so no reply goes deeper.
    """
    open_keys = [c["key"] for c in made if depth[c["key"]] < MAX_DEPTH]
    recent = open_keys[-15:]
    return rng.choice(recent if rng.random() < 0.7 else open_keys)


def comments() -> list[Comment]:
    """Return the 200 comments in creation order (parents before children).

    Each dict has `key`, `parent_key` (None for roots), `author`, `email`
    (or None) and `body` (Markdown).
    """
    rng = random.Random(SEED)
    made: list[Comment] = []
    depth: dict[str, int] = {}
    for n, kind in enumerate(_kinds(rng), start=1):
        key = f"c{n:03d}"
        parent_key = None if kind == "root" else _pick_parent(rng, made, depth)
        depth[key] = 0 if parent_key is None else depth[parent_key] + 1
        author, email = _author(rng)
        made.append(
            {
                "key": key,
                "parent_key": parent_key,
                "author": author,
                "email": email,
                "body": _body(rng, is_reply=parent_key is not None),
            }
        )
    return made


def depths(items: list[Comment]) -> dict[str, int]:
    """Depth of each comment by key (roots are 0), for checks and summaries."""
    result: dict[str, int] = {}
    for item in items:
        parent = item["parent_key"]
        result[item["key"]] = 0 if parent is None else result[parent] + 1
    return result


def main() -> None:
    """Print a short summary and a few sample bodies."""
    items = comments()
    by_depth = Counter(depths(items).values())
    print(f"{len(items)} comments; by depth: {dict(sorted(by_depth.items()))}")
    print(
        f"with email: {sum(1 for c in items if c['email'])}; "
        f"with link: {sum(1 for c in items if 'http' in c['body'])}; "
        f"with emphasis: {sum(1 for c in items if '*' in c['body'])}"
    )
    print(f"body bytes: total {sum(len(c['body'].encode()) for c in items)}")
    for item in items[:5]:
        print(f"- {item['key']} <- {item['parent_key']} {item['author']}: {item['body']}")


if __name__ == "__main__":
    main()
