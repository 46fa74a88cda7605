"""Training: the model's config, ladder and default learning rates (``config``, ``hparams``: no torch),
the model (``model``), the Lightning loop with its evaluation and callbacks (``loop``), checkpoints
and resumable runs (``checkpoints``, ``resume``), the throughput bench and the vocabulary study."""
