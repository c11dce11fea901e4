"""Built-in forecasting models; importing this package registers them (see ``base``)."""

from flex_pipelines.forecasting.models.base import (
    MODEL_REGISTRY,
    FitContext,
    ForecastModel,
    PointModel,
    get_model,
    list_models,
    sort_quantiles,
)
from flex_pipelines.forecasting.models.baseline import (
    RecentQuantile,
    SeasonalNaiveDay,
    SeasonalNaiveWeek,
)
from flex_pipelines.forecasting.models.boosting import HistGradientBoosting
from flex_pipelines.forecasting.models.linear import (
    LassoLags,
    Lear,
    LearEnsemble,
    RidgeLags,
    RidgeProfiles,
)
from flex_pipelines.forecasting.models.mean import ModelMean
from flex_pipelines.forecasting.models.solar import ClearSkyIndexQuantile
from flex_pipelines.forecasting.models.solar_reference import (
    ClearSkyCliper,
    ClearSkyIndexRegression,
)
from flex_pipelines.forecasting.models.statistical import ExponentialSmoothingModel, Sarimax

__all__ = [
    "MODEL_REGISTRY",
    "FitContext",
    "ForecastModel",
    "PointModel",
    "get_model",
    "list_models",
    "sort_quantiles",
    "RecentQuantile",
    "ClearSkyIndexQuantile",
    "ClearSkyCliper",
    "ClearSkyIndexRegression",
    "SeasonalNaiveDay",
    "SeasonalNaiveWeek",
    "HistGradientBoosting",
    "Lear",
    "LearEnsemble",
    "LassoLags",
    "ModelMean",
    "RidgeLags",
    "RidgeProfiles",
    "ExponentialSmoothingModel",
    "Sarimax",
]
