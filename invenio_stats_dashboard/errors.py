"""Errors of invenio-stats-dashboard."""


class ConfigurationError(Exception):
    """A data-affecting configuration variable is invalid; the app must not start.

    The message holds one line per problem, each naming the variable, the path
    inside it and the rule broken (07 §1.5).
    """


class TaskLockAcquisitionError(Exception):
    """A task lock is held by another run, so this run must not start its work.

    The message names the holder, ``lock <name> held by <host>:<pid> since <time>``,
    so the CLI can print it as is (06 §1 "One run at a time").
    """

    def __init__(self, lock_name: str, host: str, pid: str, since: str) -> None:
        self.lock_name = lock_name
        self.host = host
        self.pid = pid
        self.since = since
        super().__init__(f"lock {lock_name} held by {host}:{pid} since {since}")
