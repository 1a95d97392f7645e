"""Townhall's side of the moderation benchmark (bench/moderation.py), run in the project's Python.

bench/moderation.py runs this file with the project's virtualenv
(`.venv/bin/python -P bench/moderation_app.py COMMAND`) in the temporary
directory of a fresh SQLite database (TOWNHALL_VAR_DIR, TOWNHALL_DATABASE_URL,
...). Every command pins its process to one core first
(`os.sched_setaffinity`), and prints one JSON object as the last line of its
standard output:

  setup      the site's rules (HISTORY_* below: banned and suspect words,
             max_links, toxicity threshold, no Akismet key), its history
             (threads, commenters, comments from many clients over two days,
             bans), and the plan: COMMENTS comment texts and who sends each,
             generated with SEED, written to plan.json for the other commands
  pipeline   `run_pipeline` on every comment of the plan with the compiled
             toxicity table (compiled first, in a child process, if missing),
             each call timed; then each step of the pipeline alone, the SQL it
             runs, the classifier alone; the scores; this process's memory.
             scikit-learn is never imported here
  library    the same with the classifier replaced by alt-profanity-check's
             own `predict_prob([text])` (imported here only): the classifier
             alone per call and batched, then `run_pipeline`; the compiled
             table is never loaded here
  post       `do_post_comment` (pipeline, Markdown, the write transaction and
             what it queues on commit) on the first POSTS comments of the plan

`-P` keeps bench/ off sys.path, so no harness module shadows anything Django imports.
"""

from __future__ import annotations

import gc
import json
import os
import random
import resource
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

SITE = "bench"  # created by `townhall createsite` (bench/townhall_peer.py prepare)
ORIGIN = "http://127.0.0.1:9999"
PLAN = Path("plan.json")  # in the working directory: the benchmark's temporary directory
SEED = 2024
COMMENTS = 5000  # comments in the plan, each through the pipeline once per measurement
WARMUP = 200  # pipeline calls before the timed ones (the same comments, from the plan's end)
POSTS = 2000  # comments of the plan posted end to end
PROFILED = 2000  # comments of the plan each step, and the SQL, are measured on
POST_WARMUP = 50

# The site's rules: what a newsroom that moderates actively would set.
MAX_LINKS = 3
TOXICITY_THRESHOLD = 0.9
NEW_COMMENTER_BURST = 5  # the default

# The site's history, which the pipeline's queries read.
THREADS = 40
HISTORY_CLIENTS = 2000
HISTORY_COMMENTS = 6000
HISTORY_HOURS = 48
TOKEN_SHARE = 0.6  # history clients that are a commenter with a token
FLOODERS = 10  # guest clients with a burst of comments in the last minutes
FLOOD_COMMENTS = 6
BANS = 150

PACKAGES = ("townhall", "django", "alt-profanity-check", "scikit-learn", "scipy", "numpy")

# ---- texts ------------------------------------------------------------------------------------

WORDS = """
the a an and or but of to in on at for with from by about as into over after before under
city council mayor plan vote budget tax school schools teachers parents students road roads
bridge traffic bus buses train housing rent homes building developer project park parks water
river flood police court judge law state federal government election candidate campaign party
voters poll story article reporter newspaper editor report data numbers year years month week
people residents neighbors community business businesses jobs workers wages price prices cost
costs money million billion health hospital doctors nurses care climate energy power heat
summer winter storm rain snow street neighborhood downtown public meeting hearing decision
question answer problem issue idea point reason fact facts time today yesterday tomorrow
i you we they he she it this that these those my your our their his her its who what why how
is are was were be been being have has had do does did will would could should can may might
not no yes very really just only also even still already never always often again more most
less least much many few some any every all both each other another same different new old
good great better best bad worse worst big small long short high low first last next right
wrong true false clear simple hard easy fair unfair important local national open closed
think know believe say said see read wrote write agree disagree hope want need like love hate
pay paid build built fix fixed cut raise spend spent vote voted win lost lose support oppose
thanks thank interesting reporting piece well written missing context source sources
"""
VOCABULARY = WORDS.split()
PROFANE = "idiot idiots stupid moron damn crap shit bullshit fuck fucking dumb loser"
INSULTS = (
    "you are a {p} {q}",
    "what a {p} {q} this {r} is",
    "{P} {r}, {p} {q}",
    "only an {q} would believe this {p} {r}",
)
SPAM = (
    "viagra cialis levitra kamagra xanax valium tramadol oxycodone percocet vicodin ambien "
    "adderall modafinil phentermine clenbuterol sibutramine cryptoscam forexsignals "
    "replicawatches escortservice"
)
SPAM_PREFIXES = ("cheap", "buy", "free", "discount", "best", "online", "instant", "guaranteed")
SPAM_PRODUCTS = (
    "viagra|cialis|pills|casino|casino bonus|bitcoin|crypto signals|followers|"
    "instagram followers|likes|loans|payday loans|replica watches|essay writing|"
    "weight loss|diet pills|seo services|backlinks|web traffic|forex signals|betting tips|"
    "slots"
)
SUSPECT = (
    "traitor traitors scum vermin parasite parasites subhuman lynch lynching nazi nazis thug "
    "thugs savage savages degenerate degenerates filth terrorist terrorists invader invaders "
    "deport snowflake bitch bastard wanker dickhead douchebag jackass asshole arsehole pig pigs "
    "cockroach cockroaches rat rats"
)
THREAT_VERBS = ("kill", "shoot", "hang", "punch", "burn", "beat up", "lock up", "get rid of")
THREAT_TARGETS = (
    "them|him|her|the mayor|the councillors|the council|the reporter|journalists|"
    "the editor|these people|the judge|the protesters|the landlords|the developers|"
    "that family|the teachers|the police|the migrants"
)
DOX_PHRASES = (
    "home address|phone number|where he lives|where she lives|where they live|his kids|her kids"
)


def banned_words() -> list[str]:
    """About 200: spam words, and spam phrases (a phrase matches across any whitespace)."""
    words = SPAM.split()
    products = SPAM_PRODUCTS.split("|")
    words += [f"{prefix} {product}" for prefix in SPAM_PREFIXES for product in products]
    return sorted(set(words))[:200]


def suspect_words() -> list[str]:
    """About 200: slurs-in-waiting and insults, threats (verb + target), doxxing phrases."""
    words = SUSPECT.split() + DOX_PHRASES.split("|")
    targets = THREAT_TARGETS.split("|")
    words += [f"{verb} {target}" for verb in THREAT_VERBS for target in targets]
    return sorted(set(words))[:200]


class Writer:
    """Deterministic comment texts: sentences from VOCABULARY, with what moderation looks for
    mixed in at fixed rates."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.link_number = 0
        self.banned, self.suspect = banned_words(), suspect_words()
        self.profane = PROFANE.split()

    def sentence(self) -> str:
        words = self.rng.choices(VOCABULARY, k=self.rng.randint(5, 18))
        end = self.rng.choices([".", "?", "!"], weights=[8, 1, 1])[0]
        return " ".join(words).capitalize() + end

    def words(self, count: int) -> str:
        sentences, total = [], 0
        while total < count:
            sentences.append(self.sentence())
            total += len(sentences[-1].split())
        paragraphs, size = [], self.rng.randint(3, 6)
        for start in range(0, len(sentences), size):
            paragraphs.append(" ".join(sentences[start : start + size]))
        return "\n\n".join(paragraphs)

    def length(self) -> int:
        """Words: mostly a few lines, some paragraphs, a few long essays."""
        kind = self.rng.choices(["short", "medium", "long", "essay"], weights=[35, 45, 17, 3])[0]
        low, high = {"short": (4, 20), "medium": (20, 80), "long": (80, 250), "essay": (250, 600)}[
            kind
        ]
        return self.rng.randint(low, high)

    def link(self) -> str:
        self.link_number += 1
        url = f"https://{self.rng.choice(['example.org', 'news.example', 'data.example'])}"
        url += f"/2024/story-{self.link_number}"
        return url if self.rng.random() < 0.5 else f"[{self.rng.choice(VOCABULARY)}]({url})"

    def insert(self, text: str, piece: str) -> str:
        words = text.split(" ")
        at = self.rng.randrange(len(words) + 1)
        return " ".join([*words[:at], piece, *words[at:]])

    def comment(self, kinds: Counter[str]) -> str:
        rng = self.rng
        if rng.random() < 0.03:
            kinds["insult"] += 1
            return rng.choice(INSULTS).format(
                p=rng.choice(self.profane),
                P=rng.choice(self.profane).capitalize(),
                q=rng.choice(["idiot", "moron", "loser"]),
                r=rng.choice(["article", "council", "plan", "mayor"]),
            )
        text = self.words(self.length())
        if rng.random() < 0.12:
            kinds["profane"] += 1
            for _ in range(rng.randint(1, 3)):
                text = self.insert(text, rng.choice(self.profane))
        if rng.random() < 0.04:
            kinds["suspect"] += 1
            text = self.insert(text, rng.choice(self.suspect))
        if rng.random() < 0.015:
            kinds["banned"] += 1
            text = self.insert(text, rng.choice(self.banned).title())
        roll = rng.random()
        if roll < 0.03:
            kinds["many_links"] += 1
            for _ in range(rng.randint(MAX_LINKS + 1, MAX_LINKS + 3)):
                text = self.insert(text, self.link())
        elif roll < 0.18:
            kinds["link"] += 1
            text = self.insert(text, self.link())
        return text


# ---- process ----------------------------------------------------------------------------------


def pin_to_one_core() -> int:
    """Run this process on one core only (the highest it may use); returns its number."""
    core = max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return core


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "townhall.config.settings")
    import django

    django.setup()


def memory_kib() -> dict[str, int]:
    """This process's resident set now (VmRSS) and at its peak so far (VmHWM), in KiB."""
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return {"rss_kib": found["VmRSS"], "peak_kib": found["VmHWM"]}


def versions() -> dict[str, str]:
    """Python, SQLite and the packages that take part, as installed (none is imported)."""
    import sqlite3

    found = {"python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "?"
    return found


def stats_us(ns: list[int]) -> dict[str, float]:
    """Median, p99 (interpolated), mean and max of call times in ns, in µs."""
    us = [t / 1000 for t in ns]
    cuts = statistics.quantiles(us, n=100, method="inclusive")
    return {
        "p50_us": cuts[49],
        "p99_us": cuts[98],
        "mean_us": statistics.fmean(us),
        "max_us": max(us),
    }


def timed_calls(call: Callable[[Any], Any], items: list[Any]) -> dict[str, Any]:
    """``call(item)`` for every item, each timed; the answers, and the wall and CPU time."""
    answers, ns = [], []
    cpu, began = time.process_time(), time.perf_counter()
    for item in items:
        start = time.perf_counter_ns()
        answer = call(item)
        ns.append(time.perf_counter_ns() - start)
        answers.append(answer)
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    return {
        "answers": answers,
        "timing": {
            "calls": len(items),
            "seconds": wall,
            "per_second": len(items) / wall,
            "cpu_share": cpu / wall,
            **stats_us(ns),
        },
    }


# ---- setup ------------------------------------------------------------------------------------


def fingerprint(rng: random.Random) -> str:
    """Like core.clients.client_fingerprint: 32 hex digits of a keyed hash."""
    return f"{rng.getrandbits(128):032x}"


def setup() -> dict[str, Any]:
    from django.db import transaction
    from django.utils import timezone

    from townhall.discussions.actions import do_open_thread
    from townhall.discussions.models import Comment, CommentStatus, Thread
    from townhall.identity.models import Commenter
    from townhall.moderation.models import Ban, BanKind
    from townhall.sites.actions import do_set_moderation_rules
    from townhall.sites.models import Site

    started = time.perf_counter()
    rng = random.Random(SEED)
    writer = Writer(rng)
    site = do_set_moderation_rules(
        Site.objects.get(slug=SITE),
        banned_words=banned_words(),
        suspect_words=suspect_words(),
        max_links=MAX_LINKS,
        toxicity_threshold=TOXICITY_THRESHOLD,
        new_commenter_burst=NEW_COMMENTER_BURST,
        akismet_key="",
    )
    urls = [f"{ORIGIN}/news/2024/story-{n}" for n in range(THREADS)]
    threads = [do_open_thread(site, url=url, title=f"Story {n}") for n, url in enumerate(urls)]
    now = timezone.now()

    # Clients; some are a commenter with a token, a few of those new today.
    clients = [fingerprint(rng) for _ in range(HISTORY_CLIENTS)]
    with_token = [c for c in clients if rng.random() < TOKEN_SHARE]
    with transaction.atomic():
        made = Commenter.objects.bulk_create(
            [
                Commenter(
                    site=site,
                    display_name=f"Reader {n}",
                    email=f"reader-{n}@bench.example" if rng.random() < 0.7 else "",
                )
                for n in range(len(with_token))
            ]
        )
        ages = {c.pk: timedelta(days=rng.uniform(2, 300)) for c in made}
        for c in made[: len(made) * 15 // 100]:  # new today: the fast-posting rule looks at them
            ages[c.pk] = timedelta(hours=rng.uniform(0.5, 20))
        for commenter in made:
            commenter.created = now - ages[commenter.pk]
        Commenter.objects.bulk_update(made, ["created"], batch_size=500)
    commenter_of = dict(zip(with_token, made, strict=True))

    # History: comments over the last two days, a few clients writing most of them.
    weights = [1 / (rank + 1) ** 0.8 for rank in range(HISTORY_CLIENTS)]
    statuses = [
        CommentStatus.VISIBLE,
        CommentStatus.PENDING,
        CommentStatus.REJECTED,
        CommentStatus.SPAM,
    ]
    rows, kinds = [], Counter[str]()
    for client in rng.choices(clients, weights=weights, k=HISTORY_COMMENTS):
        author = commenter_of.get(client)
        text = writer.comment(kinds)
        rows.append(
            Comment(
                thread=rng.choice(threads),
                author=author,
                author_name=author.display_name if author else "Anonymous",
                body=text,
                body_html=f"<p>{text}</p>",
                status=rng.choices(statuses, weights=[90, 5, 2, 3])[0],
                client_fingerprint=client,
                moderation={"reasons": [], "toxicity": 0.01},
                created=now - timedelta(hours=rng.uniform(0, HISTORY_HOURS)),
            )
        )
    flooders = [fingerprint(rng) for _ in range(FLOODERS)]
    for client in flooders:
        for _ in range(FLOOD_COMMENTS):
            text = writer.comment(kinds)
            rows.append(
                Comment(
                    thread=rng.choice(threads),
                    author_name="Anonymous",
                    body=text,
                    body_html=f"<p>{text}</p>",
                    client_fingerprint=client,
                    created=now - timedelta(minutes=rng.uniform(0, 8)),
                )
            )
    with transaction.atomic():
        Comment.objects.bulk_create(rows, batch_size=500)
        for thread in threads:
            visible = Comment.objects.filter(thread=thread, status=CommentStatus.VISIBLE).count()
            Thread.objects.filter(pk=thread.pk).update(comment_count=visible)

    # Bans: clients, emails and identities; some expired, some lifted, some still running.
    banned_clients = rng.sample(clients, BANS * 2 // 5)
    emails = [c.email for c in made if c.email]
    banned_emails = rng.sample(emails, BANS // 3)
    banned_ids = rng.sample([c.pk for c in made], BANS - len(banned_clients) - len(banned_emails))
    bans = []
    for kind, values in (
        (BanKind.CLIENT, banned_clients),
        (BanKind.EMAIL, banned_emails),
        (BanKind.COMMENTER, [str(pk) for pk in banned_ids]),
    ):
        for value in values:
            state = rng.choices(["forever", "running", "expired", "lifted"], [3, 4, 2, 1])[0]
            days = rng.uniform(1, 30) * (1 if state == "running" else -1)
            bans.append(
                Ban(
                    site=site,
                    kind=kind,
                    value=value,
                    reason="bench",
                    expires=None if state in ("forever", "lifted") else now + timedelta(days=days),
                    lifted=now - timedelta(days=1) if state == "lifted" else None,
                )
            )
    Ban.objects.bulk_create(bans)
    in_force = [b for b in bans if b.lifted is None and (b.expires is None or b.expires > now)]

    plan, plan_kinds = make_plan(rng, writer, clients, weights, commenter_of, flooders, in_force)
    PLAN.write_text(json.dumps({"urls": urls, "comments": plan}))
    lengths = sorted(len(item["text"]) for item in plan)
    return {
        "versions": versions(),
        "seconds": round(time.perf_counter() - started, 2),
        "rules": {
            "banned_words": len(site.banned_words),
            "banned_phrases": sum(" " in w for w in site.banned_words),
            "suspect_words": len(site.suspect_words),
            "suspect_phrases": sum(" " in w for w in site.suspect_words),
            "max_links": site.max_links,
            "toxicity_threshold": site.toxicity_threshold,
            "new_commenter_burst": site.new_commenter_burst,
            "moderation_mode": site.moderation_mode,
            "akismet": bool(site.akismet_key),
        },
        "history": {
            "threads": len(threads),
            "comments": Comment.objects.count(),
            "clients": len({r.client_fingerprint for r in rows}),
            "commenters": Commenter.objects.count(),
            "new_commenters": sum(1 for age in ages.values() if age < timedelta(days=1)),
            "hours": HISTORY_HOURS,
            "flooders": FLOODERS,
            "bans": len(bans),
            "bans_in_force": len(in_force),
            "bans_by_kind": dict(Counter(str(b.kind) for b in bans)),
        },
        "plan": {
            "seed": SEED,
            "comments": len(plan),
            "chars_min": lengths[0],
            "chars_median": statistics.median(lengths),
            "chars_max": lengths[-1],
            "chars_total": sum(lengths),
            **plan_kinds,
        },
    }


def make_plan(
    rng: random.Random,
    writer: Writer,
    clients: list[str],
    weights: list[float],
    commenter_of: dict[str, Any],
    flooders: list[str],
    in_force: list[Any],
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """COMMENTS comments to moderate: each text, who sends it, under which article."""
    from django.utils import timezone

    from townhall.discussions.models import Comment
    from townhall.moderation.models import BanKind

    recent: dict[str, list[str]] = {}
    since = timezone.now() - timedelta(days=1)
    for client, body in Comment.objects.filter(created__gte=since).values_list(
        "client_fingerprint", "body"
    ):
        recent.setdefault(client, []).append(body)
    by_id = {str(c.pk): c for c in commenter_of.values()}
    kinds: Counter[str] = Counter()
    plan = []
    for n in range(COMMENTS):
        reader: dict[str, Any] = {"fingerprint": "", "commenter": None, "email": ""}
        roll = rng.random()
        if roll < 0.01:
            kinds["banned_reader"] += 1
            ban = rng.choice(in_force)
            if ban.kind == BanKind.CLIENT:
                reader["fingerprint"] = ban.value
            elif ban.kind == BanKind.EMAIL:
                reader.update(fingerprint=fingerprint(rng), email=ban.value)
            else:
                reader.update(fingerprint=fingerprint(rng), commenter=int(ban.value))
                reader["email"] = by_id[ban.value].email
        elif roll < 0.02:
            kinds["flooder"] += 1
            reader["fingerprint"] = rng.choice(flooders)
        elif roll < 0.60:
            kinds["returning_reader"] += 1
            client = rng.choices(clients, weights=weights)[0]
            reader["fingerprint"] = client
            commenter = commenter_of.get(client)
            if commenter is not None and rng.random() < 0.8:
                reader.update(commenter=commenter.pk, email=commenter.email)
        else:
            kinds["new_reader"] += 1
            reader["fingerprint"] = fingerprint(rng)
            reader["email"] = f"new-{n}@bench.example" if rng.random() < 0.5 else ""
        earlier = recent.get(reader["fingerprint"])
        if earlier and rng.random() < 0.1:
            kinds["repeat"] += 1
            text = rng.choice(earlier)
        else:
            text = writer.comment(kinds)
        plan.append(
            {
                **reader,
                "text": text.strip(),
                "name": f"Reader {n}",
                "thread": rng.randrange(THREADS),
            }
        )
    return plan, dict(kinds)


# ---- measurements -----------------------------------------------------------------------------


def load_plan() -> tuple[Any, list[dict[str, Any]], list[Any]]:
    """The site, the plan, and each comment as the pipeline's Submission (rendered first)."""
    from townhall.discussions.rendering import render_markdown
    from townhall.identity.models import Commenter
    from townhall.moderation.pipeline import Submission
    from townhall.sites.models import Site

    site = Site.objects.get(slug=SITE)
    data = json.loads(PLAN.read_text())
    plan, urls = data["comments"], data["urls"]
    ids = {item["commenter"] for item in plan if item["commenter"] is not None}
    commenters = Commenter.objects.in_bulk(ids)
    for item in plan:
        item["url"] = urls[item["thread"]]
        item["commenter"] = commenters.get(item["commenter"]) if item["commenter"] else None
    submissions = [
        Submission(
            site=site,
            text=item["text"],
            html=render_markdown(item["text"]),
            commenter=item["commenter"],
            email=item["email"],
            client_fingerprint=item["fingerprint"],
            author_name=item["name"],
            article_url=item["url"],
        )
        for item in plan
    ]
    return site, plan, submissions


def verdict_summary(verdicts: list[Any]) -> dict[str, Any]:
    return {
        "actions": dict(Counter(v.action for v in verdicts)),
        "rules": dict(Counter(r["rule"] for v in verdicts for r in v.reasons)),
        "scored": sum(v.toxicity is not None for v in verdicts),
    }


def run_pipeline_timed(submissions: list[Any]) -> dict[str, Any]:
    """Warm up on the plan's last WARMUP comments, then every comment once, each call timed."""
    from townhall.moderation.pipeline import run_pipeline

    for submission in submissions[-WARMUP:]:
        run_pipeline(submission)
    gc.collect()
    run = timed_calls(run_pipeline, submissions)
    verdicts = run.pop("answers")
    return {
        **run,
        "summary": verdict_summary(verdicts),
        "verdicts": [[v.action, [r["rule"] for r in v.reasons], v.toxicity] for v in verdicts],
    }


def step_times(submissions: list[Any]) -> list[dict[str, Any]]:
    """Each step of run_pipeline alone, on every comment (even those an earlier step would have
    refused): mean µs per comment."""
    from townhall.moderation import pipeline, toxicity

    def words(rule: str) -> Callable[[Any], Any]:
        def step(s: Any) -> Any:
            return pipeline._first_match(tuple(getattr(s.site, rule)), pipeline.fold(s.text))

        return step

    steps: list[tuple[str, Callable[[Any], Any]]] = [
        (
            "banned",
            lambda s: pipeline.active_ban(s.site, s.commenter, s.email, s.client_fingerprint),
        ),
        ("fold (for both word lists)", lambda s: pipeline.fold(s.text)),
        ("banned_words", words("banned_words")),
        ("suspect_words", words("suspect_words")),
        ("links", lambda s: len(pipeline._LINK.findall(s.html))),
        ("repeated + fast_new_commenter", pipeline._history),
        ("toxicity", lambda s: toxicity.score(s.text)),
    ]
    rows = []
    for name, step in steps:
        for submission in submissions[-WARMUP:]:
            step(submission)
        began = time.perf_counter()
        for submission in submissions:
            step(submission)
        rows.append(
            {"step": name, "mean_us": (time.perf_counter() - began) / len(submissions) * 1e6}
        )
    return rows


def sql_of(submissions: list[Any]) -> dict[str, Any]:
    """The statements run_pipeline runs, by kind: how many per comment, the time SQLite takes to
    execute them (cursor.execute to its return, rows fetched), and SQLite's plan for each."""
    from django.db import connection

    from townhall.moderation.pipeline import run_pipeline

    first: dict[str, Any] = {}
    counts: Counter[str] = Counter()
    seconds: Counter[str] = Counter()

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if "townhall_moderation_ban" in sql:
            kind = "site bans (read again every 2 s)"
        else:
            kind = "repeated + fast_new_commenter"
            kind += " (identity or client)" if '"author_id" =' in sql else " (client)"
        first.setdefault(kind, (sql, params))
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            seconds[kind] += time.perf_counter() - began
            counts[kind] += 1

    for submission in submissions[-WARMUP:]:
        run_pipeline(submission)
    began = time.perf_counter()
    with connection.execute_wrapper(wrapper):
        for submission in submissions:
            run_pipeline(submission)
    total = time.perf_counter() - began
    statements = {}
    with connection.cursor() as cursor:
        for kind, (sql, params) in sorted(first.items()):
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            statements[kind] = {
                "count": counts[kind],
                "execute_us": seconds[kind] / counts[kind] * 1e6,
                "plan": [row[-1] for row in cursor.fetchall()],
                "sql": sql,
            }
    n = len(submissions)
    return {
        "comments": n,
        "per_comment": sum(counts.values()) / n,
        "execute_us_per_comment": sum(seconds.values()) / n * 1e6,
        "pipeline_us_per_comment": total / n * 1e6,
        "statements": statements,
    }


def pipeline_command(core: int) -> dict[str, Any]:
    """run_pipeline with the compiled table; never imports scikit-learn."""
    from townhall.moderation import toxicity

    memory = {"after_django": memory_kib()}
    site, _plan, submissions = load_plan()
    memory["before_classifier"] = memory_kib()
    path = toxicity.model_path()
    existed = path.exists()
    began = time.perf_counter()
    toxicity.model()  # compiles in a child process if this version has no table yet
    first_load = time.perf_counter() - began
    began = time.perf_counter()
    toxicity.load(path)
    load = time.perf_counter() - began
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    memory["after_classifier"] = memory_kib()
    pipeline = run_pipeline_timed(submissions)
    memory["after_pipeline"] = memory_kib()
    gc.collect()
    classifier = timed_calls(toxicity.score, [s.text for s in submissions])
    return {
        "core": core,
        "versions": versions(),
        "model": {
            "path": str(path),
            "compiled_here": not existed,
            "first_use_seconds": first_load,
            "load_seconds": load,
            "table_bytes": path.stat().st_size,
            "terms": len(toxicity.model().terms),
            "compile_child_peak_kib": children.ru_maxrss if not existed else None,
        },
        "pipeline": pipeline,
        "classifier": {"timing": classifier["timing"], "scores": classifier["answers"]},
        "steps": step_times(submissions[:PROFILED]),
        "sql": sql_of(submissions[:PROFILED]),
        "memory": memory,
        "sklearn_imported": "sklearn" in sys.modules,
        "site_rules": [len(site.banned_words), len(site.suspect_words)],
    }


def library_command(core: int) -> dict[str, Any]:
    """The same comments with alt-profanity-check's own predict_prob; no compiled table."""
    import warnings

    from townhall.moderation import toxicity

    memory = {"after_django": memory_kib()}
    _site, _plan, submissions = load_plan()
    memory["before_classifier"] = memory_kib()
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's version-mismatch notes on unpickling
        from profanity_check import predict_prob
    texts = [s.text for s in submissions]
    predict_prob(texts[:10])
    import_seconds = time.perf_counter() - began
    memory["after_classifier"] = memory_kib()

    def per_call(text: str) -> float:
        return float(predict_prob([text])[0])

    for text in texts[-WARMUP:]:
        per_call(text)
    gc.collect()
    alone = timed_calls(per_call, texts)
    began = time.perf_counter()
    batched = predict_prob(texts)
    batched_seconds = time.perf_counter() - began
    toxicity.score = per_call  # what run_pipeline calls: the library, once per comment
    pipeline = run_pipeline_timed(submissions)
    memory["after_pipeline"] = memory_kib()
    return {
        "core": core,
        "import_seconds": import_seconds,
        "classifier": {"timing": alone["timing"], "scores": alone["answers"]},
        "batched": {
            "texts": len(texts),
            "seconds": batched_seconds,
            "per_second": len(texts) / batched_seconds,
            "mean_us": batched_seconds / len(texts) * 1e6,
            "scores": [float(p) for p in batched],
        },
        "pipeline": pipeline,
        "memory": memory,
        "sklearn_imported": "sklearn" in sys.modules,
        "compiled_table_loaded": toxicity._model is not None,
    }


def post_command(core: int) -> dict[str, Any]:
    """do_post_comment on the plan's first POSTS comments: the whole write path, one by one."""
    from townhall.core.errors import TownhallError
    from townhall.discussions.actions import do_post_comment
    from townhall.discussions.models import Comment
    from townhall.moderation import toxicity

    site, plan, _submissions = load_plan()
    toxicity.model()
    outcomes: Counter[str] = Counter()

    def post(item: dict[str, Any]) -> str:
        try:
            posted = do_post_comment(
                site,
                url=item["url"],
                body=item["text"],
                title=f"Story {item['thread']}",
                author_name=item["name"],
                author_email=item["email"] or None,
                commenter=item["commenter"],
                client_fingerprint=item["fingerprint"],
            )
        except TownhallError as error:
            return f"refused: {error.code}"
        return str(posted.comment.status)

    for item in plan[-POST_WARMUP:]:
        post(item)
    before = Comment.objects.count()
    gc.collect()
    run = timed_calls(post, plan[:POSTS])
    outcomes.update(run.pop("answers"))
    return {
        "core": core,
        "posts": POSTS,
        "timing": run["timing"],
        "outcomes": dict(outcomes),
        "stored": Comment.objects.count() - before,
        "memory": memory_kib(),
        "sklearn_imported": "sklearn" in sys.modules,
    }


COMMANDS: dict[str, Callable[[int], dict[str, Any]]] = {
    "pipeline": pipeline_command,
    "library": library_command,
    "post": post_command,
}


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    core = pin_to_one_core()
    django_setup()
    if command == "setup":
        result = {"core": core, **setup()}
    elif command in COMMANDS:
        result = COMMANDS[command](core)
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
