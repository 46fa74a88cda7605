"""Analysis of the run tables (numpy, scipy and pandas only; never torch): the paper's laws, effective
data and the from-scratch curve, the fits, the experiments past the paper, the claims ledger, the
timelines calculation, learning-rate tuning, which runs a fit may read (``selection``) and what the
chapters read (``study``)."""
