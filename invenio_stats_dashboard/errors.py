"""Errors of invenio-stats-dashboard."""


class ConfigurationError(Exception):
    """A data-affecting configuration variable is invalid; the app must not start.

    The message holds one line per problem, each naming the variable, the path
    inside it and the rule broken (07 §1.5).
    """
