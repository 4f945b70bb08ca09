"""Statistical power: is a segmentation good enough for *my* question?

A segmentation is good enough when its errors do not change the biological
conclusion. For a measurement such as nuclear area, that can be checked
directly: take the measurement error the method really makes (measured area
divided by true area, object by object) and ask how it changes the power to
detect the effect you are after — with the biological replicate (well,
animal, day), not the nucleus, as the unit of the experiment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class ReplicatePowerResult:
    n_replicates: int  # biological replicates (wells, animals, days) per group
    nuclei_per_replicate: int
    power: float  # fraction of experiments in which the test on replicate means gives p < alpha
    pseudo_power: float  # the same with every nucleus wrongly treated as a replicate
    mean_ratio: float  # mean measured group-B / group-A ratio of the replicate means


def simulate_replicate_power(
    true_values,
    effect: float,
    n_replicates: int,
    nuclei_per_replicate: int,
    replicate_cv: float,
    error_ratios=None,
    n_sim: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> ReplicatePowerResult:
    """Simulate two-group experiments whose unit is the biological replicate, not the nucleus.

    Each group has ``n_replicates`` replicates (wells, animals, culture days).
    Every replicate has its own level: its nuclei are drawn from
    ``true_values`` and multiplied by a replicate factor drawn from a
    log-normal distribution with mean 1 and coefficient of variation
    ``replicate_cv`` (the variation between replicates that no number of
    nuclei averages away). Group B is further multiplied by ``effect``. If
    ``error_ratios`` is given, every nucleus is measured with a
    measured/true ratio drawn from it, as in :func:`simulate_experiment_power`.

    ``power`` tests the replicate means (one value per replicate, Welch's
    t-test), the analysis that respects the design. ``pseudo_power`` tests
    all nuclei as if each were an independent replicate — pseudoreplication:
    with ``effect=1`` it is the false-positive rate of that wrong analysis,
    which rises far above ``alpha`` when replicates differ.
    """
    true_values = np.asarray(true_values, float)
    if true_values.size < 2:
        raise ValueError("need at least two true values to resample from")
    if n_replicates < 2 or nuclei_per_replicate < 1:
        raise ValueError(
            f"need at least 2 replicates per group and 1 nucleus per replicate, got {n_replicates} and "
            f"{nuclei_per_replicate}"
        )
    if replicate_cv < 0:
        raise ValueError(f"replicate_cv is a coefficient of variation and cannot be negative, got {replicate_cv}")
    rng = np.random.default_rng(seed)
    sigma = np.sqrt(np.log1p(replicate_cv**2))
    shape = (n_sim, n_replicates, nuclei_per_replicate)

    def group(factor: float) -> np.ndarray:
        level = np.exp(rng.normal(-(sigma**2) / 2, sigma, size=(n_sim, n_replicates, 1)))
        values = rng.choice(true_values, size=shape) * level * factor
        if error_ratios is not None:
            values = values * rng.choice(np.asarray(error_ratios, float), size=shape)
        return values

    a, b = group(1.0), group(effect)
    mean_a, mean_b = a.mean(axis=2), b.mean(axis=2)
    p = stats.ttest_ind(mean_a, mean_b, axis=1, equal_var=False).pvalue
    p_pseudo = stats.ttest_ind(a.reshape(n_sim, -1), b.reshape(n_sim, -1), axis=1, equal_var=False).pvalue
    return ReplicatePowerResult(
        n_replicates,
        nuclei_per_replicate,
        float(np.mean(p < alpha)),
        float(np.mean(p_pseudo < alpha)),
        float(np.mean(mean_b.mean(axis=1) / mean_a.mean(axis=1))),
    )
