"""A small assembler for sparse linear programs: blocks of columns and rows as numpy arrays.

Columns and rows are added in vectorised blocks (one call per kind of variable or constraint,
never one per time step), with a name and per-row metadata so that an infeasibility can be
traced back to the flex-model field and time it came from. :meth:`LinearModel.to_csc` gives the
column-wise matrix HiGHS takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

__all__ = ["LinearModel", "RowBlock"]


@dataclass
class RowBlock:
    """Rows ``start .. start + count`` of one kind: ``field`` and the step of each row."""

    name: str
    start: int
    count: int
    field: str
    steps: np.ndarray
    device: str | None = None


@dataclass
class LinearModel:
    """Columns (cost, bounds, integrality) and rows (bounds, triplets) of a (MI)LP."""

    n_cols: int = 0
    n_rows: int = 0
    offset: float = 0.0
    _cost: list[np.ndarray] = field(default_factory=list)
    _lb: list[np.ndarray] = field(default_factory=list)
    _ub: list[np.ndarray] = field(default_factory=list)
    _int: list[np.ndarray] = field(default_factory=list)
    _rlb: list[np.ndarray] = field(default_factory=list)
    _rub: list[np.ndarray] = field(default_factory=list)
    _ri: list[np.ndarray] = field(default_factory=list)
    _ci: list[np.ndarray] = field(default_factory=list)
    _v: list[np.ndarray] = field(default_factory=list)
    cols: dict[str, np.ndarray] = field(default_factory=dict)
    row_blocks: list[RowBlock] = field(default_factory=list)
    _extra_cost: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def add_cost(self, idx: np.ndarray, values: np.ndarray) -> None:
        """Add objective coefficients to existing columns."""
        self._extra_cost.append((np.asarray(idx), np.asarray(values, dtype=float)))

    def add_cols(
        self,
        name: str,
        n: int,
        lb: float | np.ndarray = 0.0,
        ub: float | np.ndarray = np.inf,
        cost: float | np.ndarray = 0.0,
        integer: bool = False,
    ) -> np.ndarray:
        idx = np.arange(self.n_cols, self.n_cols + n, dtype=np.int64)
        self.n_cols += n
        self._lb.append(np.broadcast_to(np.asarray(lb, dtype=float), (n,)).copy())
        self._ub.append(np.broadcast_to(np.asarray(ub, dtype=float), (n,)).copy())
        self._cost.append(np.broadcast_to(np.asarray(cost, dtype=float), (n,)).copy())
        self._int.append(np.full(n, 1 if integer else 0, dtype=np.int32))
        self.cols[name] = idx
        return idx

    def add_rows(
        self,
        name: str,
        n: int,
        terms: list[tuple[np.ndarray, np.ndarray, np.ndarray | float]],
        lb: float | np.ndarray,
        ub: float | np.ndarray,
        *,
        field: str = "",
        steps: np.ndarray | None = None,
        device: str | None = None,
    ) -> np.ndarray:
        """Add ``n`` rows; each term is (local row index, column index, coefficient) arrays."""
        start = self.n_rows
        self.n_rows += n
        for r, c, v in terms:
            r = np.asarray(r, dtype=np.int64)
            self._ri.append(r + start)
            self._ci.append(np.asarray(c, dtype=np.int64))
            self._v.append(np.broadcast_to(np.asarray(v, dtype=float), r.shape).copy())
        self._rlb.append(np.broadcast_to(np.asarray(lb, dtype=float), (n,)).copy())
        self._rub.append(np.broadcast_to(np.asarray(ub, dtype=float), (n,)).copy())
        st = np.arange(n) if steps is None else np.asarray(steps)
        self.row_blocks.append(RowBlock(name, start, n, field or name, st, device))
        return np.arange(start, start + n)

    # --- access ---------------------------------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        def cat(xs, dt=float):
            return np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)

        cost = cat(self._cost)
        for idx, vals in self._extra_cost:
            np.add.at(cost, idx, vals)
        return {
            "cost": cost,
            "lb": cat(self._lb),
            "ub": cat(self._ub),
            "int": cat(self._int, np.int32),
            "rlb": cat(self._rlb),
            "rub": cat(self._rub),
        }

    def to_csc(self) -> sp.csc_matrix:
        ri = np.concatenate(self._ri) if self._ri else np.zeros(0, np.int64)
        ci = np.concatenate(self._ci) if self._ci else np.zeros(0, np.int64)
        v = np.concatenate(self._v) if self._v else np.zeros(0)
        keep = v != 0.0
        m = sp.coo_matrix((v[keep], (ri[keep], ci[keep])), shape=(self.n_rows, self.n_cols))
        return m.tocsc()

    def row_activity(self, x: np.ndarray) -> np.ndarray:
        """``A @ x`` straight from the triplets (no sparse matrix built)."""
        if not self._ri:
            return np.zeros(self.n_rows)
        ri, ci, v = np.concatenate(self._ri), np.concatenate(self._ci), np.concatenate(self._v)
        return np.bincount(ri, weights=v * x[ci], minlength=self.n_rows)

    def violation(
        self, x: np.ndarray, arr: dict[str, np.ndarray] | None = None, tol: float = 1e-7
    ) -> str | None:
        """None when ``x`` is within every column and row bound (to ``tol``), else which kind
        fails (``arr``: :meth:`arrays`, if the caller has it already)."""
        a = self.arrays() if arr is None else arr
        if (x < a["lb"] - tol).any() or (x > a["ub"] + tol).any():
            return "a bound is violated"
        r = self.row_activity(x)
        if ((r < a["rlb"] - tol) | (r > a["rub"] + tol)).any():
            return "a row is violated"
        return None

    def row_block_of(self, row: int) -> tuple[RowBlock, int]:
        for b in self.row_blocks:
            if b.start <= row < b.start + b.count:
                return b, int(b.steps[row - b.start])
        raise IndexError(row)
