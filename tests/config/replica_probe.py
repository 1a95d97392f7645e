"""Run by ``test_routers.py`` in a process of its own, whose settings name a primary and a
replica (two SQLite files; the replica a copy made before anything below was written): makes
requests and queries, and prints as JSON what each answered and how many queries it sent to
each database."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from typing import Any

import django

ARTICLE = "https://news.example/2016/07/replicas/"


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "townhall.config.settings")
    django.setup()
    from django.db import connections, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from townhall.config.routers import reading_from_a_replica
    from townhall.discussions.models import Comment

    client = Client()
    report: dict[str, dict[str, Any]] = {}

    def measured(name: str, call: Callable[[], Any]) -> Any:
        with (
            CaptureQueriesContext(connections["default"]) as primary,
            CaptureQueriesContext(connections["replica_1"]) as replica,
        ):
            result = call()
        report[name] = {"primary": len(primary), "replica": len(replica)}
        return result

    def send(method: str, path: str, body: Any, **headers: str) -> Any:
        response = client.generic(
            method, path, json.dumps(body), content_type="application/json", headers=headers
        )
        return response.status_code, response.json()

    status, posted = measured(
        "post",
        lambda: send("POST", "/api/v1/comments", {"site": "news", "url": ARTICLE, "body": "New."}),
    )
    report["post"] |= {"status": status}
    comment_id, token = posted["comment"]["id"], posted["edit_token"]

    read = measured("read", lambda: client.get("/api/v1/threads", {"site": "news", "url": ARTICLE}))
    report["read"] |= {"status": read.status_code, "thread": read.json()["thread"]}

    status, voted = measured(
        "vote", lambda: send("POST", f"/api/v1/comments/{comment_id}/vote", {"value": 1})
    )
    report["vote"] |= {"status": status, "upvotes": voted.get("upvotes")}

    status, _ = measured(
        "edit",
        lambda: send(
            "PATCH",
            f"/api/v1/comments/{comment_id}",
            {"body": "Edited."},
            Authorization=f"Bearer {token}",
        ),
    )
    report["edit"] |= {"status": status}

    # Code outside requests (commands, the worker) reads the primary.
    report["outside"] = {"count": measured("outside", Comment.objects.count), **report["outside"]}

    with reading_from_a_replica() as alias:
        count = measured("in_block", Comment.objects.count)
        report["in_block"] |= {"count": count, "alias": alias}

        def in_transaction() -> dict:
            with transaction.atomic():
                locked = Comment.objects.select_for_update().get(pk=comment_id)
                return {"count": Comment.objects.count(), "score": locked.score}

        result = measured("in_transaction", in_transaction)
        report["in_transaction"] |= result

    # The replica catches up: a page of the thread and the replies of its comment are read
    # from it alone, every statement of them (the replies' one is raw SQL).
    send(
        "POST",
        "/api/v1/comments",
        {"site": "news", "url": ARTICLE, "body": "A reply.", "parent_id": comment_id},
    )
    connections["replica_1"].close()
    primary_file = connections["default"].settings_dict["NAME"]
    with sqlite3.connect(primary_file) as source, sqlite3.connect(replica_file()) as copy:
        source.backup(copy)
    read = measured(
        "caught_up", lambda: client.get("/api/v1/threads", {"site": "news", "url": ARTICLE})
    )
    [root] = read.json()["comments"]
    report["caught_up"] |= {"status": read.status_code, "replies": len(root["replies"])}
    answer = measured("replies", lambda: client.get(f"/api/v1/comments/{comment_id}/replies"))
    report["replies"] |= {"status": answer.status_code, "count": len(answer.json()["comments"])}
    print(json.dumps(report))


def replica_file() -> str:
    from django.db import connections

    return str(connections["replica_1"].settings_dict["NAME"])


if __name__ == "__main__":
    main()
