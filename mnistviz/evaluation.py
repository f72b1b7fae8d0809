"""Scoring a model on labelled digits: accuracy, confusion matrix, per-class accuracy, mistakes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import probabilities


@dataclass(frozen=True)
class Evaluation:
    n: int
    accuracy: float
    predictions: np.ndarray  # (N,) predicted digits
    confidence: np.ndarray  # (N,) probability of the predicted digit
    confusion: np.ndarray  # (10, 10) rows = true digit, columns = predicted digit
    per_class: np.ndarray  # (10,) accuracy per true digit (nan where a digit is absent)
    loss: float  # mean cross-entropy of the true labels

    def wrong(self, y: np.ndarray) -> np.ndarray:
        """Indices of misclassified digits."""
        return np.flatnonzero(self.predictions != np.asarray(y).reshape(-1))

    def to_json(self) -> dict:
        return {"n": self.n, "accuracy": round(self.accuracy, 6), "loss": round(self.loss, 6),
                "per_class": [None if np.isnan(v) else round(float(v), 6) for v in self.per_class],
                "confusion": self.confusion.tolist()}


def evaluate_probabilities(proba: np.ndarray, y: np.ndarray) -> Evaluation:
    """Score precomputed probabilities ``(N, 10)`` against labels ``(N,)``."""
    y = np.asarray(y).astype(np.int64).reshape(-1)
    pred = proba.argmax(axis=1)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (y, pred), 1)
    totals = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(totals > 0, np.diag(confusion) / np.maximum(totals, 1), np.nan)
    p_true = proba[np.arange(len(y)), y] if len(y) else np.zeros(0)
    loss = float(-np.mean(np.log(np.clip(p_true, 1e-12, 1.0)))) if len(y) else float("nan")
    return Evaluation(len(y), float(np.mean(pred == y)) if len(y) else float("nan"), pred,
                      proba.max(axis=1) if len(y) else np.zeros(0), confusion, per_class, loss)


def evaluate(model, x: np.ndarray, y: np.ndarray) -> Evaluation:
    """Score ``model`` on images ``(N, 28, 28)`` (or ``(N, 784)``) with labels ``(N,)``."""
    return evaluate_probabilities(probabilities(model, x), y)
