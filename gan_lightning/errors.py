class ConfigError(ValueError):
    """A bad setting, raised where it enters; the CLI prints it as one line instead of a traceback."""
