"""Continuous piecewise-linear functions of one variable on a closed interval (numpy arrays).

A function is a pair ``(x, y)``: breakpoints ``x`` strictly increasing (one point = a function
defined at that point only) and the values there; between breakpoints it is linear, outside
``[x[0], x[-1]]`` it is undefined (+inf). These are the value functions of the exact dynamic
programme in :mod:`flex_pipelines.scheduling.dp`; the operations below are exact up to
floating-point rounding (no sampling of the variable), and the functions need not be convex:

- :func:`inf_convolution` — ``W(u) = min_x c(x) + f(u + x)`` for a piecewise-linear ``c``;
- :func:`restrict` — the function on a sub-interval;
- :func:`simplify` — drop collinear and coincident breakpoints.

Convex functions also have a pure-Python form (:class:`Convex`: a start and a list of slopes
and lengths), in which one step of the programme is a merge of two sorted lists
(:func:`convex_step`, :func:`convex_argmin`); most steps take that path.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Convex",
    "Pwl",
    "add_hinge",
    "as_convex",
    "convex_argmin",
    "convex_step",
    "inf_convolution",
    "restrict",
    "simplify",
]

Pwl = tuple[np.ndarray, np.ndarray]
Piece = tuple[float, float, bool]  # slope, length, and (in a merge) whether it came from f
MergeInfo = tuple[float, float, list[Piece]]
INF = np.inf
X_TOL = 1e-11  # breakpoints closer than this (MWh) are merged
Y_TOL = 1e-10  # a breakpoint within this (currency) of the chord of its neighbours is dropped
SLOPE_TOL = 1e-12  # relative slope difference taken as equal (convexity, merging pieces)


def simplify(f: Pwl) -> Pwl:
    """Merge breakpoints closer than ``X_TOL`` (keeping the lower value) and drop breakpoints
    that lie on the chord of their neighbours (within ``Y_TOL``)."""
    x, y = f
    if x.size > 1:
        new = np.concatenate([[True], (x[1:] - x[:-1]) > X_TOL])
        if not new.all():
            starts = np.flatnonzero(new)
            y = np.minimum.reduceat(y, starts)
            x = x[starts]
    if x.size > 2:
        dx = x[1:] - x[:-1]
        chord = y[:-2] + (y[2:] - y[:-2]) * (dx[:-1] / (x[2:] - x[:-2]))
        keep = np.concatenate([[True], np.abs(y[1:-1] - chord) > Y_TOL, [True]])
        if not keep.all():
            x, y = x[keep], y[keep]
    return x, y


def inf_convolution(f: Pwl, xs: np.ndarray, cs: np.ndarray) -> Pwl:
    """``W(u) = min{c(x) + f(u + x) : xs[0] <= x <= xs[-1]}`` with ``c`` piecewise linear
    through ``(xs, cs)`` (``xs`` sorted, repeats allowed), on ``[x[0] - xs[-1], x[-1] - xs[0]]``.

    For a given ``u`` the minimum over ``x`` of a piecewise-linear function is at a breakpoint
    of ``c`` or of ``f(u + .)``. So ``W`` is the lower envelope of the shifted copies
    ``cs[i] + f(u + xs[i])`` and of the segments ``f(x_k) + c(x_k - u)`` (one per breakpoint
    ``x_k`` of ``f`` and piece of ``c``). All of them are linear between the points
    ``x_k - xs[i]``; :func:`_envelope` takes their minimum exactly on that grid.
    """
    x, y = f
    shifts = x[:, None] - xs[None, :]  # (n, P + 1)
    g = np.unique(shifts)
    if g.size == 1:
        return g, np.array([float(np.min(cs + y[0]))])
    lo_u, hi_u = g[:-1], g[1:]
    # shifted copies, each defined on [x[0] - xs[i], x[-1] - xs[i]]
    ok_a = (lo_u[None, :] >= shifts[0][:, None]) & (hi_u[None, :] <= shifts[-1][:, None])
    a0 = np.where(ok_a, np.interp(lo_u[None, :] + xs[:, None], x, y) + cs[:, None], INF)
    a1 = np.where(ok_a, np.interp(hi_u[None, :] + xs[:, None], x, y) + cs[:, None], INF)
    # segments: piece i of c at breakpoint k of f, defined on [x_k - xs[i + 1], x_k - xs[i]]
    live = (xs[1:] - xs[:-1]) > X_TOL
    if not live.any():
        return _envelope(g, a0, a1)
    xl, xr = xs[:-1][live], xs[1:][live]
    cl = cs[:-1][live]
    slope = (cs[1:][live] - cl) / (xr - xl)
    d_lo = (x[:, None] - xr[None, :]).reshape(-1)
    d_hi = (x[:, None] - xl[None, :]).reshape(-1)
    at = (y[:, None] + cl[None, :] + slope[None, :] * (x[:, None] - xl[None, :])).reshape(-1)
    sl = np.broadcast_to(slope[None, :], (x.size, slope.size)).reshape(-1)
    ok_b = (lo_u[None, :] >= d_lo[:, None] - X_TOL) & (hi_u[None, :] <= d_hi[:, None] + X_TOL)
    b0 = np.where(ok_b, at[:, None] - sl[:, None] * lo_u[None, :], INF)
    b1 = np.where(ok_b, at[:, None] - sl[:, None] * hi_u[None, :], INF)
    return _envelope(g, np.concatenate([a0, b0]), np.concatenate([a1, b1]))


def _envelope(g: np.ndarray, v0: np.ndarray, v1: np.ndarray) -> Pwl:
    """Minimum of candidates that are linear on each interval of the grid ``g``.

    ``v0[c, k]``/``v1[c, k]``: candidate ``c`` at the left/right end of interval ``k`` (+inf
    where it is not defined on the interval). On an interval the minimum of lines is concave:
    start from the lowest line at the left end and follow it to the first line that crosses it
    from above; repeat (each switch goes to a line with a lower right end, so it ends).
    """
    m0 = v0.min(axis=0)
    gv = np.minimum(np.append(m0, INF), np.insert(v1.min(axis=0), 0, INF))
    fin = np.isfinite(v0) & np.isfinite(v1)
    cur = np.argmin(np.where(v0 <= m0 + Y_TOL, v1, INF), axis=0)
    # only intervals where another line ends below the current one can switch
    act = np.flatnonzero(v1.min(axis=0) < v1[cur, np.arange(g.size - 1)] - Y_TOL)
    pts, vals = [g], [gv]
    if act.size:
        v0, v1, fin, cur = v0[:, act], v1[:, act], fin[:, act], cur[act]
        col = np.arange(act.size)
        c0, c1 = v0[cur, col], v1[cur, col]
        t = np.zeros(act.size)
        left, width = g[act], g[act + 1] - g[act]
        with np.errstate(invalid="ignore", divide="ignore"):
            for _ in range(v0.shape[0]):
                d0 = v0 - c0
                d1 = v1 - c1
                tau = np.where(fin & (d1 < -Y_TOL), d0 / (d0 - d1), INF)
                tau = np.where(tau >= t - 1e-12, tau, INF)
                best = np.argmin(tau, axis=0)
                bt = tau[best, col]
                go = np.flatnonzero(bt < 1.0)
                if not go.size:
                    break
                tb = bt[go]
                pts.append(left[go] + tb * width[go])
                vals.append(c0[go] + tb * (c1[go] - c0[go]))
                nb = best[go]
                c0[go], c1[go] = v0[nb, go], v1[nb, go]
                t[go] = tb
    if len(pts) == 1:
        return simplify((g, gv))
    xo = np.concatenate(pts)
    order = np.argsort(xo, kind="stable")
    return simplify((xo[order], np.concatenate(vals)[order]))


def restrict(f: Pwl, lo: float, hi: float) -> Pwl | None:
    """The function on ``[lo, hi]`` ∩ its domain; None when that is empty."""
    x, y = f
    lo2, hi2 = max(lo, x[0]), min(hi, x[-1])
    if lo2 > hi2 + X_TOL:
        return None
    if hi2 - lo2 <= X_TOL:
        z = min(max(0.5 * (lo2 + hi2), x[0]), x[-1])
        return np.array([z]), np.interp([z], x, y)
    if lo2 == x[0] and hi2 == x[-1]:
        return f
    inner = (x > lo2 + X_TOL) & (x < hi2 - X_TOL)
    xs = np.concatenate([[lo2], x[inner], [hi2]])
    return xs, np.interp(xs, x, y)


# --- convex functions as slope lists (pure Python: the arrays are a dozen pieces long, where
# numpy's per-call overhead would dominate) --------------------------------------------------


@dataclass
class Convex:
    """A convex piecewise-linear function: value ``y0`` at ``x0``, then ``pieces`` of
    ``(slope, length, _)`` with non-decreasing slopes (none: defined at ``x0`` only)."""

    x0: float
    y0: float
    pieces: list[Piece]

    def arrays(self) -> Pwl:
        xs, ys = [self.x0], [self.y0]
        for s, ln, _ in self.pieces:
            xs.append(xs[-1] + ln)
            ys.append(ys[-1] + s * ln)
        return np.array(xs), np.array(ys)


def as_convex(f: Pwl) -> Convex | None:
    """The slope-list form of ``f`` when it is convex (within rounding), else None."""
    x, y = f
    if x.size == 1:
        return Convex(float(x[0]), float(y[0]), [])
    dx = x[1:] - x[:-1]
    sl = (y[1:] - y[:-1]) / dx
    if sl.size > 1 and ((sl[1:] - sl[:-1]) < -SLOPE_TOL * (1.0 + np.abs(sl[1:]))).any():
        return None
    return Convex(
        float(x[0]),
        float(y[0]),
        [(a, b, True) for a, b in zip(sl.tolist(), dx.tolist(), strict=True)],
    )


def convex_step(
    f: Convex,
    c_pieces: list[tuple[float, float]],
    c_end: tuple[float, float],
    scale: float,
    shift: float,
    lo: float,
    hi: float,
) -> tuple[Convex | None, MergeInfo]:
    """One step of the dynamic programme when ``f`` and the step cost ``c`` are convex:
    ``V(s) = min_x c(x) + f(scale * s + shift + x)`` restricted to ``[lo, hi]``.

    ``c`` is given by its pieces ``(slope, length)`` in increasing ``x`` and ``c_end = (x, c(x))``
    at its right end. The minimum over ``x`` (an infimal convolution) takes the pieces of ``f``
    and of ``c`` reflected, in order of slope, from ``f(x0) + c(x_end)`` on: ``c``'s pieces are
    inserted into ``f``'s sorted list, then the ends outside ``[lo, hi]`` are cut off. Also
    returns how the pieces were merged (start in ``u = scale * s + shift``, ``f``'s start, then
    ``(slope, length, from f)``), from which :func:`convex_argmin` reads the optimal ``x`` for
    any ``u``; None instead of ``V`` when no point of ``[lo, hi]`` is reachable.
    """
    merged = [(p[0], p[1], True) for p in f.pieces]
    for sl, ln in c_pieces:
        insort(merged, (-sl, ln, False), key=_slope)
    u0 = f.x0 - c_end[0]
    info = (u0, f.x0, merged)
    y0 = f.y0 + c_end[1]
    # s = (u - shift) / scale: lengths shrink by 1/scale, slopes grow by scale
    if scale == 1.0:
        x0, pieces = u0 - shift, merged
    else:
        inv = 1.0 / scale
        x0 = (u0 - shift) * inv
        pieces = [(p[0] * scale, p[1] * inv, True) for p in merged]
    end = x0 + sum(p[1] for p in pieces)
    lo2, hi2 = max(lo, x0), min(hi, end)
    if lo2 > hi2 + X_TOL:
        return None, info
    if hi2 - lo2 <= X_TOL:  # a single point
        z = min(max(lo2, x0), end)
        return Convex(z, _value_walk(x0, y0, pieces, z), []), info
    k, n, x, y = 0, len(pieces), x0, y0
    while k < n and x + pieces[k][1] <= lo2 + X_TOL:  # pieces left of lo
        x += pieces[k][1]
        y += pieces[k][0] * pieces[k][1]
        k += 1
    m = n
    while m > k and end - pieces[m - 1][1] >= hi2 - X_TOL:  # pieces right of hi
        end -= pieces[m - 1][1]
        m -= 1
    out = pieces[k:m]
    if x < lo2 and out:  # cut into the first piece
        sl, ln, _ = out[0]
        y += sl * (lo2 - x)
        out[0] = (sl, ln - (lo2 - x), True)
        x = lo2
    if end > hi2 and out:  # and into the last
        sl, ln, _ = out[-1]
        out[-1] = (sl, ln - (end - hi2), True)
    return Convex(x, y, out), info


def _slope(piece: tuple[float, float, bool]) -> float:
    return piece[0]


def _value_walk(x0: float, y0: float, pieces: list[Piece], z: float) -> float:
    x, y = x0, y0
    for sl, ln, _ in pieces:
        if x + ln >= z:
            return y + sl * (z - x)
        x, y = x + ln, y + sl * ln
    return y


def convex_argmin(info: MergeInfo, u: float) -> float:
    """The optimal ``x`` of :func:`convex_step` at ``u``: walk the merged pieces up to ``u``;
    the length taken from ``f`` gives ``z = u + x``."""
    u0, z, merged = info
    left = u - u0
    for _, ln, from_f in merged:
        take = min(ln, left)
        if take <= 0.0:
            break
        if from_f:
            z += take
        left -= take
    return z - u


def add_hinge(f: Convex | Pwl, at: float, left: float, right: float) -> Convex | Pwl:
    """``f(s) + left * max(at - s, 0) + right * max(s - at, 0)`` (a soft bound's penalty;
    ``left, right >= 0`` keeps a convex function convex)."""
    if isinstance(f, Convex):
        y0 = f.y0 + left * max(at - f.x0, 0.0) + right * max(f.x0 - at, 0.0)
        out: list[Piece] = []
        x = f.x0
        for s, ln, _ in f.pieces:
            a, b = x, x + ln
            if b <= at:
                out.append((s - left, ln, True))
            elif a >= at:
                out.append((s + right, ln, True))
            else:
                out += [(s - left, at - a, True), (s + right, b - at, True)]
            x = b
        return Convex(f.x0, y0, out)
    x, y = f
    if x[0] + X_TOL < at < x[-1] - X_TOL:
        k = int(np.searchsorted(x, at))
        y = np.insert(y, k, np.interp(at, x, y))
        x = np.insert(x, k, at)
    return x, y + left * np.maximum(at - x, 0.0) + right * np.maximum(x - at, 0.0)
