"""Every error the engine raises on purpose, in one hierarchy.

    HotlineError                 stable ``code`` + one-line message; never shown with a traceback
    ├── SettingsError            a setting is unknown or has a bad value           (exit 2)
    │   └── InstanceOwned        the PBX instance belongs to another data folder (another checkout)
    ├── DomainError              the request makes no sense for the current state  (exit 1)
    │   ├── CallNotFound
    │   └── ControllerRunning    a second controller for the same data folder
    ├── UnreachableError         something we depend on does not answer            (exit 3)
    │   ├── DatabaseUnreachable
    │   ├── PbxNotInstalled
    │   ├── PbxUnreachable
    │   ├── PortInUse
    │   └── PbxLoginFailed       Asterisk runs but refuses our ARI or AMI login
    └── PbxCommandFailed         Asterisk answered, but said no                    (exit 3)

The CLI maps each branch to the exit code in brackets (0 ok, 1 domain, 2 usage, 3 PBX/DB).
"""

from __future__ import annotations


class HotlineError(Exception):
    """Base class: ``code`` is stable for scripts, ``str(err)`` is the line a person reads."""

    code = "hotline-error"
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SettingsError(HotlineError):
    code = "bad-setting"
    exit_code = 2


class InstanceOwned(SettingsError):
    code = "pbx-instance-owned"


class DomainError(HotlineError):
    code = "domain-error"
    exit_code = 1


class CallNotFound(DomainError):
    code = "call-not-found"


class ControllerRunning(DomainError):
    code = "controller-running"


class UnreachableError(HotlineError):
    code = "unreachable"
    exit_code = 3


class DatabaseUnreachable(UnreachableError):
    code = "database-unreachable"


class PbxNotInstalled(UnreachableError):
    code = "pbx-not-installed"


class PbxUnreachable(UnreachableError):
    code = "pbx-unreachable"


class PortInUse(UnreachableError):
    code = "port-in-use"


class PbxLoginFailed(UnreachableError):
    code = "pbx-login-failed"


class PbxCommandFailed(HotlineError):
    code = "pbx-command-failed"
    exit_code = 3
