"""Request bodies (pydantic), with FlexMeasures' field names; they make the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

Id = Annotated[int, Field(ge=1, le=2**53)]
Text = Annotated[str, Field(min_length=1, max_length=255)]
Json = str | dict[str, Any]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class AuthRequest(BaseModel):
    email: Annotated[str, Field(max_length=255)]
    password: Annotated[str, Field(max_length=1024)]


class SensorDataIn(_Lenient):
    """FlexMeasures' PostSensorDataSchema: values over [start, start + duration)."""

    values: list[float | None] | float = Field(description="Values; null for a missing value")
    start: Annotated[str, Field(max_length=64)] = Field(description="ISO 8601 with UTC offset")
    duration: Annotated[str, Field(max_length=64)] = Field(description="ISO 8601 duration")
    unit: Annotated[str, Field(max_length=64)]
    prior: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="Belief time (ISO 8601 with offset)"
    )
    belief_time: Annotated[str, Field(max_length=64)] | None = Field(None, alias="belief-time")
    horizon: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="Belief horizon before the knowledge time (ISO 8601 duration)"
    )
    type: str | None = None


class DeleteDataIn(_Strict):
    source: Id | None = None
    start: Annotated[str, Field(max_length=64)] | None = None
    until: Annotated[str, Field(max_length=64)] | None = None


class SensorIn(_Strict):
    name: Text
    event_resolution: Annotated[str, Field(max_length=64)]
    unit: Annotated[str, Field(max_length=64)]
    generic_asset_id: Id
    timezone: Annotated[str, Field(max_length=64)] | None = None
    attributes: Json | None = None
    knowledge_horizon: dict[str, Any] | None = None


class SensorPatch(_Strict):
    name: Text | None = None
    unit: Annotated[str, Field(max_length=64)] | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    attributes: Json | None = None
    knowledge_horizon: dict[str, Any] | None = None


_Lat = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
_Lon = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]


class AssetIn(_Strict):
    name: Text
    account_id: Id | None = None
    latitude: _Lat | None = None
    longitude: _Lon | None = None
    generic_asset_type_id: Id | None = None
    generic_asset_type: Text | None = None
    parent_asset_id: Id | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    attributes: Json | None = None
    flex_context: Json | None = None
    flex_model: Json | None = None
    sensors_to_show: str | list[Any] | None = None


class AssetPatch(_Strict):
    name: Text | None = None
    latitude: _Lat | None = None
    longitude: _Lon | None = None
    generic_asset_type_id: Id | None = None
    parent_asset_id: Id | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    attributes: Json | None = None
    flex_context: Json | None = None
    flex_model: Json | None = None
    sensors_to_show: str | list[Any] | None = None
    sensors_to_show_as_kpis: str | list[Any] | None = None


class ScheduleTrigger(_Lenient):
    """FlexMeasures' trigger message: a window, a flex-model and a flex-context."""

    start: Annotated[str, Field(max_length=64)]
    duration: Annotated[str, Field(max_length=64)] = "PT48H"
    flex_model: dict[str, Any] | list[dict[str, Any]] | None = Field(None, alias="flex-model")
    flex_context: dict[str, Any] | None = Field(None, alias="flex-context")
    prior: Annotated[str, Field(max_length=64)] | None = None
    force_new_job_creation: bool = Field(False, alias="force-new-job-creation")


class ForecastConfig(_Lenient):
    """A forecast trigger's settings; each one not given comes from the sensor's ``forecast``
    attributes (docs/forecasting.md), then the library's defaults."""

    model: Annotated[str, Field(max_length=64)] | None = None
    regressors: list[Any] | None = None
    train_period: Annotated[str, Field(max_length=64)] | None = Field(None, alias="train-period")
    max_horizon: Annotated[str, Field(max_length=64)] | None = Field(None, alias="max-horizon")
    clear_sky: StrictBool | None = Field(
        None,
        alias="clear-sky",
        description="add the built-in clear-sky GHI of the site's location as a regressor",
    )
    label: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        None, description="names the run's forecaster source (its settings hash is appended)"
    )
    # any JSON here: the forecasting options' parser checks it (the CLI's and pipeline's too)
    model_params: Any = Field(
        None,
        alias="model-params",
        description="the model's parameters, e.g. {\"alpha\": 1.0} (names: the model's "
        "parameters; values: numbers, text, true/false, null or lists of those)",
    )
    clear_sky_plane: Any = Field(
        None,
        alias="clear-sky-plane",
        description='the clear-sky input on the array\'s plane: "fit" (fitted from its past '
        'power) or [tilt, azimuth] / "TILT,AZIMUTH" in degrees (azimuth east of north); '
        "implies clear-sky",
    )


class ForecastTrigger(_Lenient):
    start: Annotated[str, Field(max_length=64)] | None = None
    end: Annotated[str, Field(max_length=64)] | None = None
    duration: Annotated[str, Field(max_length=64)] | None = None
    max_forecast_horizon: Annotated[str, Field(max_length=64)] | None = Field(
        None, alias="max-forecast-horizon"
    )
    forecast_frequency: Annotated[str, Field(max_length=64)] | None = Field(
        None, alias="forecast-frequency"
    )
    probabilistic: bool | None = None
    config: ForecastConfig | None = None


class ReportTrigger(_Lenient):
    reporter: Annotated[str, Field(max_length=128)]
    parameters: dict[str, Any]
    config: dict[str, Any] | None = None


# --- users, accounts, annotations (routes_users.py, routes_annotations.py) -----------------
Role = Literal["admin", "account-admin", "user"]
Email = Annotated[str, Field(min_length=3, max_length=255)]
Password = Annotated[str, Field(min_length=1, max_length=1024)]


class UserIn(_Strict):
    """FlexMeasures' new user: email, username, account_id (``password`` is our addition)."""

    email: Email
    username: Text | None = None
    account_id: Id
    password: Password | None = Field(
        None, description="Optional: without one the user cannot log in until a password is set"
    )


class UserPatch(_Strict):
    email: Email | None = None
    username: Text | None = None
    active: bool | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    flexmeasures_roles: list[Role] | None = Field(None, max_length=3)
    password: Password | None = Field(None, description="A new password (the user or an admin)")


class AccountIn(_Strict):
    name: Text


class AccountPatch(_Strict):
    name: Text | None = None


class AnnotationIn(_Strict):
    """FlexMeasures' AnnotationSchema: content over [start, end), of a type, believed at prior."""

    content: Annotated[str, Field(min_length=1, max_length=1024)]
    start: Annotated[str, Field(max_length=64)] = Field(description="ISO 8601 with UTC offset")
    end: Annotated[str, Field(max_length=64)] = Field(description="ISO 8601 with UTC offset")
    type: Literal["alert", "holiday", "label", "feedback", "warning", "error"] = "label"
    prior: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="When the annotation was recorded (default: now)"
    )


class CopyAssetIn(_Strict):
    """Where the copy of an asset tree goes (default: the same account and parent)."""

    account_id: Id | None = None
    parent_asset_id: Id | None = None
