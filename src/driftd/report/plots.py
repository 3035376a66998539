"""The report's plots as inline SVG: a window against its reference, per column.

A numeric column gets its histogram (both sides on the same bins) beside its ECDFs with
the largest gap between them marked (the KS statistic); a categorical column a pair of
bars per category, ``__other__`` and missing included.
"""

from __future__ import annotations

import numpy as np

from driftd.report.distributions import (
    MISSING,
    CategoricalDistribution,
    Floats,
    NumericDistribution,
    ecdf,
    histogram,
)
from driftd.report.svg import (
    DRIFT,
    INK,
    REFERENCE,
    WINDOW,
    Scale,
    axes,
    esc,
    legend,
    number,
    percent,
    svg,
)

WIDTH = 760
MAX_CATEGORY_ROWS = 40  # more are summed into one row, so a plot stays readable


def numeric_plot(dist: NumericDistribution) -> str:
    """Histogram (left) and ECDFs (right) of the window over the reference."""
    height, top, bottom = 260, 34, 214
    hist = histogram(dist)
    x_left = Scale(float(hist.edges[0]), float(hist.edges[-1]), 56, 360)
    peak = float(max(hist.reference.max(initial=0), hist.window.max(initial=0), 1e-9))
    y_left = Scale(0.0, peak * 1.08, bottom, top)
    parts = [axes(x_left, y_left, x_ticks=x_left.ticks(4), y_ticks=y_left.ticks(4),
                  y_label=percent)]
    for i, share in enumerate(hist.reference):
        x0, x1 = x_left(float(hist.edges[i])), x_left(float(hist.edges[i + 1]))
        parts.append(f'<rect class="reference" x="{x0:.1f}" y="{y_left(float(share)):.1f}" '
                     f'width="{max(x1 - x0 - 0.5, 0.5):.1f}" '
                     f'height="{bottom - y_left(float(share)):.1f}" fill="{REFERENCE}" '
                     f'fill-opacity="0.55"/>')
    steps = [f"M{x_left(float(hist.edges[0])):.1f},{bottom:.1f}"]
    for i, share in enumerate(hist.window):
        steps.append(f"V{y_left(float(share)):.1f}H{x_left(float(hist.edges[i + 1])):.1f}")
    steps.append(f"V{bottom:.1f}")
    parts.append(f'<path class="window" d="{"".join(steps)}" fill="{WINDOW}" '
                 f'fill-opacity="0.12" stroke="{WINDOW}" stroke-width="1.5"/>')
    parts.append(_ecdf_panel(dist, Scale(x_left.low, x_left.high, 440, WIDTH - 16),
                             Scale(0.0, 1.0, bottom, top)))
    parts.append(legend(56, 14, [(REFERENCE, "reference", ""), (WINDOW, "window", "")]))
    parts.append(
        f'<text x="56" y="{height - 12}" font-size="11" fill="{INK}">share of present '
        f"values per bin (values beyond the axis in the end bins); missing: reference "
        f"{percent(_share(dist.reference_missing, dist.reference))}, window "
        f"{percent(_share(dist.window_missing, dist.window))}</text>")
    return svg(WIDTH, height, "".join(parts), title=f"{dist.column}: window vs reference",
               data={"column": dist.column, "kind": "numeric"})


def _share(missing: int, present: np.ndarray) -> float:
    total = missing + int(present.sum())
    return missing / total if total else 0.0


def _ecdf_panel(dist: NumericDistribution, x: Scale, y: Scale) -> str:
    ref, win = ecdf(dist.reference), ecdf(dist.window)
    positions = np.clip(dist.positions, x.low, x.high)
    parts = [axes(x, y, x_ticks=x.ticks(4), y_ticks=y.ticks(4))]
    for name, colour, shares, counts in (("reference", REFERENCE, ref, dist.reference),
                                         ("window", WINDOW, win, dist.window)):
        parts.append(f'<path class="ecdf {name}" d="{_steps(x, y, positions, shares, counts)}" '
                     f'fill="none" stroke="{colour}" stroke-width="1.5"/>')
    if dist.window.sum() and dist.reference.sum():
        gap = np.abs(ref - win)
        k = int(np.argmax(gap))
        px = x(float(positions[k]))
        parts.append(f'<line class="ks" x1="{px:.1f}" x2="{px:.1f}" y1="{y(float(ref[k])):.1f}" '
                     f'y2="{y(float(win[k])):.1f}" stroke="{DRIFT}" stroke-width="2"/>')
        parts.append(f'<text x="{x.start:.1f}" y="{y.stop - 8:.1f}" font-size="11" '
                     f'fill="{DRIFT}">largest ECDF gap {number(float(gap[k]))} at '
                     f"{esc(number(float(dist.positions[k])))}</text>")
    return "".join(parts)


def _steps(x: Scale, y: Scale, positions: Floats, shares: Floats,
           counts: np.ndarray) -> str:
    """A right-continuous step path through the buckets that hold counts, one vertex per
    half pixel at most (a 4,096-point grid need not make a 4,096-vertex path)."""
    filled = np.flatnonzero(counts)
    if filled.size == 0:
        return f"M{x.start:.1f},{y(0.0):.1f}H{x.stop:.1f}"
    px = np.round((x.start + (positions[filled] - x.low) / max(x.high - x.low, 1e-300)
                   * (x.stop - x.start)) * 2) / 2
    last = np.r_[px[1:] != px[:-1], True]  # the last bucket drawn at each half pixel
    path = [f"M{x.start:.1f},{y(0.0):.1f}"]
    for p, share in zip(px[last], shares[filled][last], strict=True):
        path.append(f"H{p:.1f}V{y(float(share)):.1f}")
    path.append(f"H{x.stop:.1f}")
    return "".join(path)


def categorical_plot(dist: CategoricalDistribution) -> str:
    """One pair of horizontal bars (reference, window) per category."""
    labels, ref, win, folded = _rows(dist)
    ref_shares = ref / max(int(ref.sum()), 1)
    win_shares = win / max(int(win.sum()), 1)
    row, top = 22, 40
    height = top + row * len(labels) + 34
    # The row of folded categories may hold most of the mass: it does not set the scale
    # (its bars stop at the axis' end, its labels tell the share).
    scaled = np.ones(len(labels), dtype=bool)
    if folded is not None:
        scaled[folded] = False
    peak = float(max(ref_shares[scaled].max(initial=0), win_shares[scaled].max(initial=0),
                     1e-9))
    x = Scale(0.0, peak * 1.1, 200, WIDTH - 60)
    y = Scale(0.0, float(len(labels)), top, top + row * len(labels))
    parts = [axes(x, Scale(0.0, 1.0, y.stop, y.start), x_ticks=x.ticks(5), y_ticks=[],
                  x_label=percent)]
    for i, label in enumerate(labels):
        y0 = y(float(i))
        shown = label if len(label) <= 28 else label[:27] + "…"
        style = ' font-style="italic"' if i >= len(labels) - 2 else ""
        parts.append(f'<text x="192" y="{y0 + 14:.1f}" font-size="11" text-anchor="end" '
                     f'fill="{INK}"{style}><title>{esc(label)}</title>{esc(shown)}</text>')
        for offset, name, colour, share in ((3, "reference", REFERENCE, ref_shares[i]),
                                            (11, "window", WINDOW, win_shares[i])):
            end = min(x(float(share)), x.stop)
            parts.append(f'<rect class="{name}" x="{x.start:.1f}" y="{y0 + offset:.1f}" '
                         f'width="{max(end - x.start, 0.0):.1f}" height="7" fill="{colour}"/>')
            parts.append(f'<text x="{end + 4:.1f}" y="{y0 + offset + 7:.1f}" font-size="9" '
                         f'fill="{INK}">{percent(float(share))}</text>')
    parts.append(legend(200, 16, [(REFERENCE, "reference", ""), (WINDOW, "window", "")]))
    return svg(WIDTH, height, "".join(parts), title=f"{dist.column}: window vs reference",
               data={"column": dist.column, "kind": "categorical"})


def _rows(dist: CategoricalDistribution
          ) -> tuple[list[str], np.ndarray, np.ndarray, int | None]:
    """The rows to draw, and the index of the folded row if any: the profile's
    categories (most frequent first), or past ``MAX_CATEGORY_ROWS`` those with the
    largest share on either side and one row summing the rest; then ``__other__`` and
    missing."""
    named = len(dist.labels) - 2
    labels, ref, win = list(dist.labels), dist.reference, dist.window
    if named <= MAX_CATEGORY_ROWS:
        return labels, ref, win, None
    shares = np.maximum(ref[:named] / max(int(ref.sum()), 1),
                        win[:named] / max(int(win.sum()), 1))
    keep = np.sort(np.argsort(-shares, kind="stable")[:MAX_CATEGORY_ROWS - 1])
    rest = np.setdiff1d(np.arange(named), keep)
    folded = f"({rest.size} more categories)"
    return ([*(labels[i] for i in keep), folded, "__other__", MISSING],
            np.r_[ref[keep], ref[rest].sum(), ref[named:]],
            np.r_[win[keep], win[rest].sum(), win[named:]], keep.size)
