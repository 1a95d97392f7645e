"""The offline toxicity score: alt-profanity-check's model, compiled for one comment at a time.

alt-profanity-check ships a TF-IDF vectorizer and five calibrated linear SVMs (scikit-learn).
Asked about one text, ``predict_prob`` spends about 2 ms in scikit-learn's per-call checks and
sparse-matrix set-up, and importing it costs a process about 120 MB of memory (scikit-learn,
SciPy and the model). Every part of that model is linear, so it folds into one table: for each
word of its vocabulary, its IDF weight and its weight in each of the five SVMs. Scoring a comment
is then a few dictionary lookups (about 20 µs), in a process that never imports scikit-learn.

The table is compiled once per installed version of alt-profanity-check, in a child process
(``python -m townhall.moderation.toxicity OUT``), into ``TOWNHALL_MODEL_DIR`` (by default
``TOWNHALL_VAR_DIR/models/``). Its scores
equal the library's own ``predict_prob`` to 1e-9 (``tests/moderation/test_toxicity.py``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from townhall.config import env

logger = logging.getLogger(__name__)

PACKAGE = "alt-profanity-check"


@dataclass(frozen=True)
class CompiledModel:
    token_pattern: re.Pattern[str]
    stop_words: frozenset[str]
    # word -> (idf, idf * weight in each SVM)
    terms: dict[str, tuple[float, ...]]
    intercepts: tuple[float, ...]
    sigmoids: tuple[tuple[float, float], ...]  # (a, b) of each SVM's calibration

    def score(self, text: str) -> float:
        """The probability (0 to 1) that ``text`` is profane or abusive, as the library's own
        ``predict_prob([text])[0]``."""
        counts = Counter(
            token
            for token in self.token_pattern.findall(text.lower())
            if token not in self.stop_words
        )
        folds = len(self.intercepts)
        sums = [0.0] * folds
        norm = 0.0
        for token, tf in counts.items():
            entry = self.terms.get(token)
            if entry is None:
                continue
            norm += (tf * entry[0]) ** 2
            for k in range(folds):
                sums[k] += tf * entry[k + 1]
        norm = math.sqrt(norm) or 1.0
        total = 0.0
        for k, ((a, b), intercept) in enumerate(zip(self.sigmoids, self.intercepts, strict=True)):
            decision = sums[k] / norm + intercept
            total += 1.0 / (1.0 + math.exp(a * decision + b))
        return min(total / folds, 1.0)


def model_path() -> Path:
    """``TOWNHALL_MODEL_DIR`` (default: ``TOWNHALL_VAR_DIR/models``)/<package>-<version>.json."""
    version = metadata.version(PACKAGE)
    folder = env.get("MODEL_DIR")
    return (Path(folder) if folder else env.var_dir() / "models") / f"{PACKAGE}-{version}.json"


_lock = threading.Lock()
_model: CompiledModel | None = None


def model() -> CompiledModel:
    """The compiled model, compiled first if this version of the package has no table yet."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                path = model_path()
                if not path.exists():
                    _compile_in_child(path)
                _model = load(path)
    return _model


def score(text: str) -> float:
    return model().score(text)


def load(path: Path) -> CompiledModel:
    data = json.loads(path.read_text("utf-8"))
    return CompiledModel(
        token_pattern=re.compile(data["token_pattern"]),
        stop_words=frozenset(data["stop_words"]),
        terms={term: tuple(values) for term, values in data["terms"].items()},
        intercepts=tuple(data["intercepts"]),
        sigmoids=tuple((a, b) for a, b in data["sigmoids"]),
    )


def _compile_in_child(path: Path) -> None:
    logger.info("Compiling the toxicity model into %s (once per package version)", path)
    result = subprocess.run(  # noqa: S603 (this interpreter, this module)
        [sys.executable, "-m", "townhall.moderation.toxicity", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"Compiling the toxicity model failed:\n{result.stderr[-2000:]}")


def compile_table() -> dict:
    """The library's model as one table. Imports scikit-learn: run it in a child process."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's version-mismatch notes on unpickling
        from profanity_check import profanity_check as library

    vectorizer, calibrated = library.vectorizer, library.model
    params = vectorizer.get_params()
    expected = {
        "analyzer": "word",
        "lowercase": True,
        "ngram_range": (1, 1),
        "norm": "l2",
        "use_idf": True,
        "sublinear_tf": False,
        "binary": False,
        "strip_accents": None,
        "preprocessor": None,
        "tokenizer": None,
    }
    differs = {key: params[key] for key, value in expected.items() if params[key] != value}
    if differs or calibrated.method != "sigmoid" or len(calibrated.classes_) != 2:
        raise RuntimeError(
            f"This alt-profanity-check model is not the kind compiled here: {differs}"
        )
    folds = calibrated.calibrated_classifiers_
    weights = [fold.estimator.coef_.ravel() for fold in folds]
    idf = vectorizer.idf_
    terms = {
        term: [float(idf[index])] + [float(idf[index] * w[index]) for w in weights]
        for term, index in vectorizer.vocabulary_.items()
    }
    return {
        "package": PACKAGE,
        "version": metadata.version(PACKAGE),
        "token_pattern": params["token_pattern"],
        "stop_words": sorted(vectorizer.get_stop_words() or ()),
        "terms": terms,
        "intercepts": [float(fold.estimator.intercept_[0]) for fold in folds],
        "sigmoids": [
            [float(fold.calibrators[0].a_), float(fold.calibrators[0].b_)] for fold in folds
        ],
    }


def write_table(path: Path) -> None:
    """Writes the table atomically (a reader never sees half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(compile_table(), separators=(",", ":")), "utf-8")
    temporary.replace(path)


if __name__ == "__main__":
    write_table(Path(sys.argv[1]))
