"""What the noise costs in accuracy: 95% half-widths of team means, from the schema's scales.

`python -m worktally.client.report.accuracy` prints the tables pasted into docs/privacy.md; a
test fails when the document and these numbers drift apart.
"""

from __future__ import annotations

import math
from statistics import NormalDist

from worktally.client.wire.schema import DEFAULT_EPSILON, METRICS, noise_parameters

Z95 = NormalDist().inv_cdf(0.975)
TEAM_SIZES = (10, 12, 16, 24, 50, 200)
# The demo's tokenmaxxing contrast: a cohort whose shipped token share is this much lower.
CONTRAST_METRIC = "shipped_token_share_pm"
CONTRASTS_PER_MILLE = (400, 500, 700)


def half_width(variance: float, n: int) -> float:
    """95% half-width of the mean of n reports, each carrying independent noise."""
    return Z95 * math.sqrt(variance / n)


def separation_probability(variance: float, n: int, difference: float) -> float:
    """Chance that two cohorts of n whose true means differ by `difference` get disjoint 95%
    intervals (noise only; real spread within a team lowers it)."""
    sd_difference = math.sqrt(2 * variance / n)
    return 1 - NormalDist().cdf((2 * half_width(variance, n) - difference) / sd_difference)


def significance_probability(variance: float, n: int, difference: float) -> float:
    """Chance that the 95% interval of the difference between the two cohorts excludes 0."""
    sd_difference = math.sqrt(2 * variance / n)
    return 1 - NormalDist().cdf(Z95 - difference / sd_difference)


def budget_table(epsilon: float = DEFAULT_EPSILON) -> str:
    specs = noise_parameters(epsilon)
    lines = [
        "| metric | bounds | unit | share of ε | ε | noise scale | noise sd per person |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in METRICS:
        s = specs[m.name]
        lines.append(
            f"| `{m.name}` | {m.lower}..{m.upper} | {m.unit} | {s.epsilon / epsilon:.0%} "
            f"| {s.epsilon:.2f} | {s.scale:,.1f} | {math.sqrt(s.variance):,.1f} |"
        )
    return "\n".join(lines)


def accuracy_table(epsilon: float = DEFAULT_EPSILON) -> str:
    specs = noise_parameters(epsilon)
    header = " | ".join(f"n={n}" for n in TEAM_SIZES)
    lines = [f"| metric | {header} |", "|---|" + "---|" * len(TEAM_SIZES)]
    for m in METRICS:
        cells = " | ".join(f"±{half_width(specs[m.name].variance, n):,.0f}" for n in TEAM_SIZES)
        lines.append(f"| `{m.name}` ({m.unit}) | {cells} |")
    return "\n".join(lines)


def contrast_table(epsilon: float = DEFAULT_EPSILON) -> str:
    variance = noise_parameters(epsilon)[CONTRAST_METRIC].variance
    header = " | ".join(f"n={n}" for n in TEAM_SIZES)
    lines = [f"| `{CONTRAST_METRIC}` lower by | test | {header} |",
             f"|---|---|{'---|' * len(TEAM_SIZES)}"]
    for diff in CONTRASTS_PER_MILLE:
        for name, fn in (("intervals disjoint", separation_probability),
                         ("difference significant", significance_probability)):
            cells = " | ".join(f"{fn(variance, n, diff):.0%}" for n in TEAM_SIZES)
            lines.append(f"| {diff}‰ | {name} | {cells} |")
    return "\n".join(lines)


def render(epsilon: float = DEFAULT_EPSILON) -> str:
    return "\n\n".join((budget_table(epsilon), accuracy_table(epsilon), contrast_table(epsilon)))


if __name__ == "__main__":
    print(render())
