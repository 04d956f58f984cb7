"""The one error type for bad user input (its own module so every layer can raise it)."""


class ConfigError(ValueError):
    """Bad user input. The message is one line that names the fix."""
