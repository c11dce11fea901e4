"""The problem description: blocks of columns and rows as numpy arrays (a sparse (MI)LP).

Columns and rows are added in vectorised blocks (one call per kind of variable or constraint,
never one per time step). Each block says what it is: its name, the flex-model or flex-context
``field`` it comes from (so an infeasibility names field and time), its ``kind`` and whether its
rows ``couple`` time steps or devices. Every cost is labelled with the term it belongs to. This
is the one description of the problem: :meth:`LinearModel.to_csc` gives the column-wise matrix
HiGHS takes, :mod:`~flex_pipelines.scheduling.build_pyomo` turns the same blocks into a pyomo
model, and the dynamic programme decides from the kinds and couplings whether it applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = ["ColBlock", "LinearModel", "RowBlock", "STEPS", "DEVICES"]

#: a row block whose rows share a column across time steps (a stock recursion, a worst breach)
STEPS = "steps"
#: a row block whose rows hold columns of several devices (a site balance, a group limit)
DEVICES = "devices"


@dataclass
class RowBlock:
    """Rows ``start .. start + count``: their name, ``field``, the step of each row, the device
    (if one), what kind of constraint they are and what they couple (:data:`STEPS`,
    :data:`DEVICES`)."""

    name: str
    start: int
    count: int
    field: str
    steps: np.ndarray
    device: str | None = None
    kind: str = ""
    couples: frozenset[str] = frozenset()


@dataclass
class ColBlock:
    """Columns ``start .. start + count``: their name, kind and device (if one)."""

    name: str
    start: int
    count: int
    kind: str = ""
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
    col_blocks: list[ColBlock] = field(default_factory=list)
    #: (term, columns, coefficients): every cost, labelled with the term it belongs to
    cost_parts: list[tuple[str, np.ndarray, np.ndarray]] = field(default_factory=list)
    #: the constant part of the objective per term (sums to ``offset``)
    offset_terms: dict[str, float] = field(default_factory=dict)

    def add_cost(self, idx: np.ndarray, values: np.ndarray, term: str = "") -> None:
        """Add objective coefficients (currency per unit of the column) to existing columns."""
        idx, vals = np.asarray(idx), np.asarray(values, dtype=float)
        self._extra_cost.append((idx, vals))
        self.cost_parts.append((term, idx, np.broadcast_to(vals, idx.shape)))

    def cost_mark(self) -> tuple[int, int, int, float, dict[str, float]]:
        """Where the costs stand now (for :meth:`scale_costs_since`)."""
        return (
            len(self._cost),
            len(self._extra_cost),
            len(self.cost_parts),
            self.offset,
            dict(self.offset_terms),
        )

    def scale_costs_since(
        self, mark: tuple[int, int, int, float, dict[str, float]], factor: float
    ) -> None:
        """Multiply every cost added after ``mark`` (column costs, added costs, their labelled
        parts, constants) by ``factor``: a scenario's costs weighted by its probability."""
        n_cost, n_extra, n_parts, offset, terms = mark
        self._cost[n_cost:] = [c * factor for c in self._cost[n_cost:]]
        self._extra_cost[n_extra:] = [(i, v * factor) for i, v in self._extra_cost[n_extra:]]
        self.cost_parts[n_parts:] = [(t, i, v * factor) for t, i, v in self.cost_parts[n_parts:]]
        self.offset = offset + (self.offset - offset) * factor
        for term, value in self.offset_terms.items():
            before = terms.get(term, 0.0)
            self.offset_terms[term] = before + (value - before) * factor

    def add_offset(self, value: float, term: str = "") -> None:
        """Add a constant (currency) to the objective, labelled with its term."""
        self.offset += float(value)
        self.offset_terms[term] = self.offset_terms.get(term, 0.0) + float(value)

    def add_cols(
        self,
        name: str,
        n: int,
        lb: float | np.ndarray = 0.0,
        ub: float | np.ndarray = np.inf,
        cost: float | np.ndarray = 0.0,
        integer: bool = False,
        *,
        kind: str = "",
        device: str | None = None,
        term: str | None = None,
    ) -> np.ndarray:
        """Add ``n`` columns (bounds, cost in currency per unit, integrality); ``term`` labels
        their cost (default: ``name``)."""
        idx = np.arange(self.n_cols, self.n_cols + n, dtype=np.int64)
        self.n_cols += n
        self._lb.append(np.broadcast_to(np.asarray(lb, dtype=float), (n,)).copy())
        self._ub.append(np.broadcast_to(np.asarray(ub, dtype=float), (n,)).copy())
        c = np.broadcast_to(np.asarray(cost, dtype=float), (n,)).copy()
        self._cost.append(c)
        self._int.append(np.full(n, 1 if integer else 0, dtype=np.int32))
        self.cols[name] = idx
        self.col_blocks.append(ColBlock(name, int(idx[0]) if n else self.n_cols, n, kind, device))
        if c.any():
            self.cost_parts.append((name if term is None else term, idx, c))
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
        kind: str = "",
        couples: tuple[str, ...] | frozenset[str] = (),
    ) -> np.ndarray:
        """Add ``n`` rows ``lb <= A x <= ub``; each term is (local row index, column index,
        coefficient) arrays. ``kind`` says what they are (default: ``name``), ``couples`` which
        of :data:`STEPS` and :data:`DEVICES` their rows tie together."""
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
        self.row_blocks.append(
            RowBlock(name, start, n, field or name, st, device, kind or name, frozenset(couples))
        )
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
        import scipy.sparse as sp  # on first use: the DP path never builds a matrix

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

    def copy(self) -> LinearModel:
        """A copy sharing the blocks' arrays (new blocks go to the copy only)."""
        return LinearModel(
            n_cols=self.n_cols,
            n_rows=self.n_rows,
            offset=self.offset,
            _cost=list(self._cost),
            _lb=list(self._lb),
            _ub=list(self._ub),
            _int=list(self._int),
            _rlb=list(self._rlb),
            _rub=list(self._rub),
            _ri=list(self._ri),
            _ci=list(self._ci),
            _v=list(self._v),
            cols=dict(self.cols),
            row_blocks=list(self.row_blocks),
            _extra_cost=list(self._extra_cost),
            col_blocks=list(self.col_blocks),
            cost_parts=list(self.cost_parts),
            offset_terms=dict(self.offset_terms),
        )

    def blocks_of_kind(self, kind: str, device: str | None = None) -> list[RowBlock]:
        """The row blocks of one kind (and device, when given)."""
        return [
            b for b in self.row_blocks if b.kind == kind and (device is None or b.device == device)
        ]

    def rows_of(self, block: RowBlock) -> np.ndarray:
        """The row indices of a block."""
        return np.arange(block.start, block.start + block.count)

    def row_block_of(self, row: int) -> tuple[RowBlock, int]:
        for b in self.row_blocks:
            if b.start <= row < b.start + b.count:
                return b, int(b.steps[row - b.start])
        raise IndexError(row)
