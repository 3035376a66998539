"""Missing-value rate of a column and the two-proportion test of its change."""

from __future__ import annotations

import math

from scipy.special import erfc

__all__ = ["missing_ratio", "two_proportion_pvalue"]


def _check_share(part: float, total: float, part_name: str, total_name: str) -> None:
    if not (math.isfinite(part) and math.isfinite(total)) or total < 0:
        raise ValueError(f"{total_name} must be finite and non-negative")
    if not 0 <= part <= total:
        raise ValueError(f"{part_name} must be between 0 and {total_name}")


def missing_ratio(missing: float, total: float) -> float:
    """Share of missing values, ``missing / total`` (0.0 when ``total == 0``).

    Examples
    --------
    >>> missing_ratio(5, 200)
    0.025
    >>> missing_ratio(0, 0)
    0.0
    """
    _check_share(missing, total, "missing", "total")
    return missing / total if total > 0 else 0.0


def two_proportion_pvalue(x1: float, n1: float, x2: float, n2: float) -> float:
    """Two-sided p-value of the pooled two-proportion z-test.

    ``z = (x1/n1 - x2/n2) / sqrt(p (1 - p) (1/n1 + 1/n2))`` with the pooled share
    ``p = (x1 + x2) / (n1 + n2)``; ``p-value = 2 * (1 - Phi(|z|)) = erfc(|z| / sqrt 2)``.
    Returns 1.0 when the test is undefined (an empty sample, or ``p`` equal to 0 or 1).

    Parameters
    ----------
    x1, n1 : float
        Missing count and total of the reference.
    x2, n2 : float
        Missing count and total of the window.

    Returns
    -------
    float
        p-value in [0, 1].

    Examples
    --------
    >>> round(two_proportion_pvalue(10, 1000, 25, 1000), 6)
    0.010529
    >>> two_proportion_pvalue(0, 1000, 0, 50)
    1.0
    """
    _check_share(x1, n1, "x1", "n1")
    _check_share(x2, n2, "x2", "n2")
    if n1 == 0 or n2 == 0:
        return 1.0
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
    if variance <= 0:
        return 1.0
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return float(erfc(abs(z) / math.sqrt(2.0)))
