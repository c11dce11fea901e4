"""One HiGHS solve of a :class:`~flex_pipelines.scheduling.linear_model.LinearModel` (LP or MILP),
with its status, solution, objective, time and (MIP) gap and bound; used by the lazy-binary
exact method (:mod:`flex_pipelines.scheduling.exact`), diagnostics and the benchmarks."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import highspy
import numpy as np

from flex_pipelines.scheduling.linear_model import LinearModel

__all__ = ["MIP_OPTIONS", "MIP_REL_GAP", "HighsRun", "run_highs"]

MIP_REL_GAP = 1e-6  # exactness tolerance; HiGHS' own default (1e-4) is faster but looser
# Options for the MILP rounds (not the LP): with presolve the lazy-binary MILPs spend most of
# their time in presolve restarts and sub-MIP heuristics. Measured on the benchmark's month
# (negative prices, 40 binaries, same optimum): 5.97 s with presolve, 1.88 s without.
MIP_OPTIONS: dict[str, Any] = {"presolve": "off"}


@dataclass
class HighsRun:
    status: str
    x: np.ndarray
    objective: float
    seconds: float
    highs: highspy.Highs | None = None
    gap: float = 0.0
    bound: float = float("-inf")  # MIP: HiGHS' dual bound (a lower bound on the optimum)


def run_highs(
    model: LinearModel,
    *,
    keep: bool = False,
    time_limit: float | None = None,
    start: np.ndarray | None = None,
    mip_rel_gap: float = MIP_REL_GAP,
    options: dict[str, Any] | None = None,
) -> HighsRun:
    """Pass the model to HiGHS as numpy arrays (passModel) and solve it (``options``: extra
    HiGHS options, e.g. the build's ``Layout.highs_options``)."""
    a = model.arrays()
    A = model.to_csc()
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    for key, value in (options or {}).items():
        h.setOptionValue(key, value)
    if time_limit is not None:
        h.setOptionValue("time_limit", float(time_limit))
    integrality = a["int"]
    if integrality.any():
        for key, value in MIP_OPTIONS.items():
            if key not in (options or {}):
                h.setOptionValue(key, value)
        h.setOptionValue("mip_rel_gap", mip_rel_gap)
        h.setOptionValue("mip_abs_gap", 1e-6)
    st = h.passModel(
        model.n_cols,
        model.n_rows,
        int(A.nnz),
        1,
        1,
        float(model.offset),
        a["cost"],
        a["lb"],
        a["ub"],
        a["rlb"],
        a["rub"],
        A.indptr.astype(np.int32),
        A.indices.astype(np.int32),
        A.data.astype(float),
        integrality,
    )
    t0 = time.perf_counter()
    if st != highspy.HighsStatus.kOk and st != highspy.HighsStatus.kWarning:
        raise RuntimeError(f"HiGHS refused the model ({st})")
    if start is not None and integrality.any():
        h.setSolution(model.n_cols, np.arange(model.n_cols, dtype=np.int32), start)
    h.run()
    secs = time.perf_counter() - t0
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    gap = float(info.mip_gap) if integrality.any() else 0.0
    if status == "Time limit reached" and integrality.any() and info.primal_solution_status == 2:
        status = "Optimal" if gap <= mip_rel_gap else "Feasible"
    ok = status in ("Optimal", "Feasible")
    x = np.asarray(h.getSolution().col_value, dtype=float) if ok else np.zeros(0)
    obj = float(info.objective_function_value) if ok else float("nan")
    bound = float(info.mip_dual_bound) if integrality.any() else obj
    return HighsRun(status, x, obj, secs, h if keep else None, gap, bound)
