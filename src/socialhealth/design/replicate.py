"""Replicate-weight survey designs (R ``svrepdesign``)."""
from __future__ import annotations

import copy
import functools
import os
import re
import warnings
from typing import Any, Callable, Mapping, Protocol, Sequence

import numpy as np
import pandas as pd

from socialhealth._stack import user_stacklevel
from socialhealth._text import amount, r_number, r_quoted, show_given, show_list
from socialhealth.design.base import DesignBase
from socialhealth.design.replicate_variance import (METHODS, blas_threads_on_idle_cores, idle_cores,
                                                    default_rscales, default_scale, one_blas_thread,
                                                    replicate_vcov)
from socialhealth.design.structure import (check_data_frame, check_flag, check_weights,
                                           copy_on_write, design_frame, numeric_column,
                                           require_columns)
from socialhealth.errors import (DesignError, RDifferenceWarning, ReplicateWeightsError,
                                 SocialHealthWarning, WeightError)


def _is_number(x) -> bool:
    return isinstance(x, (int, float, np.integer,
                          np.floating)) and not isinstance(x, (bool, np.bool_))


class BatchedRefit(Protocol):
    """A per-replicate refit ``refit(w_r)`` that also offers ``refit.batch(W)``: the estimates
    of all replicates at once from the design's replicate weights (``_general_vcov`` uses it
    when present)."""

    batch: Callable[[Any], np.ndarray]

    def __call__(self, w_r: np.ndarray) -> np.ndarray: ...


class _ReplicateColumns:
    """The (n x R) replicate weights as R column vectors, read block by block.

    The columns are float64 arrays (views of the data frame's columns when they are float64
    already, so defining a design copies nothing); ``zero`` marks rows whose replicate weights
    are 0 (outside a subset), applied as blocks are read. :meth:`full` builds the matrix once
    for code that needs it whole.
    """

    def __init__(self, columns: list, zero: np.ndarray | None = None,
                 view: np.ndarray | None = None) -> None:
        self.columns = columns
        self.zero: np.ndarray | None = zero
        self.shape = (len(columns[0]), len(columns))
        self._full: np.ndarray | None = None
        # the columns as one read-only (n x R) matrix without a copy, when they lie evenly
        # spaced in one buffer (a pandas block of float64 columns); else None
        self._view: np.ndarray | None = view if view is not None else _matrix_view(columns)
        # the largest weight (set by the value checks; see largest())
        self.max_value: float | None = None
        # a lower bound of the smallest weight, <= 0 (set by the value checks; see smallest())
        self.min_value: float | None = None
        self._colsums: np.ndarray | None = None
        self._memo: tuple[np.ndarray, np.ndarray] | None = None
        # the last single columns v multiplied (a copy) with W' v, newest first
        self._kept_columns: list[tuple[np.ndarray, np.ndarray]] = []
        # the last domain totals (_dense_domain_totals): (values, domain codes, number of
        # domains, ratio) -> T, read-only copies, replaced whole (never changed in place)
        self._kept_domains: tuple | None = None
        # the last domains' replicate weight sums: (domain codes, number of domains) -> R x D
        self._kept_sums: tuple | None = None

    @classmethod
    def from_matrix(cls, W: np.ndarray) -> "_ReplicateColumns":
        W = np.asfortranarray(W, dtype=float)
        src = cls([W[:, j] for j in range(W.shape[1])])
        src._full = W
        return src

    def take(self, rows, cols=None) -> np.ndarray:
        """``W[rows][:, cols]`` (rows: a slice or an index array) as a new array."""
        cs = self.columns if cols is None else (
            self.columns[cols] if isinstance(cols, slice) else [self.columns[j] for j in cols])
        whole = self._full if self._full is not None else self._view
        if whole is not None and isinstance(rows, slice):
            out = np.array(whole[rows, slice(None) if cols is None else cols], order="F")
        else:
            # index rows: column by column (a row gather of a column-major matrix reads one
            # value per memory page)
            first = cs[0][rows]
            out = np.empty((len(first), len(cs)), order="F")
            out[:, 0] = first
            for j in range(1, len(cs)):
                out[:, j] = cs[j][rows]
        if self.zero is not None:
            out[self.zero[rows]] = 0.0
        return out

    def blocks(self, block: int = 16384):
        n = self.shape[0]
        for i in range(0, n, block):
            sl = slice(i, min(i + block, n))
            yield sl, self.take(sl)

    def tdot(self, M: np.ndarray, block: int = 16384) -> np.ndarray:
        """``W' M`` (R x k, or R for a vector ``M``) in one pass over the rows.

        With the whole matrix at hand (built, or a view of the frame's block) this is one
        BLAS product on the idle cores (``blas_threads_on_idle_cores``); rows outside a subset
        are zeroed in ``M`` (``W_z' M = W' M_z``), not in ``W``. Otherwise row blocks of ``W``
        are copied and multiplied on one BLAS thread.

        The last products are kept (with a copy of their columns, compared value by value):
        the same totals asked for again (the same mean repeated, a proportion's estimate and
        its logit refits) cost one comparison instead of a pass over ``W``.
        """
        whole = self._full if self._full is not None else self._view
        if whole is not None and (M.ndim == 1 or M.shape[1] <= _FEW_COLUMNS):
            # a few columns: one matrix-vector product each (OpenBLAS's products of a
            # transposed column-major matrix with 2 columns take 1.3-2.6x the time of two
            # matrix-vector products, measured at 1,000,000 x 80)
            if M.ndim == 1:
                return self._column_tdot(M)
            return self._columns_tdot([M[:, j] for j in range(M.shape[1])], whole)
        memo = self._memo
        if (memo is not None and memo[0].shape == M.shape and memo[0].dtype == M.dtype
                and np.array_equal(memo[0], M)):
            return memo[1].copy()
        out = self._matrix_tdot(M, block)
        if M.size <= 4 * self.shape[0]:
            self._memo = (np.array(M, copy=True), out.copy())
        return out

    def tdot_parts(self, parts: list) -> np.ndarray:
        """``W' [A, B, ...]`` for (n x k_i) ``parts``, as :meth:`tdot` of their concatenation
        but without building it when the products are made column by column (the whole matrix
        at hand and at most 4 columns in all)."""
        whole = self._full if self._full is not None else self._view
        if whole is not None and sum(p.shape[1] for p in parts) <= _FEW_COLUMNS:
            return self._columns_tdot([p[:, j] for p in parts for j in range(p.shape[1])],
                                      whole)
        return self.tdot(np.concatenate(parts, axis=1))

    def _columns_tdot(self, columns: list, whole: np.ndarray) -> np.ndarray:
        """``W' v`` for a few columns ``v`` (``whole``: W at hand whole), as columns of one
        array. One column of values with a column of ones (a mean's numerators and
        denominators), neither kept yet: both products from one read of ``W``
        (:meth:`_tdot_with_colsums`)."""
        ones = [_is_ones(v) for v in columns]
        others = [v for v, one in zip(columns, ones, strict=True) if not one]
        if (any(ones) and len(others) == 1 and self._colsums is None
                and self.kept_product(others[0]) is None):
            self._tdot_with_colsums(others[0], whole)
        return np.column_stack([self.colsums().copy() if one else self._values_tdot(v)
                                for v, one in zip(columns, ones, strict=True)])

    def _tdot_with_colsums(self, v: np.ndarray, whole: np.ndarray) -> None:
        """Keep ``W' v`` and the weight sums ``W' 1``, reading ``W`` once from memory: row
        blocks of about 8 MB, each multiplied by ``v`` and then by 1 while it is still in the
        cache (two whole matrix-vector products at 1,000,000 x 80: 26 ms; this: 19 ms, on two
        cores). Rows outside a subset are zeroed in ``v`` and in the ones."""
        n, R = self.shape
        given = v
        v = np.ascontiguousarray(v, dtype=float)
        one = np.ones(n)
        if self.zero is not None and self._full is None:
            v = np.where(self.zero, 0.0, v)
            one[self.zero] = 0.0
        block = max(_MIN_FUSED_ROWS, _FUSED_BLOCK_BYTES // (8 * R))
        top, sums = np.zeros(R), np.zeros(R)
        with blas_threads_on_idle_cores():
            for i in range(0, n, block):
                Wb = whole[i:i + block]
                top += Wb.T @ v[i:i + block]
                sums += Wb.T @ one[i:i + block]
        self._colsums = sums
        self._keep(given, top)

    def kept_product(self, v: np.ndarray) -> np.ndarray | None:
        """``W' v`` when it is kept from an earlier product (a copy), else None."""
        if len(v) == 0:
            return None
        # (each kept pair is never changed after it is made, so a design used from several
        # threads at once cannot pair a column with another column's product)
        for seen, out in list(self._kept_columns):
            if seen[0] == v[0] and seen[-1] == v[-1] and np.array_equal(seen, v):
                return out.copy()
        return None

    def kept_domain_totals(self, vals: np.ndarray, dcodes: np.ndarray, n_domains: int,
                           ratio: bool) -> np.ndarray | None:
        """The domain totals ``T`` of :func:`_dense_domain_totals` (a copy) when the same values,
        domain codes and kind were asked for last (compared value by value), else None."""
        kept = self._kept_domains
        if kept is None:
            return None
        seen_vals, seen_codes, seen_d, seen_ratio, out = kept
        if (seen_d == n_domains and seen_ratio == ratio and seen_vals.shape == vals.shape
                and seen_codes.shape == dcodes.shape and np.array_equal(seen_codes, dcodes)
                and np.array_equal(seen_vals, vals)):
            return out.copy()
        return None

    def keep_domain_totals(self, vals: np.ndarray, dcodes: np.ndarray, n_domains: int,
                           ratio: bool, out: np.ndarray) -> None:
        """Keep the domain totals ``out`` of these values and domain codes (the last only)."""
        self._kept_domains = (_read_only_copy(vals), _read_only_copy(dcodes), n_domains, ratio,
                              _read_only_copy(out))

    def kept_domain_sums(self, dcodes: np.ndarray, n_domains: int) -> np.ndarray | None:
        """Each domain's replicate weight sums (R x D, a copy) when kept for these domain
        codes (compared value by value; -1: a row in no domain), else None."""
        kept = self._kept_sums
        if kept is None:
            return None
        seen_codes, seen_d, out = kept
        if (seen_d == n_domains and seen_codes.shape == dcodes.shape
                and np.array_equal(seen_codes, dcodes)):
            return out.copy()
        return None

    def keep_domain_sums(self, dcodes: np.ndarray, n_domains: int, sums: np.ndarray) -> None:
        """Keep the domains' replicate weight sums for these domain codes (the last only). The
        read-only copy of the codes kept with the last domain totals serves when it holds the
        same codes (one copy of an n-vector instead of two)."""
        kept = self._kept_domains
        codes = (kept[1] if kept is not None and kept[1].shape == dcodes.shape
                 and np.array_equal(kept[1], dcodes) else _read_only_copy(dcodes))
        self._kept_sums = (codes, n_domains, _read_only_copy(sums))

    def _column_tdot(self, v: np.ndarray) -> np.ndarray:
        """``W' v`` for one column ``v`` (W at hand whole): the kept weight sums for a column
        of ones, a kept product for a column seen before, else one matrix-vector product
        (kept, with a read-only copy of ``v``; the last 4 columns are kept)."""
        if _is_ones(v):
            return self.colsums().copy()
        return self._values_tdot(v)

    def _values_tdot(self, v: np.ndarray) -> np.ndarray:
        """``W' v`` for a column ``v`` that is not all ones: kept, or one matrix-vector
        product (then kept)."""
        out = self.kept_product(v)
        if out is not None:
            return out
        out = self._matrix_tdot(np.ascontiguousarray(v), 0)
        if len(v):
            self._keep(v, out)
        return out

    def _keep(self, v: np.ndarray, out: np.ndarray) -> None:
        """Keep ``W' v = out`` (read-only copies of both, never changed), newest first; the
        last 4 columns are kept."""
        kept = self._kept_columns
        del kept[_FEW_COLUMNS - 1:]
        kept.insert(0, (_read_only_copy(v), _read_only_copy(out)))

    def _matrix_tdot(self, M: np.ndarray, block: int) -> np.ndarray:
        whole = self._full if self._full is not None else self._view
        if whole is not None:
            Mz = M if self.zero is None or self._full is not None else np.where(
                self.zero if M.ndim == 1 else self.zero[:, None], 0.0, M)
            with blas_threads_on_idle_cores():
                return whole.T @ Mz
        vector = M.ndim == 1
        M2 = M[:, None] if vector else M
        out = np.zeros((self.shape[1], M2.shape[1]))
        with one_blas_thread():
            for sl, Wb in self.blocks(block):
                out += Wb.T @ M2[sl]
        return out[:, 0] if vector else out

    def block_tdot(self, sl: slice, M: np.ndarray) -> np.ndarray:
        """``W[sl]' M`` for a slice of rows (``M`` has the rows of the slice), without
        copying ``W`` when it is at hand whole."""
        whole = self._full if self._full is not None else self._view
        if whole is None:
            return self.take(sl).T @ M
        if self._full is None and self.zero is not None:
            M = np.where(self.zero[sl, None], 0.0, M)
        return whole[sl].T @ M

    def colsums(self) -> np.ndarray:
        """``W' 1``: each replicate's sum of weights (rows outside a subset count 0), kept
        after the first call."""
        if self._colsums is None:
            if self._full is None and self._view is None and self.zero is None:
                with one_blas_thread():
                    self._colsums = np.array([float(c.sum()) for c in self.columns])
            else:   # (not through tdot: the kept product stays the caller's)
                self._colsums = self._matrix_tdot(np.ones(self.shape[0]), 16384)
        return self._colsums

    def largest(self) -> float:
        """The largest replicate weight (an upper bound once rows are zeroed), from the value
        checks or found once here."""
        if self.max_value is None:
            self.max_value = max(float(np.max(c)) for c in self.columns)
        return self.max_value

    def smallest(self) -> float:
        """A lower bound of the smallest replicate weight, never above 0 (0: no weight is
        negative), from the value checks or found once here (rows zeroed later make it no
        smaller)."""
        if self.min_value is None:
            self.min_value = min(min(float(np.min(c)) for c in self.columns), 0.0)
        return self.min_value

    def has_negative(self) -> bool:
        """Whether any replicate weight may be negative (successive-difference replicates
        after calibration, e.g. ACS)."""
        return self.smallest() < 0

    def full(self) -> np.ndarray:
        if self._full is None and self._view is not None and self.zero is None:
            return self._view
        if self._full is None:
            W = np.empty(self.shape, order="F")
            for j, c in enumerate(self.columns):
                W[:, j] = c
            if self.zero is not None:
                W[self.zero] = 0.0
            self._full = W
        return self._full

    def with_zero(self, zero: np.ndarray) -> "_ReplicateColumns":
        z = zero if self.zero is None else (zero | self.zero)
        if self._full is not None:
            return _ReplicateColumns.from_matrix(np.where(z[:, None], 0.0, self._full))
        new = _ReplicateColumns(self.columns, z, view=self._view)
        new.max_value = self.max_value        # still an upper bound with rows zeroed
        new.min_value = self.min_value        # still a lower bound (<= 0) with rows zeroed
        return new


def _dense_domain_totals(W: "_ReplicateColumns", vals: np.ndarray, dcodes: np.ndarray, D: int,
                         ratio: bool, block: int, known: tuple | None = None) -> np.ndarray:
    """``W' M`` (R x ncol) in row blocks, ``M`` the analysis values times each domain's
    indicator (domain-major), then (``ratio``) the indicators themselves; rows with code -1
    belong to no domain. ``vals`` must be finite in every row (the rows not used are 0), so
    that a value times a 0 indicator is 0.

    ``known = (d, W' vals, W' 1)`` when every row is in a domain and those products are
    already kept: domain ``d``'s columns are then not built or multiplied; its totals are the
    known ones minus the other domains' (pass the largest domain, so that the difference
    loses the fewest digits: at most a factor D of the rounding of the whole sums).
    """
    n, k = vals.shape
    ncol = D * k + (D if ratio else 0)
    doms = [d for d in range(D) if known is None or d != known[0]]
    cols = [d * k + j for d in doms for j in range(k)] + ([D * k + d for d in doms] if ratio
                                                          else [])
    T_part = np.zeros((W.shape[1], len(cols)))
    buffer = np.empty((min(block, n), len(cols)), order="F")   # one for every block
    for i in range(0, n, block):
        sl = slice(i, min(i + block, n))
        dc = dcodes[sl]
        M = buffer[:dc.shape[0]]
        vb = vals[sl]
        # each column in one vectorised pass: the values where the row is in the column's
        # domain, 0 elsewhere (rows in no domain: 0 everywhere); written in place
        for i_d, d in enumerate(doms):
            inside = dc == d
            if ratio:
                ind = M[:, len(doms) * k + i_d]
                ind[:] = inside
                inside = ind           # (a float multiplier is faster than a boolean one)
            for j in range(k):
                np.multiply(vb[:, j], inside, out=M[:, i_d * k + j])
        T_part += W.block_tdot(sl, M)
    if known is None:
        return T_part
    T = np.zeros((W.shape[1], ncol))
    T[:, cols] = T_part
    d0, wv, w1 = known
    T[:, d0 * k:(d0 + 1) * k] = wv - T_part[:, :len(doms) * k].reshape(
        -1, len(doms), k).sum(axis=1)
    if ratio:
        T[:, D * k + d0] = w1 - T_part[:, len(doms) * k:].sum(axis=1)
    return T


def _known_totals(W: "_ReplicateColumns", vals: np.ndarray, dcodes: np.ndarray, D: int,
                  ratio: bool) -> tuple | None:
    """``(largest domain, W' vals, W' 1)`` for :func:`_dense_domain_totals` when every row is
    in a domain and ``W' vals`` (and, for ratios, the weight sums) are kept from earlier
    products (e.g. the overall mean of the same variable); else None."""
    if D < 2 or (ratio and W._colsums is None) or len(dcodes) == 0 or dcodes.min() < 0:
        return None
    tops = []
    for j in range(vals.shape[1]):
        top = W.kept_product(vals[:, j])
        if top is None:
            return None
        tops.append(top)
    largest = int(np.argmax(np.bincount(dcodes, minlength=D)))
    return largest, np.column_stack(tops), W._colsums


def _byte_bounds(a: np.ndarray) -> tuple[int, int]:
    """First and one-past-last byte address of ``a``'s memory (numpy 2 and 1)."""
    try:
        from numpy.lib.array_utils import byte_bounds
    except ImportError:   # numpy < 2
        byte_bounds = np.byte_bounds   # type: ignore[attr-defined]
    lo, hi = byte_bounds(a)
    return int(lo), int(hi)


def _root(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _matrix_view(columns: list) -> np.ndarray | None:
    """The 1-d float64 ``columns`` as one read-only (n x R) view, when they are contiguous,
    evenly spaced and all inside one array's memory (the columns of one pandas block); else
    None. Nothing is copied."""
    if len(columns) < 2:
        return None
    n = len(columns[0])
    for c in columns:
        if (not isinstance(c, np.ndarray) or c.dtype != np.float64 or c.ndim != 1
                or len(c) != n or c.strides != (8,)):
            return None
    addr = np.array([c.__array_interface__["data"][0] for c in columns], dtype=np.int64)
    steps = np.diff(addr)
    step = int(steps[0])
    if abs(step) < 8 * n or not (steps == step).all():
        return None
    root = _root(columns[0])
    if any(_root(c) is not root for c in columns[1:]):
        return None
    lo, hi = _byte_bounds(root)
    if int(addr.min()) < lo or int(addr.max()) + 8 * n > hi:
        return None
    return np.lib.stride_tricks.as_strided(columns[0], shape=(n, len(columns)),
                                           strides=(8, step), writeable=False)


def _is_ones(v: np.ndarray) -> bool:
    """Whether the column ``v`` is 1 in every row (a read-only broadcast 1 is seen at once)."""
    return bool(len(v) and v[0] == 1.0 and (v.strides[0] == 0 or (v == 1.0).all()))


def _read_only_copy(a: np.ndarray) -> np.ndarray:
    out = np.array(a, copy=True)
    out.setflags(write=False)
    return out


def _disjoint_groups(den: np.ndarray) -> np.ndarray:
    """A label per column of ``den``: columns whose non-zero rows overlap (directly or through
    other columns) share a label; columns on disjoint rows (domains) get their own.

    Each column is joined with the first column of each of its rows (union-find), one pass
    over the rows per column: no (columns x columns) product over the rows."""
    used = np.asarray(den) != 0
    first = np.where(used.any(axis=1), used.argmax(axis=1), -1)
    parent = np.arange(used.shape[1])

    def root(j: int) -> int:
        while parent[j] != j:
            parent[j] = parent[parent[j]]
            j = int(parent[j])
        return j

    for j in range(used.shape[1]):
        for i in np.unique(first[used[:, j]]):
            a, b = root(j), root(int(i))
            if a != b:
                parent[max(a, b)] = min(a, b)
    return np.array([root(j) for j in range(used.shape[1])])


def _replicate_numbers(numbers: list[int]) -> str:
    """Replicate numbers for a message: the first 10, then "..."."""
    return ", ".join(map(str, numbers[:10])) + (", ..." if len(numbers) > 10 else "")


_FEW_COLUMNS = 4   # W' M with up to this many columns: one matrix-vector product per column
_FUSED_BLOCK_BYTES = 2**23   # row blocks of W read once for W'v and W'1 (stay in the cache)
_MIN_FUSED_ROWS = 8192       # OpenBLAS runs a smaller matrix-vector product on one thread

_FIRST_INVALID_BITS = 0x7FF0000000000000   # bits of +inf; NaNs and negatives lie above it


def _column_maxima(columns: list) -> list[int]:
    """``int(c.max())`` of every column; over 4 million values, the columns are split between
    the idle cores (numpy's reductions release the GIL; one core cannot read memory as fast as
    two: 1,000,000 x 80 weights take about 15 ms on one core and 9 ms on two)."""
    threads = min(idle_cores() or 1, len(columns))
    if threads < 2 or sum(len(c) for c in columns) < 4_000_000:
        return [int(c.max()) for c in columns]
    import threading

    out: list[int] = [0] * len(columns)

    def work(part: range) -> None:
        for j in part:
            out[j] = int(columns[j].max())

    parts = [range(i, len(columns), threads) for i in range(threads)]
    workers = [threading.Thread(target=work, args=(part,)) for part in parts[1:]]
    for t in workers:
        t.start()
    work(parts[0])
    for t in workers:
        t.join()
    return out


def _bad_values_message(src: "_ReplicateColumns", names: list | None, kind: str, test,
                        counts: list[int]) -> str:
    """Say which replicate weight columns hold missing or infinite values (the first few, with
    their counts), in how many rows, and what to do."""
    rows = np.zeros(src.shape[0], dtype=bool)
    for c, k in zip(src.columns, counts, strict=True):
        if k:
            rows |= test(c)
    bad = [j for j, k in enumerate(counts) if k]
    label = ((lambda j: repr(str(names[j]))) if names is not None
             else (lambda j: f"column {j} (0-based)"))
    shown = ", ".join(f"{label(j)} ({counts[j]} row(s))" for j in bad[:_SHOWN_COLUMNS])
    more = f" and {len(bad) - _SHOWN_COLUMNS} more column(s)" if len(bad) > _SHOWN_COLUMNS else ""
    first = show_list(np.flatnonzero(rows)[:5]) + (" ..." if rows.sum() > 5 else "")
    hint = ("a missing-value code read as NaN?" if "missing" in kind
            else "a weight computed by dividing by zero?")
    return (
        f"replicate weights have {sum(counts)} {kind} value(s) in {int(rows.sum())} of "
        f"{src.shape[0]} row(s) (row positions {first}), in "
        f"{len(bad)} of {src.shape[1]} replicate weight column(s): {shown}{more}. Every "
        "respondent needs a finite replicate weight in every column (0 for a respondent left "
        f"out of a replicate). Check how the file was read ({hint}) and fill them as the "
        "survey's documentation says, or drop those rows from the data "
        "(e.g. df.dropna(subset=replicate_columns)) if they are not part of the sample."
    )


_SHOWN_COLUMNS = 5   # columns named in the message about missing / infinite replicate weights


def _check_replicate_values(src: "_ReplicateColumns", names: list | None = None) -> None:
    """Refuse missing or infinite replicate weights in one pass over the weights; note whether
    any is negative.

    Read as unsigned 64-bit integers, the non-negative finite doubles are exactly the values
    below the bits of ``+inf``, in the same order as the numbers (IEEE 754); NaNs and every
    value with the sign bit set lie above. So one maximum per column tells whether every
    weight is finite and non-negative, and gives the largest weight (kept for :func:`_rank`).
    Only when that test fails are the values looked at closely: NaNs and infinities are
    refused; finite negative weights are allowed (successive-difference replication followed
    by calibration gives them, e.g. the ACS PUMS replicate weights, as R ``svrepdesign``
    accepts) and recorded in ``src.min_value``.
    """
    tops = _column_maxima([c.view(np.uint64) for c in src.columns])
    if max(tops) < _FIRST_INVALID_BITS:
        src.max_value = float(np.array(max(tops), dtype=np.uint64).view(np.float64))
        src.min_value = 0.0
        return
    for kind, test in (("missing", np.isnan), ("infinite", np.isinf)):
        counts = [int(test(c).sum()) for c in src.columns]
        if any(counts):
            raise ReplicateWeightsError(_bad_values_message(src, names, kind, test, counts))
    src.max_value = max(float(np.max(c)) for c in src.columns)
    src.min_value = min(min(float(np.min(c)) for c in src.columns), 0.0)


def _rank_of(W: np.ndarray) -> int:
    """Numerical rank: eigenvalues of the smaller cross-product (R x R or n x n) above 1e-10
    times the largest (equivalent to R's ``qr(tol = 1e-5)`` on singular values)."""
    G = W.T @ W if W.shape[1] <= W.shape[0] else W @ W.T
    ev = np.linalg.eigvalsh(G)
    tol = ev.max() * 1e-10 if ev.max() > 0 else 0
    return int((ev > tol).sum())


def _sum_of_squares(src: "_ReplicateColumns", rows: np.ndarray) -> float:
    """``trace(W'W)`` of the rows ``rows`` (rows outside a subset count 0), block by block."""
    total = 0.0
    for sl, Wb in src.blocks():
        Wb = Wb[rows[sl]]
        total += float(np.einsum("ij,ij->", Wb, Wb))
    return total


def _rank(src: "_ReplicateColumns | np.ndarray", rows: np.ndarray) -> int:
    """:func:`_rank_of` of ``W[rows]``, without the (n x R^2) cross-product when a sample of
    rows already proves full column rank.

    ``W'W = S'S + Q'Q`` for the sampled rows ``S`` and the others ``Q``, both positive
    semi-definite, so ``lambda_min(W'W) >= lambda_min(S'S)`` and ``lambda_max(W'W) <=
    lambda_max(S'S) + trace(Q'Q)``. With non-negative weights ``trace(Q'Q) = trace(W'W) -
    trace(S'S) <= max(W) sum(W) - trace(S'S)`` (every ``w^2 <= max(W) w``); ``max(W)`` comes
    from the value checks and ``sum(W)`` from the replicates' weight sums. With a negative
    weight that bound fails (``sum(W)`` can even be negative), and ``trace(W'W)``, the sum of
    the squared weights, is computed exactly (one more pass over the weights). When
    ``lambda_min(S'S) > 4e-10 (lambda_max(S'S) + that bound)`` every eigenvalue of ``W'W`` is
    above ``1e-10 lambda_max(W'W)`` (with a factor 4 for rounding): the rank is ``R``, which
    the full computation would also give. Otherwise (a rank-deficient or ill-conditioned
    matrix, e.g. more replicates than sampled rows) the full computation decides.
    """
    if isinstance(src, np.ndarray):
        src = _ReplicateColumns.from_matrix(src)
    n, R = src.shape
    idx = np.flatnonzero(rows)
    m = len(idx)
    # runs of 32 consecutive rows spread evenly over the rows: every part of the sample (e.g.
    # every stratum of sorted data) is represented, each run is read in whole cache lines
    # (single strided rows cost one cache miss per value), and there are many runs, since
    # the rows of one PSU often have proportional replicate weights (rank 1 per run)
    run = 32
    n_runs = max(256, 2 * R)
    sample_rows = run * n_runs
    if m > 2 * sample_rows:
        starts = np.linspace(0, m - run, n_runs).astype(np.intp)
        whole = src._full if src._full is not None else src._view
        if whole is not None and m == n and src.zero is None:
            # slices of the matrix copied run by run (a fancy row gather of a column-major
            # matrix reads one value per memory page)
            S = np.empty((len(starts) * run, R), order="F")
            for k, s0 in enumerate(starts):
                S[k * run:(k + 1) * run] = whole[s0:s0 + run]
        else:
            S = src.take(idx[(starts[:, None] + np.arange(run)).ravel()])
        with blas_threads_on_idle_cores():
            G = S.T @ S
        ev = np.linalg.eigvalsh(G)
        if m == n:
            total = float(src.colsums().sum())
        else:       # (not through tdot: the kept product stays the caller's)
            total = float(src._matrix_tdot(np.asarray(rows, dtype=float), 16384).sum())
        if src.has_negative():
            # negative weights: w^2 <= max(W) w fails; trace(W'W) (the sum of the squared
            # weights of the rows used) is computed exactly instead
            squares = _sum_of_squares(src, rows)
        else:
            squares = src.largest() * total
        bound = ev[-1] + max(squares - float(np.trace(G)), 0.0)
        if ev[0] > 4e-10 * bound:
            return R
    return _rank_of(src.take(idx) if m < n else src.full())


_BLOCK_ELEMENTS = 2**21   # rows x columns of one block of indicator-weighted analysis values
_MAX_DENSE_COLUMNS = 16   # domains x (variables + 1) up to which W' M is one blocked product


def _single_blas(method):
    """Run ``method`` with BLAS on one thread (see ``replicate_variance.one_blas_thread``)."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with one_blas_thread():
            return method(*args, **kwargs)
    return wrapper


class ReplicateDesign(DesignBase):
    """A survey design whose variance comes from replicate weights (R ``svrepdesign``).

    Every estimate is recomputed with each set of replicate weights and the variance is
    ``scale * sum_r rscales_r (theta_r - c)^2`` (see
    :mod:`socialhealth.design.replicate_variance` for the defaults of each method).

    Parameters
    ----------
    data : pandas.DataFrame
    weights : str
        Full-sample analysis weight column.
    replicate_weights : str, list of str, or 2-D array
        A regular expression matching the replicate weight columns (``"^rw[0-9]+$"``), an
        explicit list of columns, or an (n x R) array.
    method : str, default "other"
        How the replicate weights were made: ``"jk1"``, ``"jkn"``, ``"brr"``, ``"fay"``,
        ``"bootstrap"``, ``"subbootstrap"``, ``"mrbbootstrap"``, ``"sdr"`` or ``"other"``; it
        sets the default ``scale`` and ``rscales``.
        ``"subbootstrap"`` (scale ``1/(R-1)``) and ``"mrbbootstrap"`` (scale 1, rscales
        ``1/(R-1)``) are the defaults of R's ``as.svrepdesign(type = ...)``, which
        ``SurveyDesign.to_replicate`` reproduces; R's ``svrepdesign`` itself takes neither,
        and its ``type = "bootstrap"`` with those ``scale=`` and ``rscales=`` gives the same
        variances.
    scale, rscales : float and array, optional
        Override the method's defaults (R ``scale=``, ``rscales=``). ``jkn`` needs ``rscales``.
    mse : bool, default False
        Centre the replicates at the full-sample estimate instead of their mean.
    combined_weights : bool, default True
        The replicate columns already include the sampling weights (R ``combined.weights``);
        with False they are multipliers of ``weights``.
    fay_rho : float, optional
        Fay coefficient for ``method="fay"``.

    Notes
    -----
    **The design's data** is a shallow copy of ``data`` (no values copied): with pandas
    copy-on-write (pandas >= 3) later in-place edits of your frame do not reach the design,
    as in R; see :class:`~socialhealth.SurveyDesign` for pandas 2.

    **Negative replicate weights.** Full-sample weights must be positive, but finite negative
    replicate weights are accepted, as R ``svrepdesign`` accepts them: successive-difference
    replication followed by calibration can push a replicate weight below zero, and the
    American Community Survey PUMS data dictionaries give the replicate weights
    ``WGTP1``-``WGTP80`` / ``PWGTP1``-``PWGTP80`` the range ``-9999..09999``. Missing and
    infinite replicate weights are still refused. For ACS person records::

        acs = sh.ReplicateDesign(pums, weights="PWGTP", replicate_weights="^PWGTP[0-9]+$",
                                 method="sdr")        # scale 4/80

    In R: ``svrepdesign(data = pums, weights = ~PWGTP, repweights = "PWGTP[0-9]+",
    type = "successive-difference", combined.weights = TRUE)`` (``type = "ACS"`` is the same).
    What each estimator does with them (compared with R survey 4.1-1 in
    ``tests/design/test_replicate_negative*.py``):

    - means, totals, ratios, domain (``by=``) estimates, ``var()``, tables and ``chisq()``,
      ``proportion()`` with ``method="mean"``, ``"xlogit"``, ``"asin"``, ``"beta"``,
      ``post_stratify()``, ``rake()``, ``calibrate()`` with ``calfun="raking"`` or
      ``"logit"`` or with ``bounds=`` (also ``tests/design/test_fuzz_replicate_vs_r.py``) and
      :func:`~socialhealth.models.logrank` use the weights as given: R's numbers;
    - ``glm()`` (every family: gaussian, binomial, poisson, Gamma, and their quasi
      versions), ``anova()`` of such fits and ``proportion()`` with ``method="logit"`` or
      ``"likelihood"`` refit each replicate by IRLS; R's ``glm.fit`` keeps only rows with a
      positive weight, so a negative replicate weight counts as 0 there. socialhealth does the
      same (R's numbers) and says so with an :class:`~socialhealth.errors.RDifferenceWarning`
      naming the replicates;
    - ``trim_weights()`` trims a negative replicate weight like any other non-zero weight
      (raised to ``lower``, or given its share of the redistribution);
    - ``calibrate()`` with ``calfun="linear"`` and no bounds (R fails: square roots of the
      weights), replicate quantile intervals
      (``interval_type="quantile"``: the cumulative weights are not monotone), Cox and
      ordinal models (R ``svycoxph`` stops: ``Invalid weights, must be >0``), model-refit
      margins, Kaplan-Meier standard errors (a replicate's curve can rise or leave [0, 1]; R's
      ``survfit`` stops) and attrition replicate refits raise
      :class:`~socialhealth.errors.ReplicateWeightsError` naming the replicates.

    ``degf()`` is the rank of the replicate weights as given (R ``degf``).

    References
    ----------
    Wolter KM (2007) *Introduction to Variance Estimation*, 2nd ed., Springer, ch. 3-5.
    Lumley T (2010) *Complex Surveys*, Wiley, §2.5.

    Examples
    --------
    User-supplied BRR half-sample multipliers for the six rows of ``scd`` (as in R's
    ``?svrepdesign``):

    >>> import numpy as np
    >>> import socialhealth as sh
    >>> scd = sh.datasets.load_example("scd")
    >>> repweights = 2 * np.array([[1, 0, 1, 0, 1, 0], [1, 0, 0, 1, 0, 1],
    ...                            [0, 1, 1, 0, 0, 1], [0, 1, 0, 1, 1, 0]]).T
    >>> scdrep = sh.ReplicateDesign(scd, weights=None, replicate_weights=repweights,
    ...                             method="brr", combined_weights=False)
    >>> scdrep.ratio("alive", "arrests")
    Survey ratio: Replicate-weight survey design (brr, 4 replicates)
             term level  estimate        se   ci_low  ci_high  df
    alive/arrests  None   0.25133 0.0422972 0.116721 0.385938   3
    6 rows used; CIs: t with design df
    In R: svyratio(~alive, ~arrests, design, na.rm = TRUE)

    Replicate-weight columns in the data, chosen by a regular expression:

    >>> import pandas as pd
    >>> apiclus1 = sh.datasets.load_example("apiclus1")
    >>> jk = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc").to_replicate("jk1")
    >>> rw = pd.DataFrame(jk.replicate_weights, columns=[f"rw{i}" for i in range(1, 16)])
    >>> df = pd.concat([apiclus1, rw], axis=1)
    >>> r = sh.ReplicateDesign(df, weights="pw", replicate_weights="^rw[0-9]+$", method="jk1")
    >>> r.n_replicates, r.degf()
    (15, 14.0)
    >>> round(r.scale, 4), round(jk.scale, 4)     # default (R-1)/R; jk also has the fpc
    (0.9333, 0.9148)
    >>> print(r.mean("api00").to_frame()[["term", "estimate", "se"]].round(2).to_string())
        term  estimate     se
    0  api00    656.71  17.14

    In R: ``svrepdesign(data = scd, type = "BRR", repweights = repweights,
    combined.weights = FALSE)``; ``svrepdesign(data = df, weights = ~pw, repweights = "rw[0-9]+",
    type = "JK1", scale = 14/15)``.
    """

    kind = "replicate"
    #: the Taylor design it was built from by as_replicate(), else None
    source_design: DesignBase | None = None
    #: the options of R's as.svrepdesign matching as_replicate() (type = ..., ...), else None
    _r_replicate_options: str | None = None

    def __init__(
        self,
        data: pd.DataFrame,
        weights: str | np.ndarray | None,
        replicate_weights: str | Sequence[str] | np.ndarray,
        method: str = "other",
        scale: float | None = None,
        rscales: Sequence[float] | np.ndarray | None = None,
        mse: bool = False,
        combined_weights: bool = True,
        fay_rho: float | None = None,
    ) -> None:
        check_data_frame(data, "ReplicateDesign")
        data = design_frame(data)     # its own frame, as R (see design_frame)
        mse = check_flag(mse, "mse", "ReplicateDesign")
        combined_weights = check_flag(combined_weights, "combined_weights", "ReplicateDesign")
        given, method = method, str(method).lower()
        if method not in METHODS:
            raise ReplicateWeightsError(
                f"method={show_given(given)} is not one of {', '.join(METHODS)}."
            )
        self.data = data
        n = len(data)
        if n == 0:
            raise DesignError("the data frame has no rows; a design needs at least one respondent.")
        # replicate weights: R float64 columns, views of the data frame's columns when they
        # are float64 already (nothing is copied); an array given by the user is used as it
        # is (column-major) when it is float64
        W: np.ndarray | None
        if isinstance(replicate_weights, np.ndarray):
            W = np.asarray(replicate_weights, dtype=float)
            src = None
            self._rep_columns = None
        else:
            if isinstance(replicate_weights, str):
                pattern = re.compile(replicate_weights)
                cols = [c for c in data.columns if pattern.search(str(c))]
                if not cols:
                    raise ReplicateWeightsError(
                        f"no column matches the replicate-weight pattern {replicate_weights!r}; "
                        "give a regular expression such as '^rw[0-9]+$' or a list of columns."
                    )
            else:
                if replicate_weights is None or isinstance(replicate_weights, Mapping) \
                        or np.ndim(replicate_weights) != 1:
                    raise ReplicateWeightsError(
                        f"replicate_weights= takes the replicate-weight columns: a list of "
                        f"column names, a regular expression such as '^repw_[0-9]+$', or an "
                        f"(n x R) array, not {show_given(replicate_weights)}.")
                cols = list(replicate_weights)
                require_columns(data, cols, "the data passed to ReplicateDesign")
            columns = [numeric_column(data, c, "replicate weight", ReplicateWeightsError)
                       for c in cols]
            if not copy_on_write():
                # without pandas' copy-on-write (pandas < 3 by default) a view of the frame's
                # column would follow later in-place edits of the frame: keep our own copy
                columns = [np.array(c, dtype=float, copy=True) for c in columns]
            else:
                # with it, pandas copies a block on a later in-place edit only while a pandas
                # object still refers to it (a NumPy view does not count): the columns are
                # held, so the edit goes to a copy and these views (and the products kept
                # from them) stay the weights checked here
                self._frame_refs = [data[c] for c in cols]
            W = np.empty((n, len(cols))) if not columns else None
            src = _ReplicateColumns(columns) if columns else None
            self._rep_columns = cols
        if src is None:
            if W is None:   # not reached: W is set whenever src is not
                raise ReplicateWeightsError("at least two replicate weight columns are needed.")
            if W.ndim != 2 or W.shape[0] != n:
                raise ReplicateWeightsError(
                    f"replicate weights must be an (n x R) matrix with n = {n} rows; got shape "
                    f"{W.shape}."
                )
            if W.shape[1] < 2:
                raise ReplicateWeightsError("at least two replicate weight columns are needed.")
            src = _ReplicateColumns.from_matrix(W)
        if src.shape[1] < 2:
            raise ReplicateWeightsError("at least two replicate weight columns are needed.")
        _check_replicate_values(src, self._rep_columns)
        if weights is None:
            w = np.ones(n)
        elif not isinstance(weights, str):
            try:
                w = np.asarray(weights, dtype=float)
            except (TypeError, ValueError):
                raise WeightError(f"weights= takes the name of the full-sample weight column or "
                                  f"one weight per row, not {show_given(weights)}.") from None
            if w.shape != (n,):
                raise WeightError(f"weights array has shape {w.shape}; expected ({n},).")
            check_weights(w, "weights")
            weights = None
        else:
            require_columns(data, [weights], "the data passed to ReplicateDesign")
            w = numeric_column(data, weights, "weight", WeightError)
            if copy_on_write():
                self._frame_refs = [*getattr(self, "_frame_refs", []), data[weights]]
            check_weights(w, weights)
        if fay_rho is not None and not (_is_number(fay_rho) and 0 <= float(fay_rho) < 1):
            raise ReplicateWeightsError(
                f"fay_rho= must be a number in [0, 1) (the Fay coefficient, e.g. 0.5), not "
                f"{show_given(fay_rho)}."
            )
        if not combined_weights:
            src = _ReplicateColumns([c * w for c in src.columns])
        R = src.shape[1]
        if (scale is not None
            and not (_is_number(scale) and np.isfinite(float(scale)) and float(scale) > 0)):
            raise ReplicateWeightsError(
                f"scale= must be one positive finite number (the overall variance multiplier), "
                f"not {show_given(scale)}; per-replicate multipliers go in rscales=."
            )
        if scale is None:
            scale = default_scale(method, R, fay_rho)
            if scale is None:
                raise ReplicateWeightsError(
                    "method='other' needs scale= (and rscales= if replicates differ)."
                )
        if rscales is None:
            if method == "jkn":
                raise ReplicateWeightsError(
                    "method='jkn' needs rscales= ((n_h - 1) / n_h for each replicate, times (1 - "
                    "f_h) with an fpc); or build it from a Taylor design with "
                    "design.to_replicate('jkn')."
                )
            rscales = default_rscales(method, R)
            if rscales is None:
                rscales = np.ones(R)
        try:
            rscales = np.asarray(rscales, dtype=float)
        except (TypeError, ValueError):
            raise ReplicateWeightsError(f"rscales= must be numbers, not {show_given(rscales)}."
                                        ) from None
        if rscales.ndim > 1:
            raise ReplicateWeightsError(f"rscales= must be a 1-d sequence of numbers; got shape "
                                        f"{rscales.shape}.")
        if rscales.size not in (1, R):
            raise ReplicateWeightsError(
                f"rscales has length {rscales.size}, should be one number or one per replicate "
                f"({R}, the number of replicate weight columns)."
            )
        rscales = np.broadcast_to(rscales.reshape(-1), (R,)).copy()
        if not np.isfinite(rscales).all() or (rscales < 0).any():
            raise ReplicateWeightsError("rscales= must be finite numbers >= 0.")
        self._w = w
        self._Wsrc = src
        self.method = method
        self.scale = float(scale)
        self.rscales = rscales
        self.mse = bool(mse)
        self.fay_rho = fay_rho
        self._weights_name = weights
        self._combined_weights = bool(combined_weights)
        self._degf_cache: dict = {}

    # ------------------------------------------------------------------ hooks
    @property
    def replicate_weights(self) -> np.ndarray:
        """(n x R) replicate analysis weights (0 outside a subset)."""
        return self._W

    @property
    def _W(self) -> np.ndarray:
        # the whole (n x R) matrix, built on first use (the estimators read it in blocks)
        return self._Wsrc.full()

    @_W.setter
    def _W(self, W) -> None:
        self._Wsrc = _ReplicateColumns.from_matrix(np.asarray(W, dtype=float))

    @property
    def n_replicates(self) -> int:
        """Number of replicates ``R`` (columns of the replicate weights)."""
        return self._Wsrc.shape[1]

    def _rep_vcov(self, theta, reps, groups=None) -> np.ndarray:
        """Replicate covariance of ``theta`` from the replicate estimates ``reps`` (R x p).

        ``groups``: a label per column (or a function giving them) for estimates of separate
        domains. A replicate whose estimate is undefined (NaN: it gives no weight to a domain's
        rows) is discarded, as R's ``svrVar``; R's ``svyby`` estimates each domain on its own,
        so a replicate undefined in one domain is discarded for that domain's variance only.
        The blocks of each group are therefore computed from that group's defined replicates
        (the covariances between groups from the replicates defined in every column, as R's
        ``svyby(covmat = TRUE)``). The labels are only needed when a replicate is undefined.
        """
        V = replicate_vcov(theta, reps, self.scale, self.rscales, self.mse)
        if groups is None:
            return V
        reps = np.asarray(reps, dtype=float)
        undefined = np.isnan(reps)
        if reps.ndim != 2 or not undefined.any():
            return V
        labels = np.asarray(groups() if callable(groups) else groups)
        anywhere = undefined.any(axis=1)
        theta = np.atleast_1d(np.asarray(theta, dtype=float))
        for g in np.unique(labels):
            cols = np.flatnonzero(labels == g)
            if np.array_equal(undefined[:, cols].any(axis=1), anywhere):
                continue           # the same replicates as for the whole matrix
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SocialHealthWarning)   # warned once above
                V[np.ix_(cols, cols)] = replicate_vcov(theta[cols], reps[:, cols], self.scale,
                                                       self.rscales, self.mse)
        return V

    def _ratio_vcov(self, num, den, theta):
        W = self._Wsrc
        if den is None:
            reps = W.tdot(num)
        else:
            # numerators and denominators in one pass over W (column by column, without
            # concatenating them, when there are few; a column of ones is the weight sums)
            k = num.shape[1]
            both = W.tdot_parts([num, den])
            with np.errstate(divide="ignore", invalid="ignore"):
                reps = both[:, :k] / both[:, k:]
            # ratios whose denominators share no row (domains: ratio(by=), proportion(by=))
            # are separate estimates in R (svyby)
            return self._rep_vcov(theta, reps, groups=lambda: _disjoint_groups(den))
        return self._rep_vcov(theta, reps)

    def _cell_replicate_totals(self, key: np.ndarray, n_cells: int) -> np.ndarray:
        """(R x C) replicate totals of the cells ``key`` (0..C-1; -1: in no cell): ``W' M``
        with ``M`` the cell indicators, in row blocks (an indicator block at a time, never the
        whole n x C matrix)."""
        W = self._Wsrc
        n = len(key)
        if W._view is not None or W._full is not None:
            block, threads = max(4096, 2**19 // n_cells), blas_threads_on_idle_cores()
        else:
            block, threads = (max(256, _BLOCK_ELEMENTS // max(n_cells, W.shape[1])),
                              one_blas_thread())
        with threads:
            return _dense_domain_totals(W, np.broadcast_to(np.ones(1), (n, 1)), key, n_cells,
                                        False, block)

    def _domain_vcov(self, theta, vals, dcodes, n_domains, totals_den, all_rows=False):
        """Replicate totals (or ratios) of every analysis column in every domain.

        Few domains: one pass over ``W`` in row blocks, ``W_b' M_b`` with ``M_b`` the analysis
        values times each domain's indicator (and the indicators themselves for the
        denominators); many domains: the rows of each domain in turn."""
        W = self._Wsrc
        n, k = vals.shape
        D = n_domains
        R = W.shape[1]
        ratio = totals_den is not None
        ncol = D * k + (D if ratio else 0)
        groups = np.repeat(np.arange(D), k)     # columns domain by domain
        if D == 1 and (W._view is not None or W._full is not None):
            # one domain (a plain mean or total): W' y in one product over the whole matrix;
            # the denominators are the replicates' weight sums when every row is used
            inside = dcodes == 0
            every = bool(inside.all())
            y = vals if every else np.where(inside[:, None], vals, 0.0)
            # the rows used are the rows the replicate weights keep (every row, or a subset
            # with no missing value): the denominators are the replicates' weight sums
            zero = W.zero
            all_kept = every or (zero is not None and not (inside == zero).any())
            if ratio and all_kept:
                # numerators and the weight sums together: one read of W when neither is kept
                # (OpenBLAS's one product W'[y, 1] is slower than two; see _tdot_with_colsums)
                both = W.tdot_parts([y, np.broadcast_to(np.ones(1), (n, 1))])
                with np.errstate(divide="ignore", invalid="ignore"):
                    return self._rep_vcov(theta, both[:, :k] / both[:, k:], groups)
            top = W.tdot(y[:, 0] if k == 1 else y).reshape(R, k)
            if not ratio:
                return self._rep_vcov(theta, top, groups)
            den = W.tdot(inside.astype(float))
            with np.errstate(divide="ignore", invalid="ignore"):
                return self._rep_vcov(theta, top / den[:, None], groups)
        if ncol <= _MAX_DENSE_COLUMNS:
            if W._view is not None or W._full is not None:
                # W at hand whole: large row blocks, BLAS on the idle cores
                block, threads = max(4096, 2**19 // ncol), blas_threads_on_idle_cores()
            else:
                # row blocks of W copied: blocks that stay in cache, BLAS on one thread
                block, threads = max(256, _BLOCK_ELEMENTS // max(ncol, R)), one_blas_thread()
            # the same domain totals asked for again (the same table repeated, or a
            # proportion's estimate and its interval): one comparison instead of a pass over W
            T = W.kept_domain_totals(vals, dcodes, D, ratio)
            if T is None:
                # a ratio's denominators, the domains' replicate weight sums, depend on the
                # domains (and the rows used) only: kept from the last domain table on the
                # same domains (another variable by the same groups), only the numerators
                # are multiplied
                sums = W.kept_domain_sums(dcodes, D) if ratio else None
                with threads:
                    if sums is None:
                        T = _dense_domain_totals(W, vals, dcodes, D, ratio, block,
                                                 _known_totals(W, vals, dcodes, D, ratio))
                    else:
                        tops = _dense_domain_totals(
                            W, vals, dcodes, D, False, max(4096, 2**19 // (D * k)),
                            _known_totals(W, vals, dcodes, D, False))
                        T = np.concatenate([tops, sums], axis=1)
                W.keep_domain_totals(vals, dcodes, D, ratio, T)
                if ratio and sums is None:
                    W.keep_domain_sums(dcodes, D, T[:, D * k:])
                    if W._colsums is None and len(dcodes) and dcodes.min() >= 0:
                        # every row in a domain: the replicates' weight sums are the sums
                        # of the domains' (kept: the degrees of freedom and later means
                        # need them, and would otherwise read W again)
                        W._colsums = T[:, D * k:].sum(axis=1)
            top = T[:, :D * k]
            if not ratio:
                return self._rep_vcov(theta, top, groups)
            den = np.repeat(T[:, D * k:], k, axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                return self._rep_vcov(theta, top / den, groups)
        # many domains: the rows of each domain in turn
        reps = np.empty((R, D * k))
        with one_blas_thread():
            for d in range(D):
                rows = np.flatnonzero(dcodes == d)
                Wd = W.take(rows)
                top = Wd.T @ vals[rows]
                if totals_den is None:
                    reps[:, d * k:(d + 1) * k] = top
                else:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        reps[:, d * k:(d + 1) * k] = top / Wd.sum(axis=0)[:, None]
        return self._rep_vcov(theta, reps, groups)

    @_single_blas
    def _general_vcov(self, theta, influence=None,
                      refit: Callable[[np.ndarray], np.ndarray] | None = None):
        if refit is None:   # not reached: every caller on a replicate design gives refit
            raise DesignError("a replicate design needs the estimator to refit per replicate.")
        batch = getattr(refit, "batch", None)     # all replicates at once from W, if offered
        if batch is not None:
            reps = np.asarray(batch(self._Wsrc), dtype=float).reshape(self.n_replicates, -1)
        else:
            reps = np.vstack([np.atleast_1d(refit(self._W[:, r]))
                              for r in range(self.n_replicates)])
        # refit.groups (optional): domain labels of the estimates, so that a replicate undefined
        # in one domain is discarded for that domain only (R's svyby; see _rep_vcov)
        return self._rep_vcov(theta, reps, groups=getattr(refit, "groups", None))

    def reweight(self, weights) -> "ReplicateDesign":
        """The design with new analysis weights, each row's replicate weights multiplied by the
        same factor.

        Row ``i`` gets weight ``weights[i]`` and replicate weights ``W[i, r] * weights[i] / w[i]``
        (``w`` the current weights): the replicate variance then treats the new weights as
        known, as the sandwich of a Taylor design does after
        :meth:`~socialhealth.design.base.DesignBase.with_weights` (which, on a replicate design,
        keeps the replicate weights as they are). Use it for inverse probability weights
        (attrition, non-response) computed once from the full sample. Rows with weight 0 are
        outside the analysis (their replicate weights become 0).

        Parameters
        ----------
        weights : array of float, one per row of ``design.data``
            New analysis weights (finite, >= 0; 0 where the current weight is 0).

        Returns
        -------
        ReplicateDesign

        Raises
        ------
        DesignError
            Wrong length.
        WeightError
            A missing, infinite or negative weight, or a positive weight on a row whose current
            weight is 0 (it has no replicate weights to scale).

        Examples
        --------
        >>> import numpy as np
        >>> import socialhealth as sh
        >>> scd = sh.datasets.load_example("scd")
        >>> W = 2 * np.array([[1, 0, 1, 0, 1, 0], [1, 0, 0, 1, 0, 1],
        ...                   [0, 1, 1, 0, 0, 1], [0, 1, 0, 1, 1, 0]]).T
        >>> d = sh.ReplicateDesign(scd, weights=np.ones(6), replicate_weights=W, method="brr")
        >>> d2 = d.reweight(np.array([1.0, 1, 2, 2, 1, 0]))
        >>> d2.replicate_weights[:, 0].tolist()
        [2.0, 0.0, 4.0, 0.0, 2.0, 0.0]

        In R: ``svrepdesign(data = scd, weights = ~wnew, repweights = W * scd$wnew / 1,
        type = "BRR", combined.weights = TRUE)``.
        """
        w = self._row_weights(weights)
        w0 = np.asarray(self.weights, dtype=float)
        bad = ~np.isfinite(w) | (w < 0) | ((w > 0) & ~(w0 > 0))
        if bad.any():
            raise WeightError(
                f"reweight: {int(bad.sum())} weight(s) are missing, infinite, negative or "
                "positive on a row whose current weight is 0 (first row "
                f"{int(np.flatnonzero(bad)[0])}); give finite weights >= 0, and 0 outside the "
                "design's rows.")
        ratio = np.divide(w, w0, out=np.zeros(len(w)), where=w0 > 0)
        new = self._with_weights(w)
        new._Wsrc = _ReplicateColumns.from_matrix(self._Wsrc.full() * ratio[:, None])
        new._degf_cache = {}
        return new

    def _with_weights(self, w, data=None):
        new = copy.copy(self)
        w = np.asarray(w, dtype=float)
        outside = w <= 0
        new._w = w
        new._Wsrc = self._Wsrc.with_zero(outside)
        new._degf_cache = {}
        new.__dict__["_cache"] = {}        # DesignBase._cached() keeps it there
        if data is not None:
            new.data = data
        return new

    def _var_replicate_vcov(self, theta, parts) -> np.ndarray:
        """Replicate covariance of :meth:`var`: each replicate's weighted (co)variance
        ``n/(n-1) (sum w_r c_a c_b / sum w_r - (sum w_r c_a)(sum w_r c_b) / (sum w_r)^2)``
        with its own mean (``c`` the values centred at the full-sample mean, for accuracy;
        the result does not depend on the centre), per domain, as R ``svyvar`` on a
        replicate design (``parts``: (rows, centred values, rows used) of each domain)."""
        W = self._Wsrc
        cols = []
        for ind, centred, nobs in parts:
            k = centred.shape[1]
            M = [ind.astype(float)] + [centred[:, a] for a in range(k)]
            M += [centred[:, a] * centred[:, b] for a in range(k) for b in range(a, k)]
            T = W.tdot(np.column_stack(M))
            S0, S1, k2 = T[:, 0], T[:, 1:1 + k], 1 + k
            with np.errstate(divide="ignore", invalid="ignore"):
                for a in range(k):
                    for b in range(a, k):
                        cols.append(nobs / (nobs - 1) * (T[:, k2] / S0
                                                         - S1[:, a] * S1[:, b] / S0 ** 2))
                        k2 += 1
        sizes = [c.shape[1] * (c.shape[1] + 1) // 2 for _, c, _ in parts]
        groups = np.repeat(np.arange(len(parts)), sizes)      # columns domain by domain
        return self._rep_vcov(theta, np.column_stack(cols), groups)

    def _negative_replicates(self, rows: np.ndarray | None = None) -> list[int]:
        """1-based numbers of the replicates with a negative weight on ``rows`` (positions or
        a boolean mask; default: the rows in the subset)."""
        src = self._Wsrc
        if not src.has_negative():
            return []
        mask = self._subset_mask() if rows is None else np.asarray(rows)
        if mask.dtype != bool:
            m = np.zeros(src.shape[0], dtype=bool)
            m[mask] = True
            mask = m
        neg = np.zeros(src.shape[1], dtype=bool)
        for sl, Wb in src.blocks():
            neg |= (Wb[mask[sl]] < 0).any(axis=0)
        return [int(r) + 1 for r in np.flatnonzero(neg)]

    def _irls_refit_design(self, what: str) -> "ReplicateDesign":
        """The design whose replicate weights R's IRLS refits see: negative replicate weights
        count as 0.

        R ``svyglm`` (and ``svyciprop``'s ``logit`` and ``likelihood`` methods, which fit
        ``svyglm``) refits each replicate with ``glm.fit``, which keeps only the rows with a
        positive weight (``good <- weights > 0``): a negative replicate weight is silently
        treated as 0. This returns ``self`` when no weight is negative; otherwise a copy with
        those weights set to 0 (same degrees of freedom: R's ``degf`` uses the weights as
        given) and a :class:`~socialhealth.errors.RDifferenceWarning` naming the replicates.
        """
        negative = self._negative_replicates()
        if not negative:
            return self
        shown = _replicate_numbers(negative)
        warnings.warn(
            f"{what}: replicate weight set(s) {shown} have negative weights; as in R (glm.fit "
            "keeps only rows with a positive weight) they count as 0 in the replicate refits, "
            "so the standard errors are R's svyglm ones, not a replicate variance with the "
            "negative weights as published. The mean, total, ratio and proportion "
            "(method='mean', 'xlogit', 'asin', 'beta') use the weights as given.",
            RDifferenceWarning, stacklevel=user_stacklevel())
        degf = self.degf()
        new = copy.copy(self)
        new._Wsrc = _ReplicateColumns.from_matrix(np.maximum(self._Wsrc.full(), 0.0))
        new._degf_cache = {"degf": degf}
        new.__dict__["_cache"] = dict(self.__dict__.get("_cache", {}))
        return new

    def _refuse_negative_replicates(self, rows, what: str, r_behaviour: str) -> None:
        """Raise :class:`~socialhealth.errors.ReplicateWeightsError` when a replicate weight of
        ``rows`` is negative, for estimators not defined with negative weights."""
        negative = self._negative_replicates(rows)
        if negative:
            shown = _replicate_numbers(negative)
            raise ReplicateWeightsError(
                f"{what} cannot use negative replicate weights (replicate weight set(s) "
                f"{shown}); {r_behaviour} Use a Taylor-series design, or replicate weights "
                "without negative values."
            )

    def _model_degf(self, rows) -> float:
        """``degf`` of the whole design (R ``svyglm.svyrep.design`` takes it before dropping
        rows with a missing value); see :meth:`DesignBase._model_degf`."""
        return self.degf()

    # ------------------------------------------------------------------ public extension API
    @property
    def weights_column(self) -> str | None:
        """Name of the full-sample weight column (None: given as an array, or equal weights)."""
        return self._weights_name

    @property
    def replicate_columns(self) -> list[str] | None:
        """Names of the replicate weight columns in ``data`` (None: given as an array)."""
        return None if self._rep_columns is None else list(self._rep_columns)

    # ------------------------------------------------------------------ R code
    def r_code(self, data_name: str = "df") -> str:
        """The R call that builds the same design.

        A design made by ``SurveyDesign.to_replicate`` gives R's ``as.svrepdesign`` of the
        Taylor design's ``svydesign`` call (R then builds the same replicate weights, except
        the random bootstrap ones, which R draws itself: same estimates, other standard
        errors); a design built from replicate-weight columns gives ``svrepdesign`` with those
        columns, type, ``scale`` and ``rscales``. Replicate weights given as an array are not in
        the data: the call names them ``repweights``, an R matrix the user must supply (e.g.
        written to CSV from ``design.replicate_weights``).

        Examples
        --------
        >>> import socialhealth as sh
        >>> apiclus1 = sh.datasets.load_example("apiclus1")
        >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
        >>> d.to_replicate("jk1").r_code()
        'as.svrepdesign(svydesign(id = ~dnum, weights = ~pw, fpc = ~fpc, data = df), type = "JK1")'
        """
        opts = getattr(self, "_r_replicate_options", None)
        src = getattr(self, "source_design", None)
        if opts is not None and src is not None and callable(getattr(src, "r_code", None)):
            inner = src.r_code(data_name=data_name)
            pre, _, call = inner.rpartition("; ")
            code = f"as.svrepdesign({call}, {opts})"
            code = f"{pre}; {code}" if pre else code
        else:
            code = self._r_svrepdesign(data_name)
        return self._r_wrap(code, data_name)

    def _implied_weights_text(self) -> str:
        spec = getattr(self.source_design, "_spec", None) or {}
        if spec.get("probs") or spec.get("fpc"):
            return "implied by the design's " + ("probabilities" if spec.get("probs") else "fpc")
        return "none (equal)" if np.allclose(self._w[self._w != 0], 1.0) else "given as numbers"

    def _r_svrepdesign(self, data_name: str) -> str:
        types = {"jk1": "JK1", "jkn": "JKn", "brr": "BRR", "fay": "Fay", "bootstrap": "bootstrap",
                 "subbootstrap": "bootstrap", "mrbbootstrap": "bootstrap",
                 "sdr": "successive-difference", "acs": "ACS", "jk2": "JK2"}
        rtype = types.get(str(self.method).lower(), "other")
        cols = self._rep_columns
        if cols is None:
            rep = "repweights"
        else:
            prefix = os.path.commonprefix(list(cols))
            pattern = re.escape(str(prefix)) + r"[0-9]+"
            if (re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(prefix))
                    and all(re.fullmatch(pattern, str(c)) for c in cols)
                    and sum(bool(re.fullmatch(pattern, str(c))) for c in self.data.columns)
                    == len(cols)):
                rep = f'"^{prefix}[0-9]+$"'
            else:
                rep = f"{data_name}[, c(" + ", ".join(r_quoted(c) for c in cols) + ")]"
        parts = [f"data = {data_name}"]
        if self._weights_name:
            parts.append(f"weights = ~{self._weights_name}")
        parts += [f"repweights = {rep}", f'type = "{rtype}"']
        if rtype == "Fay":
            rho = self.fay_rho if self.fay_rho is not None else 0.5
            parts.append(f"rho = {r_number(rho)}")
        parts.append(f"scale = {r_number(self.scale)}")
        rs = np.asarray(self.rscales, dtype=float)
        parts.append("rscales = " + (f"{r_number(rs[0])}" if np.all(rs == rs[0]) else
                                     "c(" + ", ".join(f"{r_number(v)}" for v in rs) + ")"))
        if self.mse:
            parts.append("mse = TRUE")
        parts.append("combined.weights = " + ("TRUE" if self._combined_weights else "FALSE"))
        return f"svrepdesign({', '.join(parts)})"

    # ------------------------------------------------------------------ information
    @_single_blas
    def degf(self) -> float:
        """Rank of the replicate weights (rows in the subset) minus one (R ``degf``).

        ``df = rank(W_subset) - 1`` with ``W_subset`` the (rows in subset x R) replicate
        weights; the rank uses a relative eigenvalue tolerance of 1e-10 on ``W'W`` (singular
        values above 1e-5 of the largest; the same rank as R's ``qr(tol = 1e-5)`` except on
        weights that are rank deficient up to rounding, e.g. rounded weights times PSU
        multipliers with more replicates than PSUs, where R's pivoted QR can count rounding
        noise as rank: ``tests/design/test_fuzz_replicate_vs_r.py``). Used for t-based
        intervals and tests.

        Examples
        --------
        >>> import socialhealth as sh
        >>> apistrat = sh.datasets.load_example("apistrat")
        >>> d = sh.SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
        >>> r = d.to_replicate("jkn")
        >>> r.n_replicates, r.degf()
        (200, 197.0)
        >>> r.subset(r.data.stype == "H").degf()
        49.0

        In R: ``degf(as.svrepdesign(dstrat, type = "JKn"))``.
        """
        if "degf" not in self._degf_cache:
            self._degf_cache["degf"] = float(_rank(self._Wsrc, self.in_subset) - 1)
        return self._degf_cache["degf"]

    def describe(self) -> str:
        """Text description: method, replicates, rows, scale, rscales, mse, degrees of freedom.

        Examples
        --------
        >>> import socialhealth as sh
        >>> apiclus1 = sh.datasets.load_example("apiclus1")
        >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
        >>> print(d.to_replicate("bootstrap", replicates=50, seed=1).describe())
        Replicate-weight survey design (bootstrap, 50 replicates)
          rows: 119
          scale: 0.0204082; rscales: 1; mse: False; degrees of freedom: 14
          weights: pw, sum 6,005.53

        In R: ``print(design)``.
        """
        lines = [
            f"Replicate-weight survey design ({self.method}, {self.n_replicates} replicates)",
            f"  rows: {amount(self.n)}"
            + (f" ({amount(len(self))} in subset)" if len(self) < self.n else ""),
            f"  scale: {self.scale:.6g}; rscales: "
            + (f"{self.rscales[0]:.6g}"
               if np.allclose(self.rscales, self.rscales[0]) else "per replicate")
            + f"; mse: {self.mse}; degrees of freedom: {self.degf():g}",
            f"  weights: {self._weights_name or self._implied_weights_text()}, "
            f"sum {amount(self._w.sum())}",
        ]
        return "\n".join(lines)
