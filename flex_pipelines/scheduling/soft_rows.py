"""Soft limits in the linear model: a limit that may be breached at a price per step and, for
the worst step, once per window (:class:`SoftRows`); used by the device blocks
(:mod:`~flex_pipelines.scheduling.build_highs`), the site (:mod:`~.build_site`) and the
links (:mod:`~.build_links`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flex_pipelines.scheduling.linear_model import STEPS, LinearModel

__all__ = ["SoftRows", "soft_rows", "soft_upper", "worst_rows"]


@dataclass
class SoftRows:
    """A soft limit: ``value(at) + sign * gap >= bound`` rows (``sign`` +1: a lower bound such as
    soc-minima) or ``value(at) - gap <= bound`` (``sign`` -1: an upper bound), the gap priced per
    step, and the worst gap (one column) priced once."""

    rows: np.ndarray
    at: np.ndarray  # positions (steps or SoC columns) the rows bind
    gap: np.ndarray
    worst: np.ndarray
    sign: float


def worst_rows(m: LinearModel, name: str, worst: np.ndarray, gap: np.ndarray) -> None:
    """``worst >= gap[j]`` for every j: the worst breach, charged once per window."""
    n = gap.size
    r = np.arange(n)
    m.add_rows(
        name,
        n,
        [(r, np.full(n, worst[0]), 1.0), (r, gap, -1.0)],
        0.0,
        np.inf,
        kind="worst breach",
        couples=(STEPS,),
    )


def soft_rows(
    m: LinearModel,
    name: str,
    terms: list,
    cap: np.ndarray,
    price: np.ndarray,
    dt: float,
    field_name: str,
    device: str | None,
    term: str,
    *,
    kind: str | None = None,
    couples: tuple[str, ...] = (),
) -> SoftRows:
    """``Σ terms - breach <= cap`` per step; the breach priced per MW per hour each step and per
    MW on the worst step (once per window)."""
    T = cap.size
    steps = np.arange(T)
    br = m.add_cols(
        f"{name} breach",
        T,
        0.0,
        np.inf,
        dt * price,
        kind="gap",
        device=device,
        term=f"{term} (each step)",
    )
    worst = m.add_cols(
        f"{name} worst breach",
        1,
        0.0,
        np.inf,
        float(np.max(price)),
        kind="worst gap",
        device=device,
        term=f"{term} (worst)",
    )
    rows = m.add_rows(
        name,
        T,
        [*terms, (steps, br, -1.0)],
        -np.inf,
        cap,
        field=field_name,
        device=device,
        kind=kind or field_name,
        couples=couples,
    )
    worst_rows(m, f"{name} any", worst, br)
    return SoftRows(rows, steps, br, worst, -1.0)


def soft_upper(
    m: LinearModel,
    name: str,
    flow: np.ndarray,
    cap: np.ndarray,
    price: np.ndarray,
    dt: float,
    field_name: str,
    device: str | None,
    term: str,
    *,
    kind: str | None = None,
) -> SoftRows:
    """flow ≤ cap + breach (one column per step): :func:`soft_rows`."""
    steps = np.arange(flow.size)
    return soft_rows(
        m, name, [(steps, flow, 1.0)], cap, price, dt, field_name, device, term, kind=kind
    )
