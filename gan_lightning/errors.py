class ConfigError(ValueError):
    """A bad setting, raised where it enters; the CLI prints it as one line instead of a traceback."""


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the run stops before any checkpoint could store the damage."""
