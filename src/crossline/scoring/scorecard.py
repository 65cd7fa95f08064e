"""Scorecard serving from an exported points table, without optbinning.

optbinning's own ``Scorecard.score()`` costs ~20 ms a row (pandas on every call);
the real-time path needs microseconds and EOD needs millions of rows a second. So
training (``train.py``) exports a JSON points table and this module scores from
it: ``bisect`` for one borrower, Polars expressions for a frame. Both paths give
the same score, band and reasons: points are held to a millionth and summed as
integer millionths, so the order of summation cannot change a result.

The table reproduces optbinning's ``score()``: numeric bins are half-open
``[lower, upper)`` intervals (``np.digitize(..., right=False)``); a missing value
(None, null, NaN) takes the missing bin's points; a category not seen in training
takes ``unknown_points``, which the exporter sets to the missing bin's points
because optbinning's ``indices`` transform maps an unknown category to -1, the
last row of the variable's table, ``Missing``.
"""

from __future__ import annotations

import functools
import json
import math
import numbers
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import polars as pl
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

FORMAT = "crossline-scorecard/1"
MIN_SCORE: Final = 350
MAX_SCORE: Final = 950
MAX_REASONS = 4
DEFAULT_SCORECARD = "default_scorecard.json"

_MICRO = 1_000_000
_BANDS: tuple[tuple[int, str], ...] = (
    (700, "excellent"),
    (650, "very_good"),
    (600, "good"),
    (550, "fair"),
    (MIN_SCORE, "poor"),
)
_TEXT_DTYPES = (pl.String, pl.Categorical, pl.Enum, pl.Null)


class ScorecardError(ValueError):
    """A scorecard file, or the features given to it, is not what serving expects."""


def _to_millionth(value: float) -> float:
    return round(value, 6)


# Points beyond ±100,000 cannot come from a 350–950 scale; the bound also keeps the
# integer reason keys of ``score_frame`` far inside int64.
Points = Annotated[
    float,
    Field(allow_inf_nan=False, ge=-100_000, le=100_000),
    AfterValidator(_to_millionth),
]


def _micro(points: float) -> int:
    return round(points * _MICRO)


def factor_offset(pdo: float, odds: float, anchor_score: float) -> tuple[float, float]:
    """DOMAIN.md §4: Factor = PDO / ln 2, Offset = S₀ − Factor·ln(Odds₀), to a millionth."""
    factor = pdo / math.log(2)
    return round(factor, 6), round(anchor_score - factor * math.log(odds), 6)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Scaling(_Frozen):
    """PDO scaling, recorded so a reader can turn a score back into odds.

    score = offset + factor · ln(good:bad odds); ``odds`` are the good:bad odds at
    ``anchor_score`` and every ``pdo`` points double them.
    """

    pdo: float = Field(gt=0, allow_inf_nan=False)
    odds: float = Field(gt=0, allow_inf_nan=False)
    anchor_score: float = Field(allow_inf_nan=False)
    factor: float = Field(allow_inf_nan=False)
    offset: float = Field(allow_inf_nan=False)
    min_score: Literal[350] = MIN_SCORE
    max_score: Literal[950] = MAX_SCORE

    @classmethod
    def from_pdo(cls, pdo: float, odds: float, anchor_score: float) -> Scaling:
        factor, offset = factor_offset(pdo, odds, anchor_score)
        return cls(pdo=pdo, odds=odds, anchor_score=anchor_score, factor=factor, offset=offset)

    @model_validator(mode="after")
    def _factor_and_offset_follow(self) -> Scaling:
        factor, offset = factor_offset(self.pdo, self.odds, self.anchor_score)
        for field, expected, got in (
            ("factor", factor, self.factor),
            ("offset", offset, self.offset),
        ):
            if abs(got - expected) > 1e-5:
                raise ValueError(
                    f"{field}: expected {expected} from pdo, odds and anchor_score, got {got}"
                )
        return self


class NumericBin(_Frozen):
    """Values in ``[lower, upper)``; ``None`` stands for −∞ / +∞."""

    lower: float | None = Field(allow_inf_nan=False)
    upper: float | None = Field(allow_inf_nan=False)
    points: Points


class CategoricalBin(_Frozen):
    categories: tuple[str, ...] = Field(min_length=1)
    points: Points


class _Characteristic(_Frozen):
    name: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    missing_points: Points
    max_points: Points


def _check_max(characteristic: _Characteristic, every: list[float]) -> None:
    """``max_points`` is stored for readers of the file; it must not disagree with the bins."""
    best = max(every)
    if characteristic.max_points != best:
        raise ValueError(
            f"max_points: expected {best}, the most points {characteristic.name!r} can give, "
            f"got {characteristic.max_points}"
        )


class NumericCharacteristic(_Characteristic):
    kind: Literal["numeric"]
    bins: tuple[NumericBin, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _contiguous(self) -> NumericCharacteristic:
        if self.bins[0].lower is not None or self.bins[-1].upper is not None:
            raise ValueError(
                f"bins of {self.name!r}: the first lower and the last upper must be null "
                "(unbounded) so that every number falls in a bin"
            )
        for left, right in zip(self.bins, self.bins[1:], strict=False):
            if left.upper is None or right.lower != left.upper:
                raise ValueError(
                    f"bins of {self.name!r}: expected each bin to start where the previous "
                    f"ends, got upper {left.upper} then lower {right.lower}"
                )
            if right.upper is not None and right.upper <= right.lower:
                raise ValueError(
                    f"bins of {self.name!r}: expected increasing edges, got "
                    f"[{right.lower}, {right.upper})"
                )
        _check_max(self, [b.points for b in self.bins] + [self.missing_points])
        return self


class CategoricalCharacteristic(_Characteristic):
    kind: Literal["categorical"]
    bins: tuple[CategoricalBin, ...] = Field(min_length=1)
    unknown_points: Points

    @model_validator(mode="after")
    def _disjoint(self) -> CategoricalCharacteristic:
        seen: set[str] = set()
        for group in self.bins:
            repeated = seen.intersection(group.categories)
            if repeated:
                raise ValueError(
                    f"bins of {self.name!r}: category {sorted(repeated)[0]!r} is in two bins"
                )
            seen.update(group.categories)
        _check_max(self, [b.points for b in self.bins] + [self.missing_points, self.unknown_points])
        return self


Characteristic = Annotated[
    NumericCharacteristic | CategoricalCharacteristic, Field(discriminator="kind")
]


@dataclass(frozen=True, slots=True)
class _NumericTable:
    """One numeric characteristic in integer millionths, for both serving paths."""

    name: str
    reason: str
    splits: tuple[float, ...]
    bins: tuple[int, ...]
    missing: int
    best: int

    def points(self, value: object) -> int:
        if value is None:
            return self.missing
        # int and float first: a concrete check is quicker than the numbers.Real ABC.
        if isinstance(value, bool) or not isinstance(value, (int, float, numbers.Real)):
            raise ScorecardError(f"{self.name}: expected a number or None, got {value!r}")
        number = float(value)
        if math.isnan(number):
            return self.missing
        return self.bins[bisect_right(self.splits, number)]

    def accepts(self, dtype: pl.DataType) -> bool:
        return dtype.is_numeric() or dtype == pl.Null

    def expr(self) -> pl.Expr:
        """The first true condition wins, as in ``points``: missing, then each upper edge."""
        value = pl.col(self.name).cast(pl.Float64).fill_nan(None)
        return pl.coalesce(
            pl.when(value.is_null()).then(pl.lit(self.missing, pl.Int64)),
            *(
                pl.when(value < split).then(pl.lit(points, pl.Int64))
                for split, points in zip(self.splits, self.bins, strict=False)
            ),
            pl.lit(self.bins[-1], pl.Int64),
        )


@dataclass(frozen=True, slots=True)
class _CategoricalTable:
    """One categorical characteristic in integer millionths, for both serving paths."""

    name: str
    reason: str
    categories: Mapping[str, int]
    missing: int
    unknown: int
    best: int

    def points(self, value: object) -> int:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self.missing
        if not isinstance(value, str):
            raise ScorecardError(f"{self.name}: expected text (a category) or None, got {value!r}")
        return self.categories.get(value, self.unknown)

    def accepts(self, dtype: pl.DataType) -> bool:
        return dtype.base_type() in _TEXT_DTYPES

    def expr(self) -> pl.Expr:
        value = pl.col(self.name).cast(pl.String)
        known = value.replace_strict(
            dict(self.categories), default=pl.lit(self.unknown, pl.Int64), return_dtype=pl.Int64
        )
        return pl.when(value.is_null()).then(pl.lit(self.missing, pl.Int64)).otherwise(known)


def _table(characteristic: NumericCharacteristic | CategoricalCharacteristic) -> _Table:
    if isinstance(characteristic, NumericCharacteristic):
        return _NumericTable(
            name=characteristic.name,
            reason=characteristic.reason,
            splits=tuple(b.lower for b in characteristic.bins[1:] if b.lower is not None),
            bins=tuple(_micro(b.points) for b in characteristic.bins),
            missing=_micro(characteristic.missing_points),
            best=_micro(characteristic.max_points),
        )
    return _CategoricalTable(
        name=characteristic.name,
        reason=characteristic.reason,
        categories={c: _micro(b.points) for b in characteristic.bins for c in b.categories},
        missing=_micro(characteristic.missing_points),
        unknown=_micro(characteristic.unknown_points),
        best=_micro(characteristic.max_points),
    )


_Table = _NumericTable | _CategoricalTable


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'scorecard'}: {error['msg']}"
        for error in exc.errors()
    )


class Scorecard(_Frozen):
    """A versioned points table: the scorecard as it is served."""

    format: Literal["crossline-scorecard/1"]
    version: str = Field(min_length=1)
    scaling: Scaling
    characteristics: tuple[Characteristic, ...] = Field(min_length=1)
    _tables: tuple[_Table, ...] = PrivateAttr()

    @model_validator(mode="after")
    def _unique_names(self) -> Scorecard:
        names = [c.name for c in self.characteristics]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"characteristics: {repeated[0]!r} appears more than once")
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._tables = tuple(_table(c) for c in self.characteristics)

    @property
    def feature_names(self) -> tuple[str, ...]:
        """The features a borrower needs to be scored, in the card's order."""
        return tuple(c.name for c in self.characteristics)

    @classmethod
    def from_json(cls, text: str | bytes) -> Scorecard:
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise ScorecardError(f"scorecard: {_describe(exc)}") from exc

    @classmethod
    def load(cls, path: str | Path) -> Scorecard:
        try:
            text = Path(path).read_bytes()
        except OSError as exc:
            raise ScorecardError(f"scorecard {path}: {exc.strerror}") from exc
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            raise ScorecardError(f"scorecard {path}: {_describe(exc)}") from exc

    def to_json(self) -> str:
        """Sorted keys and millionth-rounded floats: the same card is the same bytes."""
        data = self.model_dump(mode="json")
        return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


@lru_cache(maxsize=1)
def default_scorecard() -> Scorecard:
    """The shipped model (``make model`` rebuilds it from the synthetic history)."""
    text = resources.files("crossline.scoring").joinpath(DEFAULT_SCORECARD).read_bytes()
    return Scorecard.from_json(text)


@dataclass(frozen=True, slots=True)
class Reason:
    """An adverse reason: ``code`` is the characteristic's name, ``text`` what to tell."""

    code: str
    text: str
    points_below_max: float


@dataclass(frozen=True, slots=True)
class ScoreResult:
    score: int
    band: str
    points: float
    reasons: tuple[Reason, ...]


def band(score: int) -> str:
    """The DOMAIN.md §4 band of a score on the 350–950 scale."""
    if not MIN_SCORE <= score <= MAX_SCORE:
        raise ValueError(f"score: expected {MIN_SCORE}–{MAX_SCORE}, got {score}")
    return next(name for floor, name in _BANDS if score >= floor)


def _final_score(total_micro: int) -> int:
    """Half-up to a whole point, then clipped to the scale."""
    return min(MAX_SCORE, max(MIN_SCORE, (total_micro + _MICRO // 2) // _MICRO))


def score_row(card: Scorecard, features: Mapping[str, object]) -> ScoreResult:
    """Score one borrower (the real-time path): a ``bisect`` or dict lookup per feature."""
    tables = card._tables
    total = 0
    below: list[tuple[int, int]] = []
    for index, table in enumerate(tables):
        try:
            value = features[table.name]
        except KeyError:
            raise ScorecardError(
                f"features: missing {table.name!r}, needed by scorecard {card.version}"
            ) from None
        points = table.points(value)
        total += points
        if points < table.best:
            below.append((points - table.best, index))
    below.sort()
    reasons = tuple(
        Reason(tables[index].name, tables[index].reason, -gap / _MICRO)
        for gap, index in below[:MAX_REASONS]
    )
    score = _final_score(total)
    return ScoreResult(score=score, band=band(score), points=total / _MICRO, reasons=reasons)


def _check_frame(card: Scorecard, features: pl.DataFrame) -> None:
    schema = features.schema
    absent = [t.name for t in card._tables if t.name not in schema]
    if absent:
        raise ScorecardError(
            f"features: missing column(s) {', '.join(map(repr, absent))}, "
            f"needed by scorecard {card.version}"
        )
    for table in card._tables:
        if not table.accepts(schema[table.name]):
            expected = "numbers" if isinstance(table, _NumericTable) else "text"
            raise ScorecardError(
                f"features: column {table.name!r} must hold {expected}, got {schema[table.name]}"
            )


def _points(card: Scorecard, features: pl.DataFrame) -> pl.LazyFrame:
    """One Int64 column of millionths per characteristic, named p0, p1, …"""
    _check_frame(card, features)
    return features.lazy().select(_serving(card).points)


def points_frame(card: Scorecard, features: pl.DataFrame) -> pl.DataFrame:
    """The points each row earns on each characteristic (monitoring, parity checks).

    The millionths are divided in numpy, which divides exactly; Polars multiplies by
    the reciprocal and can miss the card's own value by a unit in the last place.
    """
    micro = _points(card, features).collect()
    return pl.DataFrame(
        {
            table.name: micro[f"p{index}"].to_numpy() / _MICRO
            for index, table in enumerate(card._tables)
        },
        schema={table.name: pl.Float64 for table in card._tables},
    )


def _ranked_reasons(card: Scorecard) -> list[pl.Expr]:
    """Columns r0…r3: each row's characteristics ranked as reasons, without sorting rows.

    Each characteristic gets one integer key, gap · n + (n − 1 − index): keys are
    distinct within a row, larger for a larger gap and, at equal gaps, for the
    earlier characteristic. The k-th reason is the largest key below the (k−1)-th;
    a key below n means a zero gap, which is no reason.
    """
    n = len(card._tables)
    keys = [
        (pl.lit(table.best, pl.Int64) - pl.col(f"p{index}")) * n + (n - 1 - index)
        for index, table in enumerate(card._tables)
    ]
    ranked = [pl.max_horizontal(keys).alias("r0")]
    for k in range(1, min(MAX_REASONS, n)):
        previous = pl.col(f"r{k - 1}")
        ranked.append(
            pl.max_horizontal([pl.when(key < previous).then(key) for key in keys]).alias(f"r{k}")
        )
    return ranked


@dataclass(frozen=True, slots=True)
class _Serving:
    """A card's Polars expressions, built once: building them costs more than running
    them on the handful of rows an event or a partition of one borrower scores."""

    points: tuple[pl.Expr, ...]
    ranked: tuple[pl.Expr, ...]
    scored: tuple[pl.Expr, ...]
    named: tuple[pl.Expr, ...]


@functools.lru_cache(maxsize=8)
def _serving(card: Scorecard) -> _Serving:
    n = len(card._tables)
    names = {n - 1 - index: table.name for index, table in enumerate(card._tables)}
    total = pl.sum_horizontal(f"p{index}" for index in range(n))
    score = ((total + _MICRO // 2) // _MICRO).clip(MIN_SCORE, MAX_SCORE).cast(pl.Int32)
    banded = pl.coalesce(
        pl.when(pl.col("score") >= floor).then(pl.lit(name)) for floor, name in _BANDS
    )
    ranked = _ranked_reasons(card)
    codes = [pl.when(pl.col(f"r{k}") >= n).then(pl.col(f"r{k}") % n) for k in range(len(ranked))]
    return _Serving(
        points=tuple(table.expr().alias(f"p{index}") for index, table in enumerate(card._tables)),
        ranked=tuple(ranked),
        scored=(
            score.alias("score"),
            pl.concat_arr(codes).arr.to_list().list.drop_nulls().alias("reasons"),
        ),
        named=(
            pl.col("score"),
            banded.alias("band"),
            pl.col("reasons").list.eval(pl.element().replace_strict(names, return_dtype=pl.String)),
        ),
    )


def score_frame(card: Scorecard, features: pl.DataFrame) -> pl.DataFrame:
    """Score every row (the batch path): adds ``score`` (Int32), ``band`` and ``reasons``.

    ``reasons`` lists up to four characteristic names, most points below their
    maximum first, ties in the card's order; a characteristic at its maximum is
    never a reason. The list is built from integer codes and named last, because
    Polars assembles a list of integers several times faster than one of strings.
    """
    serving = _serving(card)
    lazy = _points(card, features)
    for column in serving.ranked:
        lazy = lazy.with_columns(column)
    scored = lazy.select(serving.scored).select(serving.named).collect()
    return features.with_columns(scored.get_columns())


SMALL_FRAME = 64
"""Below this many rows the per-row lookup beats the vectorised plan, whose fixed
cost (about 5 ms here) does not depend on the row count."""


def score_any(card: Scorecard, features: pl.DataFrame) -> pl.DataFrame:
    """``score_frame``'s result by whichever of the two equal paths is faster for the size:
    an event re-scoring one borrower should not pay for a plan built for a million."""
    if features.height > SMALL_FRAME:
        return score_frame(card, features)
    _check_frame(card, features)
    results = [
        score_row(card, row) for row in features.select(card.feature_names).iter_rows(named=True)
    ]
    return features.with_columns(
        pl.Series("score", [r.score for r in results], pl.Int32),
        pl.Series("band", [r.band for r in results], pl.String),
        pl.Series("reasons", [[x.code for x in r.reasons] for r in results], pl.List(pl.String)),
    )
