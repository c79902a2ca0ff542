"""Check that the upstream services call the components membership tracking needs.

Two of the hooks the community-event components use are config-driven component
lists that only newer upstream releases read (09 §3 step 10, §7). Without them,
inclusion acceptances, bulk additions and removals would leave no membership event, so
the extension says so loudly instead of losing events silently.
"""

import logging
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version


@dataclass(frozen=True)
class ComponentHook:
    """One upstream service config that must read a component list from config."""

    module: str
    config_class: str
    config_key: str
    distribution: str
    first_release: str
    records: str

    def installed_version(self) -> str:
        """Installed version of the upstream distribution, or ``not installed``."""
        try:
            return version(self.distribution)
        except PackageNotFoundError:
            return "not installed"

    def is_present(self) -> bool:
        """Whether the class itself defines ``components`` read from ``config_key``."""
        try:
            cls = getattr(import_module(self.module), self.config_class)
        except (ImportError, AttributeError):
            return False
        descriptor = cls.__dict__.get("components")
        return getattr(descriptor, "config_key", None) == self.config_key


COMPONENT_HOOKS = (
    ComponentHook(
        "invenio_requests.services.events.config",
        "RequestEventsServiceConfig",
        "REQUESTS_EVENTS_SERVICE_COMPONENTS",
        "invenio-requests",
        "7.2.3",
        "accepted community inclusion and submission requests",
    ),
    ComponentHook(
        "invenio_rdm_records.services.config",
        "RDMRecordCommunitiesConfig",
        "RDM_RECORD_COMMUNITIES_SERVICE_COMPONENTS",
        "invenio-rdm-records",
        "19.6.0",
        "bulk additions and removals of records from communities",
    ),
)
"""The hooks and the first 13.0-line releases that provide them."""


@dataclass(frozen=True)
class HookStatus:
    """Result of the hook check, shown by the status commands."""

    missing: tuple[ComponentHook, ...]

    @property
    def active(self) -> bool:
        """Whether live membership tracking sees every path."""
        return not self.missing

    @property
    def reason(self) -> str:
        """One line per missing hook: package, version, what is lost, the fix."""
        return "; ".join(
            f"{hook.distribution} {hook.installed_version()} does not call "
            f"{hook.config_key} (needs >= {hook.first_release}), so "
            f"{hook.records} are not recorded: upgrade it or run apply_patches.sh"
            for hook in self.missing
        )


def check_component_hooks(hooks=COMPONENT_HOOKS) -> HookStatus:
    """Check every hook; cheap (imports and attribute look-ups only)."""
    return HookStatus(tuple(hook for hook in hooks if not hook.is_present()))


_warned = False


def warn_if_hooks_missing(logger: logging.Logger) -> HookStatus:
    """Log one WARNING per process when a hook is missing; return the status."""
    global _warned
    status = check_component_hooks()
    if not status.active and not _warned:
        logger.warning("Live membership tracking inactive: %s", status.reason)
        _warned = True
    return status
