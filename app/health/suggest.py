"""Suggested health model weights (SPEC §10): a time-split L2 logistic regression of the label on component scores.

The regression is of *staying* (not churning within the horizon) on the component scores, so a component whose
higher score goes with fewer churns gets a positive coefficient, as a health weight should be. The health score
is the weighted mean of component scores, so weights proportional to the coefficients make it (with every
component present) a rising function of the fitted log-odds of staying. Nothing is stored.
"""

from datetime import date

import numpy as np
from sqlalchemy.orm import Session

from app import formulas
from app.errors import Unprocessable
from app.health import backtest
from app.health.backtest_schemas import BacktestRange, SuggestedWeight, SuggestOut
from app.health.schemas import BandsIn, ComponentIn, HealthModelIn

FIT_SHARE = 7  # tenths of the dates, oldest first, that the regression is fitted on; the rest test it
HUNDREDTHS = 10_000  # the weights add up to 100.00


def _refuse(detail: str) -> Unprocessable:
    return Unprocessable(detail, [{"loc": ["query"], "msg": detail, "type": "value_error"}])


def _split(pairs: backtest.Pairs) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the fit pairs (the older 70 % of the dates with pairs) and the test pairs (the newer 30 %)."""
    used = np.unique(pairs.labels.day)
    if len(used) < 2:
        raise _refuse("A time split needs pairs on at least two dates; widen the range.")
    cut = min(len(used) - 1, max(1, (FIT_SHARE * len(used) + 5) // 10))
    fit = np.isin(pairs.labels.day, used[:cut])
    return fit, ~fit


def _features(pairs: backtest.Pairs, components: list[ComponentIn]) -> np.ndarray:
    """The component scores of every pair, in the model's component order (NaN: no data)."""
    none = np.full(len(pairs.scores), np.nan)
    found = {name: pairs.parts[:, k] for k, name in enumerate(pairs.components)}
    columns = [found.get(c.name, none) for c in components]
    return np.column_stack(columns) if columns else np.empty((len(pairs.scores), 0))


def _coefficients(x: np.ndarray, stayed: np.ndarray) -> tuple[list[float | None], list[str | None]]:
    """Fit on the component scores (missing ones imputed with the component's mean over the fit pairs); components
    without data or without variation on the fit dates are left out, with the reason."""
    usable: list[int] = []
    why: list[str | None] = []
    for k in range(x.shape[1]):
        known = x[~np.isnan(x[:, k]), k]
        if not len(known):
            why.append("no data on the fit dates")
        elif np.ptp(known) == 0:
            why.append(f"every fit pair with data scored {known[0]:g}: nothing to learn from")
        else:
            why.append(None)
            usable.append(k)
    coefficients: list[float | None] = [None] * x.shape[1]
    if usable:
        from sklearn.linear_model import LogisticRegression  # noqa: PLC0415 - heavy import, only when fitting

        data = x[:, usable]
        data = np.where(np.isnan(data), np.nanmean(data, axis=0), data) / 100  # per 100 points
        model = LogisticRegression(C=1.0, max_iter=1_000).fit(data, stayed.astype(int))
        for k, coefficient in zip(usable, model.coef_[0], strict=True):
            coefficients[k] = float(coefficient)
    return coefficients, why


def _weights(coefficients: list[float | None], why: list[str | None]) -> tuple[list[float], list[str | None]]:
    """Weights ∝ the positive coefficients, in hundredths adding up to exactly 100 (largest remainder)."""
    positive = [c if c is not None and c > 0 else 0.0 for c in coefficients]
    shares = formulas.allocate_cents(HUNDREDTHS, [round(c * 1e9) for c in positive])
    reasons = list(why)
    for k, (coefficient, share) in enumerate(zip(coefficients, shares, strict=True)):
        if reasons[k] is None and coefficient is not None and coefficient <= 0:
            reasons[k] = (
                f"coefficient {coefficient:.4g} is not positive: on the fit dates a higher score did not go "
                "with fewer churns"
            )
        elif reasons[k] is None and share == 0:
            reasons[k] = "its share of the positive coefficients rounds to 0"
    return [share / 100 for share in shares], reasons


def _bands(current: np.ndarray, proposed: np.ndarray, fallback: BandsIn) -> tuple[BandsIn, str]:
    """Thresholds that keep each band's share of the fit pairs as the current model had it."""
    if not len(proposed):
        return fallback, "no fit pair has a proposed score: the current bands are kept"
    red_share, green_share = float(np.mean(current == "red")), float(np.mean(current == "green"))
    red = round(float(np.quantile(proposed, red_share)), 1)
    green = max(red, round(float(np.quantile(proposed, 1 - green_share)), 1))
    why = (
        f"red below {red:g} and green from {green:g} keep the shares of the fit pairs the current model had in red "
        f"({red_share:.1%}) and green ({green_share:.1%}), scored by the proposed weights"
    )
    return BandsIn(red_below=red, green_from=green), why


def _split_out(pairs: backtest.Pairs, at: np.ndarray) -> dict[str, object]:
    days = sorted(pairs.days[n] for n in np.unique(pairs.labels.day[at]))
    return {"first": days[0], "last": days[-1], "dates": len(days), "pairs": int(at.sum()),
            "churns": pairs.labels.churns(at)}  # fmt: skip


def suggest(session: Session, query: BacktestRange, *, today: date, min_churns: int) -> SuggestOut:
    """A proposed model: the current components re-weighted by a time-split logistic regression, new bands, and the
    test AUC of both side by side (SPEC §10)."""
    backtest.check_horizon(query.end, query.horizon_days, today=today, loc="query")
    pairs = backtest.labelled_scores(
        session, start=query.start, end=query.end, horizon_days=query.horizon_days, version=query.model_version
    )
    fit, test = _split(pairs)
    churned = pairs.labels.churned
    if pairs.labels.churns(fit) < min_churns or churned[fit].all():
        raise _refuse(
            f"The fit dates hold {pairs.labels.churns(fit)} churn movements and {int((~churned[fit]).sum())} retained "
            f"pairs; at least {min_churns} churns (CSROI_CHURN_MIN_CHURNS) and one retained pair are needed."
        )
    if churned[test].all() or not churned[test].any():
        raise _refuse("The test dates need both a churned and a retained pair to compare the models; widen the range.")
    current = backtest.model_for(session, query.end, version=query.model_version)
    components = list(current.model.components)
    x = _features(pairs, components)
    coefficients, why = _coefficients(x[fit], ~churned[fit])
    weights, reasons = _weights(coefficients, why)
    if not any(weights):
        raise _refuse("No component's score went with fewer churns on the fit dates: there is no weighting to propose.")
    keep = [k for k, w in enumerate(weights) if w > 0]
    proposed_scores = formulas.combine_scores(x[:, keep], [weights[k] for k in keep])
    scored_fit = fit & ~np.isnan(proposed_scores)
    bands, bands_why = _bands(pairs.bands[scored_fit], proposed_scores[scored_fit], current.model.bands)
    both = test & ~np.isnan(proposed_scores)
    proposed = [components[k].model_copy(update={"weight": weights[k]}) for k in keep]
    rows = [
        SuggestedWeight(name=c.name, current_weight=c.weight, coefficient=coefficients[k], weight=weights[k], why=why)
        for k, (c, why) in enumerate(zip(components, reasons, strict=True))
    ]
    return SuggestOut.model_validate(
        {
            "current_version": current.version,
            "model": HealthModelIn(components=proposed, bands=bands),
            "weights": rows,
            "bands_why": bands_why,
            "fit": _split_out(pairs, fit),
            "test": _split_out(pairs, test),
            "test_pairs": int(both.sum()),
            "current_auc": backtest.decimal(formulas.roc_auc(pairs.scores[both], churned[both])),
            "proposed_auc": backtest.decimal(formulas.roc_auc(proposed_scores[both], churned[both])),
        }
    )
