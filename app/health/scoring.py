"""Pure health-score arithmetic (SPEC §6): component scores, weighted mean, coverage, bands."""

from collections.abc import Sequence
from dataclasses import dataclass


def component_score(raw: float, *, bad: float, good: float) -> float:
    """SPEC §6: 100 * (raw - bad) / (good - bad), clamped to 0..100; bad > good means lower is better."""
    return min(100.0, max(0.0, 100.0 * (raw - bad) / (good - bad)))


@dataclass(frozen=True)
class Combined:
    """A weighted mean of component scores: the score, the weight share with data, each one's points."""

    score: float | None
    coverage: float
    contributions: list[float | None]


def combine(parts: Sequence[tuple[float, float | None]]) -> Combined:
    """SPEC §6: weighted mean of the (weight, score) parts that have a score; coverage = their weight share.

    Weights are renormalised over the components with data, so a missing survey neither drags the score to
    0 nor lifts it; `coverage` says how much of the model the score stands on. Each contribution is the
    component's points in the final score, so they add up to it.
    """
    total = sum(weight for weight, _ in parts)
    with_data = sum(weight for weight, score in parts if score is not None)
    if with_data == 0:
        return Combined(None, 0.0, [None for _ in parts])
    contributions = [None if score is None else weight * score / with_data for weight, score in parts]
    score = sum(c for c in contributions if c is not None)
    return Combined(min(100.0, max(0.0, score)), with_data / total, contributions)


def band_of(score: float | None, *, red_below: float, green_from: float) -> str | None:
    """SPEC §6 bands: red below `red_below`, green from `green_from`, yellow between; None without a score."""
    if score is None:
        return None
    if score < red_below:
        return "red"
    return "green" if score >= green_from else "yellow"
