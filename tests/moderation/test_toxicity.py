"""The compiled toxicity table scores exactly as alt-profanity-check's own model."""

from __future__ import annotations

import random
import warnings

import pytest

from townhall.moderation import toxicity

WORDS = [
    "the",
    "airbase",
    "minister",
    "russia",
    "turkey",
    "cooperation",
    "terror",
    "enemy",
    "fight",
    "talks",
    "border",
    "warplane",
    "idiot",
    "stupid",
    "moron",
    "shit",
    "fuck",
    "damn",
    "hell",
    "crap",
    "bastard",
    "ass",
    "dumb",
    "loser",
    "clown",
    "liar",
    "traitor",
    "please",
    "thanks",
    "agree",
    "disagree",
    "article",
    "source",
    "evidence",
    "opinion",
    "kill",
    "hate",
    "love",
    "great",
]
FIXED = [
    "",
    "   ",
    "!!!???",
    "you idiot",
    "You IDIOT!!",
    "Café naïve résumé idiot",
    "f u c k",
    "This is a perfectly fine comment about the Incirlik airbase.",
    "the and of to in",
    "1234 5678",
    "ш ж идиот",
    "x" * 5000,
]


@pytest.fixture(scope="module")
def library():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's notes about the pickled model
        from profanity_check import predict_prob
    return predict_prob


def texts() -> list[str]:
    rng = random.Random(20261129)
    made = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 60))) for _ in range(400)]
    return FIXED + made


def test_the_table_scores_as_the_library_does(library):
    corpus = texts()
    expected = library(corpus)
    compiled = toxicity.model()
    for text, want in zip(corpus, expected, strict=True):
        assert compiled.score(text) == pytest.approx(float(want), abs=1e-9), text[:60]


def test_scores_are_probabilities_and_tell_abuse_from_news():
    assert 0.0 <= toxicity.score("") <= 1.0
    assert toxicity.score("you are a fucking idiot") > 0.9
    assert toxicity.score("The minister met his counterpart in Sochi on July 1.") < 0.2


def test_the_table_is_written_once_per_package_version(tmp_path, monkeypatch):
    monkeypatch.setenv("TOWNHALL_MODEL_DIR", str(tmp_path))
    path = toxicity.model_path()
    assert path.parent == tmp_path and path.name.startswith("alt-profanity-check-")
    toxicity.write_table(path)
    loaded = toxicity.load(path)
    assert loaded.score("you idiot") == pytest.approx(toxicity.score("you idiot"), abs=1e-12)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
