"""Subcommands added by later modules (training, sweep, results, fit, bench)."""


def register(sub) -> None:
    return None
