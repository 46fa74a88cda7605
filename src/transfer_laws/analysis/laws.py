"""The laws as pure functions (numpy only). Data sizes in characters unless a name says tokens.

Hernandez et al. 2021 (eq. 1.1): D_T = k * D_F**alpha * N**beta, with D_T = D_E - D_F.
Kaplan et al. 2020 (Table 2 / eq. 1.5): L(N, D) = [(N_c/N)**(alpha_N/alpha_D) + D_c/D]**alpha_D.
Hoffmann et al. 2022: L(N, D) = E + A/N**a + B/D**b.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq


@dataclass(frozen=True)
class TransferLaw:
    k: float
    alpha: float
    beta: float

    def d_transferred(self, d_train_chars, n_params):
        return transfer_law(d_train_chars, n_params, self.k, self.alpha, self.beta)


# Hernandez et al. 2021, Table 1 (Python as the target; D in characters)
PAPER_TEXT = TransferLaw(k=1.9e4, alpha=0.18, beta=0.38)
PAPER_MIX = TransferLaw(k=2.1e5, alpha=0.096, beta=0.38)
# Kaplan et al. 2020, Table 2 (D in tokens)
KAPLAN = {"alpha_n": 0.076, "alpha_d": 0.103, "n_c": 6.4e13, "d_c": 1.8e13}


def transfer_law(d_train_chars, n_params, k, alpha, beta):
    """D_T = k * D_F**alpha * N**beta (Hernandez+21 eq. 1.1)."""
    return k * np.power(d_train_chars, alpha) * np.power(n_params, beta)


def kaplan_loss(n_params, d_tokens, alpha_n=KAPLAN["alpha_n"], alpha_d=KAPLAN["alpha_d"], n_c=KAPLAN["n_c"],
                d_c=KAPLAN["d_c"]):
    """L(N, D) = [(N_c/N)**(alpha_N/alpha_D) + D_c/D]**alpha_D (Kaplan+20 eq. 1.5)."""
    return np.power(np.power(n_c / np.asarray(n_params, float), alpha_n / alpha_d) + d_c / np.asarray(d_tokens, float),
                    alpha_d)


def chinchilla_loss(n_params, d, e, a, b, alpha, beta):
    """L(N, D) = E + A/N**alpha + B/D**beta (Hoffmann+22)."""
    return e + a / np.power(n_params, alpha) + b / np.power(d, beta)


def fraction_from_transfer(d_train_chars, n_params, k, alpha, beta):
    """D_T / D_E = k D_F^(alpha-1) N^beta / (1 + k D_F^(alpha-1) N^beta)."""
    r = k * np.power(d_train_chars, alpha - 1.0) * np.power(n_params, beta)
    return r / (1.0 + r)


def multiplier(d_train_chars, n_params, k, alpha, beta):
    """D_E / D_F = 1 + k D_F^(alpha-1) N^beta."""
    return 1.0 + k * np.power(d_train_chars, alpha - 1.0) * np.power(n_params, beta)


def crossover_d_finetune(law_a: TransferLaw, law_b: TransferLaw) -> float:
    """The D_F where two laws with a shared beta transfer equally: (k_b/k_a)**(1/(alpha_a-alpha_b)).

    Independent of N when beta is shared (Rohin Shah's alpha puzzle)."""
    if not np.isclose(law_a.beta, law_b.beta):
        raise ValueError("the crossover is independent of N only for a shared beta")
    if np.isclose(law_a.alpha, law_b.alpha):
        return float("inf")
    return float((law_b.k / law_a.k) ** (1.0 / (law_a.alpha - law_b.alpha)))


def crossover_at_n(law_a: TransferLaw, law_b: TransferLaw, n_params) -> np.ndarray:
    """The D_F at which two laws transfer equally at model size N (their betas may differ):
    k_a D^alpha_a N^beta_a = k_b D^alpha_b N^beta_b. Above it the law with the larger alpha
    transfers more. Infinite for equal alphas. With a shared beta it is the same for every N."""
    n = np.asarray(n_params, float)
    d_alpha = law_a.alpha - law_b.alpha
    if d_alpha == 0:
        return np.full(n.shape, np.inf)
    log_ratio = np.log(law_b.k / law_a.k) + (law_b.beta - law_a.beta) * np.log(n)
    with np.errstate(over="ignore"):
        return np.exp(log_ratio / d_alpha)


def solve_d_finetune(d_effective: float, n_params: float, k: float, alpha: float, beta: float) -> float:
    """The D_F with D_F + k D_F^alpha N^beta = D_E (how much target data the law says is needed)."""
    if d_effective <= 0:
        raise ValueError("D_E must be positive")
    f = lambda log_d: np.exp(log_d) + transfer_law(np.exp(log_d), n_params, k, alpha, beta) - d_effective
    lo = -50.0
    if f(lo) > 0:  # transfer alone exceeds D_E even at (almost) no fine-tuning data
        return 0.0
    return float(np.exp(brentq(f, lo, np.log(d_effective), xtol=1e-12)))
