"""Read replicas (``TOWNHALL_DATABASE_REPLICA_URLS``, ``townhall/config/routers.py``).

The primary and its replica are two SQLite files; the replica is a copy of the primary taken
after the site was made and before anything else was written, like a replica that lags behind.
What a request finds or misses shows where it read, and every query is counted per database.
Settings are read once per process, so the requests run in a process of their own
(``replica_probe.py``); this suite's own settings have no replica.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOWNHALL = str(Path(sys.executable).with_name("townhall"))


def _env(primary: Path, replicas: list[Path], var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOWNHALL_")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        TOWNHALL_VAR_DIR=str(var_dir),
        TOWNHALL_DATABASE_URL=f"sqlite:///{primary}",
        TOWNHALL_DATABASE_REPLICA_URLS=",".join(f"sqlite:///{path}" for path in replicas),
        TOWNHALL_SECRET_KEY="replica-test",
        TOWNHALL_RATELIMIT="0",
    )
    if os.environ.get("TOWNHALL_MODEL_DIR"):
        env["TOWNHALL_MODEL_DIR"] = os.environ["TOWNHALL_MODEL_DIR"]
    return env


def _run(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(  # noqa: S603 (the project's own executables)
        args, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    db.close()
    return {name for (name,) in rows}


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("replicas")
    primary, replica = tmp / "primary.sqlite3", tmp / "replica.sqlite3"
    env = _env(primary, [replica], tmp)
    _run([TOWNHALL, "migrate", "--noinput"], env)
    _run([TOWNHALL, "migrate", "--noinput", "--database", "replica_1"], env)
    assert "townhall_discussions_comment" not in _tables(replica)  # migrations: primary only
    _run(
        [TOWNHALL, "createsite", "news", "--name", "News", "--origin", "https://news.example"], env
    )
    replica.unlink()
    with sqlite3.connect(primary) as source, sqlite3.connect(replica) as copy:
        source.backup(copy)  # the replica, as of now
    source.close()
    copy.close()
    return json.loads(_run([sys.executable, "-m", "tests.config.replica_probe"], env))


def test_settings_add_one_database_per_replica_url_and_the_router(tmp_path):
    env = _env(tmp_path / "p.sqlite3", [tmp_path / "r1.sqlite3", tmp_path / "r2.sqlite3"], tmp_path)
    code = (
        "from django.conf import settings;"
        "import json;"
        "print(json.dumps({'databases': {k: [v['NAME'], v['TEST']['MIRROR']] for k, v in "
        "settings.DATABASES.items()}, 'routers': settings.DATABASE_ROUTERS, "
        "'middleware': settings.MIDDLEWARE[0]}))"
    )
    found = json.loads(_run([TOWNHALL, "shell", "--no-imports", "-c", code], env))
    assert found["databases"] == {
        "default": [str(tmp_path / "p.sqlite3"), None],
        "replica_1": [str(tmp_path / "r1.sqlite3"), "default"],
        "replica_2": [str(tmp_path / "r2.sqlite3"), "default"],
    }
    assert found["routers"] == ["townhall.config.routers.PrimaryReplicaRouter"]
    assert found["middleware"] == "townhall.config.routers.ReplicaReadsMiddleware"


def test_without_replicas_there_is_no_router(settings):
    if os.environ.get("TOWNHALL_DATABASE_REPLICA_URLS"):
        pytest.skip("this run has replicas configured")
    assert list(settings.DATABASES) == ["default"]
    assert not settings.DATABASE_ROUTERS
    assert "townhall.config.routers.ReplicaReadsMiddleware" not in settings.MIDDLEWARE


def test_a_post_writes_and_reads_only_the_primary(report):
    assert report["post"] == {"status": 201, "primary": report["post"]["primary"], "replica": 0}
    assert report["post"]["primary"] > 0


def test_a_thread_read_goes_to_the_replica(report):
    # The replica was copied before the comment: the thread is not there yet.
    read = report["read"]
    assert read["status"] == 200
    assert read["thread"]["id"] is None and read["thread"]["comment_count"] == 0
    assert read["primary"] == 0 and read["replica"] > 0


def test_writes_find_what_was_just_written_though_the_replica_lags(report):
    # The vote's and the edit's access_ queries run before their actions' transactions: on the
    # replica they would not find the comment (404).
    assert report["vote"] == {
        "status": 200,
        "upvotes": 1,
        "primary": report["vote"]["primary"],
        "replica": 0,
    }
    assert report["edit"]["status"] == 200 and report["edit"]["replica"] == 0


def test_code_outside_requests_reads_the_primary(report):
    assert report["outside"] == {"count": 1, "primary": 1, "replica": 0}


def test_in_a_replica_block_reads_go_to_the_replica_except_in_transactions(report):
    assert report["in_block"] == {"count": 0, "alias": "replica_1", "primary": 0, "replica": 1}
    in_transaction = report["in_transaction"]
    assert in_transaction["count"] == 1 and in_transaction["score"] == 1
    assert in_transaction["replica"] == 0


def test_a_caught_up_replica_serves_the_whole_page_and_the_replies(report):
    assert report["caught_up"] == {
        "status": 200,
        "replies": 1,
        "primary": 0,
        "replica": report["caught_up"]["replica"],
    }
    assert report["replies"] == {
        "status": 200,
        "count": 1,
        "primary": 0,
        "replica": report["replies"]["replica"],
    }
