"""A forecast run's model parameters and clear-sky plane, parsed in one place for every door.

The CLI (``--model-param KEY=VALUE``, ``--clear-sky-plane``), the API's forecast trigger
(``config["model-params"]``, ``config["clear-sky-plane"]``), the sensor's ``forecast`` config
the pipeline reads (the same keys) and :func:`~flex_pipelines.forecasting.store_io.forecast_sensor`
all call :func:`parse_model_params` and :func:`parse_clear_sky_plane`, so the same bad input is
refused with the same message (naming the field and the value) whichever door it came through.
Which parameter names a model takes is its own ``parameters`` (checked by
:func:`~flex_pipelines.forecasting.models.base.get_model`), and the kind and range of its
numeric ones its ``parameter_kinds`` (checked when the model is built); the values are then
checked by building the model and its features with them, so a value the model cannot read is
refused before any work.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from flex_pipelines.forecasting.errors import ForecastingError
from flex_pipelines.forecasting.models.base import get_model, model_class

__all__ = [
    "PARAMS_FIELD",
    "PLANE_FIELD",
    "ForecastOptionError",
    "Plane",
    "parse_clear_sky_plane",
    "parse_model_params",
    "plane_setting",
]

#: the field names the messages use (the API's and the sensor config's keys)
PARAMS_FIELD = "model-params"
PLANE_FIELD = "clear-sky-plane"

#: ``"fit"`` or (tilt, azimuth) in degrees
Plane = str | tuple[float, float]

_SCALARS = (bool, int, float, str)
#: bounds on a value: a model builds lags, windows or iterations from numbers (``days=10**9``
#: would exhaust memory before any check of the model's could refuse it)
MAX_NUMBER = 1_000_000
MAX_ITEMS = 1_000
MAX_TEXT = 200


class ForecastOptionError(ForecastingError):
    """A model parameter or clear-sky plane that is refused; the message names field and value."""


def parse_clear_sky_plane(value: object) -> Plane | None:
    """The clear-sky plane of a forecast run: ``"fit"``, (tilt, azimuth) or None.

    Parameters
    ----------
    value : object
        None (no plane), ``"fit"`` (any case; fitted from the sensor's past power), the text
        ``"TILT,AZIMUTH"`` (the CLI's and a sensor config's form) or a pair of numbers (JSON's
        ``[30, 180]``); degrees, azimuth east of north.

    Returns
    -------
    "fit", (float, float) or None

    Raises
    ------
    ForecastOptionError
        Neither ``fit`` nor two numbers, or a tilt outside 0–90 or an azimuth outside 0–360.
    """
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() == "fit":
        return "fit"
    pair: list[float] | None = None
    try:
        if isinstance(value, str):
            pair = [float(x) for x in value.split(",")]
        elif isinstance(value, Sequence) and not any(isinstance(x, bool | str) for x in value):
            pair = [float(x) for x in value]  # type: ignore[arg-type]
    except (TypeError, ValueError):
        pair = None
    if pair is None or len(pair) != 2:
        raise ForecastOptionError(
            f"{PLANE_FIELD} {value!r} is neither 'fit' nor TILT,AZIMUTH in degrees (e.g. 30,180)"
        )
    tilt, azimuth = pair
    if not (0 <= tilt <= 90 and 0 <= azimuth <= 360):  # NaN fails too
        raise ForecastOptionError(
            f"{PLANE_FIELD} {value!r}: tilt must be 0–90 and azimuth 0–360 degrees"
        )
    return tilt, azimuth


def plane_setting(plane: object) -> str | None:
    """The run setting (hashed, :mod:`~flex_pipelines.forecasting.runs`) of a clear-sky plane:
    ``"fit"``, ``"TILT,AZIMUTH"`` or None; ``plane`` as :func:`parse_clear_sky_plane` takes it."""
    parsed = parse_clear_sky_plane(plane)
    if parsed is None or isinstance(parsed, str):
        return parsed
    return f"{parsed[0]:g},{parsed[1]:g}"


def _value_ok(value: object) -> bool:
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int | float):
        return math.isfinite(value) and abs(value) <= MAX_NUMBER
    if isinstance(value, str):
        return len(value) <= MAX_TEXT
    if isinstance(value, list | tuple):
        return len(value) <= MAX_ITEMS and all(
            isinstance(x, _SCALARS) and _value_ok(x) for x in value
        )
    return False


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _probe(model: str, params: Mapping[str, object]) -> None:
    """Build the model and its features with ``params`` (a model reads its values there)."""
    get_model(model, **params).feature_spec(None)


def _refused(model: str, key: str, value: object) -> bool:
    try:
        _probe(model, {key: value})
    except Exception:  # noqa: BLE001  (as in parse_model_params)
        return True
    return False


def parse_model_params(model: str, params: object) -> dict[str, object]:
    """Check a forecast run's model parameters against the model; returns them as a dict.

    Parameters
    ----------
    model : str
        A registered model name (an unknown one raises
        :class:`~flex_pipelines.forecasting.errors.UnknownModelError`, listing the known ones).
    params : mapping or None
        Parameter name → value: a number, text, true/false, null or a list of those (JSON's
        types; the CLI reads each ``VALUE`` as JSON, else as text), within :data:`MAX_NUMBER`,
        :data:`MAX_TEXT` and :data:`MAX_ITEMS`. None is no parameters.

    Returns
    -------
    dict
        The parameters, in the order given.

    Raises
    ------
    ForecastOptionError
        Not a mapping; a name that is not text; a value of another type; a name the model does
        not take (the message lists the ones it does); a value the model cannot read.
    """
    model_class(model)  # an unknown model is the model field's error, not the parameters'
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise ForecastOptionError(
            f"{PARAMS_FIELD} {_short(params)} is not a mapping of parameter names to values"
        )
    out: dict[str, object] = {}
    for key, value in params.items():
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_TEXT:
            raise ForecastOptionError(f"{PARAMS_FIELD}: {_short(key)} is not a parameter name")
        if not _value_ok(value):
            raise ForecastOptionError(
                f"{PARAMS_FIELD} {key}={_short(value)}: a value is a number (up to "
                f"{MAX_NUMBER:,} in size), text (up to {MAX_TEXT} characters), true/false, null or a list "
                f"of up to {MAX_ITEMS} of those"
            )
        out[key] = value
    try:
        _probe(model, out)
    except ForecastingError as exc:  # an unknown name, or a value the model refuses
        raise ForecastOptionError(f"{PARAMS_FIELD}: {exc}") from None
    except Exception as exc:  # noqa: BLE001  a value the model cannot read: which one?
        bad = next((k for k in out if _refused(model, k, out[k])), None)
        what = f"{bad}={_short(out[bad])}" if bad is not None else _short(out)
        raise ForecastOptionError(
            f"{PARAMS_FIELD} {what}: model {model!r} cannot read it ({exc})"
        ) from None
    return out
