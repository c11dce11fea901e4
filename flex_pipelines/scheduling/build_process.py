"""The processes' blocks of the problem description (see :mod:`~.build_highs`): a binary start
(SHIFTABLE) or slot (BREAKABLE) column each, one linking row, their power in the electricity
site's balance; INFLEXIBLE processes (and those filling the window) are fixed load."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from flex_pipelines.scheduling.linear_model import STEPS, LinearModel
from flex_pipelines.scheduling.problem import SchedulingProblem

if TYPE_CHECKING:
    from flex_pipelines.scheduling.build_highs import Layout

__all__ = ["check_processes", "process_blocks", "process_fixed_mw", "process_terms"]


def process_fixed_mw(p: SchedulingProblem) -> np.ndarray:
    """Summed power (MW) of the processes without decisions (INFLEXIBLE, or filling the window)."""
    total = np.zeros(p.n_steps)
    for pd in p.processes:
        if pd.is_fixed:
            total += pd.fixed_power_mw(p.grid.start, p.grid.resolution)
    return total


def check_processes(p: SchedulingProblem) -> None:
    """Refuse what cannot be scheduled: a process that fits under the site limit nowhere."""
    if p.processes:
        _check_process_room(p)


def _check_process_room(p: SchedulingProblem) -> None:
    """Each process must fit under the hard site consumption limit somewhere it may run (with
    the inflexible load, the fixed processes and every device producing at full capacity)."""
    from flex_pipelines.scheduling.grid import SchedulingError
    from flex_pipelines.scheduling.process import feasible_block_starts

    s, g = p.site, p.grid
    produce = sum(
        (d.production_hard_mw for d in p.devices if d.commodity == "electricity"),
        np.zeros(p.n_steps),
    )
    fixed = process_fixed_mw(p)
    room = s.consumption_hard_mw - s.inflexible_mw + produce
    over = np.flatnonzero(fixed > room + 1e-9)
    if over.size:
        i = int(over[0])
        raise SchedulingError(
            f"site-power-capacity {s.consumption_hard_mw[i]:g} MW is exceeded at "
            f"{g.fmt(g.time_at_step(i))} by the inflexible load and the INFLEXIBLE processes "
            f"({s.inflexible_mw[i] + fixed[i]:g} MW; the devices can offset {produce[i]:g} MW)"
        )
    room = room - fixed
    for pd in p.processes:
        if pd.is_fixed:
            continue
        bad = pd.blocked | (room < pd.power_mw - 1e-9)
        if str(pd.process_type) == "BREAKABLE":
            fits = (~bad).sum() >= pd.n_on
        else:
            fits = feasible_block_starts(bad, pd.n_on).any()
        if not fits:
            i = int(np.argmax(~pd.blocked))
            raise SchedulingError(
                f"process {pd.name!r}: flex-model field 'power' = {pd.power_mw:g} MW does not fit "
                f"under the site-power-capacity ({np.max(s.consumption_hard_mw):g} MW, with the "
                f"other load) for {pd.n_on} step(s) in its allowed window from "
                f"{g.fmt(g.time_at_step(i))} to {g.fmt(g.end)}"
            )


def process_blocks(m: LinearModel, lay: Layout, p: SchedulingProblem) -> None:
    """Processes: binary start (SHIFTABLE) or slot (BREAKABLE) columns, zero cost (their energy
    is costed through the site), one linking row each; their power enters the site balance."""
    for pd in p.processes:
        cand = pd.candidates()
        x = m.add_cols(
            f"process[{pd.name}]",
            cand.size,
            0.0,
            1.0,
            0.0,
            integer=True,
            kind="process",
            device=pd.name,
        )
        lay.processes.append(x)
        if not cand.size:
            continue
        if str(pd.flex_model.optimization_sense) == "MAX":
            # its energy is costed through the site; −2× its price sum turns that +value into
            # −value: it runs where the consumption price is highest, as on its own
            m.add_cost(
                x,
                2.0 * pd.column_costs(p.site.consumption_price, p.dt),
                f"prefer high prices[{pd.name}]",
            )
        m.add_rows(
            f"process link[{pd.name}]",
            1,
            [(np.zeros(cand.size, np.int64), x, 1.0)],
            pd.link_rhs(),
            pd.link_rhs(),
            field="duration",
            device=pd.name,
            kind="process link",
            couples=(STEPS,),
        )
        # with process starts HiGHS spent most of its time in sub-MIP heuristics after presolve
        # restarts; presolve off was 3-6x faster on every tight site limit measured (bench_joint)
        lay.highs_options["presolve"] = "off"


def process_terms(p: SchedulingProblem, lay: Layout) -> list[tuple[Any, Any, Any]]:
    """The processes' power in site-balance triplets (step, column, MW)."""
    out = []
    for pd, x in zip(p.processes, lay.processes, strict=True):
        if x.size:
            st, lc, coef = pd.power_triplets()
            out.append((st, x[lc], coef))
    return out
