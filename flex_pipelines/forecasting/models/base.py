"""The model interface and registry: a data engineer adds a model with one class.

Subclass :class:`ForecastModel` (or :class:`PointModel` for a model that predicts one value per
event), give it a ``name`` and it is registered::

    class MyModel(PointModel):
        name = "my-model"
        features = FeatureSpec(daily_lags=(1,), weekly_lags=(1,))

        def fit_point(self, train: DesignMatrix, ctx: FitContext) -> None:
            self.offset = float(np.nanmean(train.y - train.column("lag_day_1")))

        def predict_point(self, test: DesignMatrix, ctx: FitContext) -> np.ndarray:
            return test.column("lag_day_1") + self.offset

``fit`` receives only samples built from data known at the viewpoint (see
:mod:`~flex_pipelines.forecasting.features`); ``predict`` returns one column per requested
quantile. The cycle runner sorts quantile columns, so forecasts never cross.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import numpy as np

from flex_pipelines.forecasting.errors import ForecastingError, UnknownModelError
from flex_pipelines.forecasting.features import DesignMatrix, FeatureSpec
from flex_pipelines.forecasting.grid import Grid
from flex_pipelines.units import UnitError

__all__ = [
    "FitContext",
    "ForecastModel",
    "PointModel",
    "MODEL_REGISTRY",
    "get_model",
    "list_models",
    "sort_quantiles",
]

MODEL_REGISTRY: dict[str, type[ForecastModel]] = {}


@dataclass
class FitContext:
    """What a model may know besides its design matrix: the as-of grid and the viewpoint."""

    grid: Grid
    viewpoint_us: int
    unit: str
    train_period: timedelta


@dataclass(frozen=True)
class ParamKind:
    """The kind of value a numeric model parameter takes: ``"int"``, ``"number"`` or ``"ints"``
    (a list of integers), within ``minimum``–``maximum`` (each item, for a list); ``nullable``:
    null (None) is allowed too (the model then fits or defaults it)."""

    kind: str
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False
    #: a list holds at least this many items
    min_items: int = 1

    def check(self, model: str, key: str, value: object) -> None:
        """Raise :class:`ForecastingError` naming model, parameter and value if it is not one."""
        if value is None and self.nullable:
            return
        items = value if self.kind == "ints" and isinstance(value, list | tuple) else [value]
        whole = self.kind in ("int", "ints")
        listed = isinstance(value, list | tuple) and len(value) >= self.min_items
        ok = (self.kind != "ints" or listed) and all(
            isinstance(x, int | float)
            and not isinstance(x, bool)
            and np.isfinite(x)
            and (not whole or float(x).is_integer())
            and (self.minimum is None or x >= self.minimum)
            and (self.maximum is None or x <= self.maximum)
            for x in items
        )
        if not ok:
            what = {
                "int": "an integer",
                "number": "a number",
                "ints": "a non-empty list of integers",
            }
            lo, hi = self.minimum, self.maximum
            bound = (
                f" in [{lo:g}, {hi:g}]"
                if lo is not None and hi is not None
                else f" ≥ {lo:g}"
                if lo is not None
                else ""
            )
            bound += " or null" if self.nullable else ""
            raise ForecastingError(
                f"model {model!r} parameter {key}={value!r}: expected {what[self.kind]}{bound}"
            )


class ForecastModel(ABC):
    """Base class: set ``name`` (registry key), ``version``, ``features``; implement fit/predict."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    description: ClassVar[str] = ""
    features: ClassVar[FeatureSpec] = FeatureSpec()
    #: extra history (beyond lags and horizon) the model needs, e.g. two seasons for ETS
    min_extra_history: ClassVar[timedelta] = timedelta(0)
    #: the parameters the model reads (``--model-param``); another name is refused
    parameters: ClassVar[frozenset[str]] = frozenset()
    #: the kind of value of those parameters that are numbers (checked by :func:`get_model`)
    parameter_kinds: ClassVar[dict[str, ParamKind]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        undeclared = set(cls.parameter_kinds) - cls.parameters
        if undeclared:
            raise TypeError(f"{cls.__name__}: parameter_kinds of undeclared {sorted(undeclared)}")
        name = cls.__dict__.get("name")
        if name:
            MODEL_REGISTRY[name] = cls

    def __init__(self, **params: Any) -> None:
        for key, kind in self.parameter_kinds.items():
            if key in params:
                kind.check(self.name, key, params[key])
        self.params = params

    def supports_unit(self, unit: str) -> bool:
        """Units this model can forecast: by default any known physical unit (not a.u.)."""
        if not unit.strip():
            return True
        return unit.strip() != "a.u." and _parses(unit)

    def unit_hint(self) -> str:
        return "any physical unit (MW, kW, EUR/MWh, W/m², °C, %…)"

    def feature_spec(self, holiday_country: str | None) -> FeatureSpec:
        from dataclasses import replace

        return replace(self.features, holiday_country=holiday_country)

    @abstractmethod
    def fit(self, train: DesignMatrix, ctx: FitContext) -> None: ...

    @abstractmethod
    def predict(
        self, test: DesignMatrix, ctx: FitContext, quantiles: Sequence[float]
    ) -> np.ndarray: ...


def _parses(unit: str) -> bool:
    from flex_pipelines.units import _unit  # the shared pint parser

    try:
        _unit(unit)
    except UnitError:
        return False
    return True


class PointModel(ForecastModel):
    """A model that predicts the median; other quantiles come from its training residuals.

    The residual quantiles are in-sample, so for flexible models the spread is too narrow;
    models with a native quantile loss (``hgb``) override :meth:`predict` instead.
    """

    _residuals: np.ndarray

    @abstractmethod
    def fit_point(self, train: DesignMatrix, ctx: FitContext) -> None: ...

    @abstractmethod
    def predict_point(self, test: DesignMatrix, ctx: FitContext) -> np.ndarray: ...

    def fit(self, train: DesignMatrix, ctx: FitContext) -> None:
        self.fit_point(train, ctx)
        fitted = self.predict_point(train, ctx)
        res = train.y - fitted
        self._residuals = res[np.isfinite(res)]

    def predict(
        self, test: DesignMatrix, ctx: FitContext, quantiles: Sequence[float]
    ) -> np.ndarray:
        point = self.predict_point(test, ctx)
        out = np.empty((len(point), len(quantiles)))
        res = getattr(self, "_residuals", np.zeros(1))
        if res.size == 0:
            res = np.zeros(1)
        med = float(np.median(res))
        for k, q in enumerate(quantiles):
            out[:, k] = point if q == 0.5 else point + float(np.quantile(res, q)) - med
        return out


def sort_quantiles(pred: np.ndarray) -> np.ndarray:
    """Make quantile forecasts non-crossing (columns ordered by increasing probability)."""
    return np.sort(pred, axis=1)


def model_class(name: str) -> type[ForecastModel]:
    """The model class registered as ``name`` (an error lists the known names)."""
    _load_builtin_models()
    try:
        return MODEL_REGISTRY[name]
    except KeyError:
        raise UnknownModelError(
            f"model {name!r} is not registered; known models: {', '.join(list_models())}"
        ) from None


def get_model(name: str, **params: Any) -> ForecastModel:
    """A fresh model instance by registry name (an error lists the known names)."""
    cls = model_class(name)
    unknown = sorted(set(params) - cls.parameters)
    if unknown:
        known = ", ".join(sorted(cls.parameters)) or "none"
        raise ForecastingError(
            f"model {name!r} has no parameter {', '.join(map(repr, unknown))}; its parameters: "
            f"{known}"
        )
    return cls(**params)  # the constructor checks the values of ``parameter_kinds``


def list_models() -> list[str]:
    _load_builtin_models()
    return sorted(MODEL_REGISTRY)


def _load_builtin_models() -> None:
    from flex_pipelines.forecasting import models  # noqa: F401  (registers the built-ins)
