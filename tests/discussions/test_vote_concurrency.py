"""Votes arriving together must leave counts equal to the vote rows (PostgreSQL run)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.db.models import Count, Q, Sum

from tests.conftest import ARTICLE
from townhall.discussions.actions import do_post_comment, do_vote_comment
from townhall.discussions.models import Vote

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locking is exercised on PostgreSQL"
    ),
]

THREADS = 8
ROUNDS = 15


def test_concurrent_votes_keep_counts_exact(site):
    comment = do_post_comment(site, url=ARTICLE, body="Vote on me").comment
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def voter(n: int) -> None:
        try:
            barrier.wait()
            # Each thread shares its voter with one other thread, so the same voter's vote is
            # created, flipped and withdrawn from two places at once.
            for round_ in range(ROUNDS):
                do_vote_comment(comment, voter_key=f"a:{n % 4}", value=(1, -1, 0)[round_ % 3])
            # Then a voter of its own, whose final vote is known: up for even n, down for odd.
            do_vote_comment(comment, voter_key=f"solo:{n}", value=1 if n % 2 == 0 else -1)
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=voter, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    comment.refresh_from_db()
    rows = Vote.objects.filter(comment=comment).aggregate(
        up=Count("pk", filter=Q(value=1)), down=Count("pk", filter=Q(value=-1)), total=Sum("value")
    )
    assert (comment.upvotes, comment.downvotes, comment.score) == (
        rows["up"],
        rows["down"],
        rows["total"] or 0,
    )
    solo = Vote.objects.filter(comment=comment, voter_key__startswith="solo:")
    assert solo.filter(value=1).count() == THREADS // 2
    assert solo.filter(value=-1).count() == THREADS // 2
    # Shared voters: at most one row each, whatever order the threads ran in.
    assert Vote.objects.filter(comment=comment, voter_key__startswith="a:").count() <= 4
