"""The command line's settings: where each comes from, the config file, and the client.

Precedence, highest first: command-line argument, environment variable (``DRIFTLOCK_*``), the
config file written by ``driftlock config set`` (``$XDG_CONFIG_HOME/driftlock/config.json``,
by default ``~/.config/driftlock/config.json``), then the SDK's defaults. The API key is never
stored in the file: it comes from ``--api-key`` or ``DRIFTLOCK_API_KEY`` only, and is shown
masked.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from driftlock._client import DriftlockSyncClient
from driftlock._config import (
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_MAX_RETRIES,
    ENV_TIMEOUT,
    ClientConfig,
)
from driftlock.exceptions import DriftlockConfigError

__all__ = [
    "EXIT_ANOMALIES",
    "EXIT_API",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_USAGE",
    "FILE_KEYS",
    "OUTPUTS",
    "CLIError",
    "Setting",
    "Settings",
    "config_path",
    "load_config_file",
    "mask_key",
    "parse_setting",
    "save_config_file",
]

EXIT_OK: Final = 0
EXIT_ANOMALIES: Final = 1
EXIT_USAGE: Final = 2
EXIT_API: Final = 3
EXIT_INTERNAL: Final = 4

OUTPUTS: Final = ("table", "json", "jsonl")
ENV_OUTPUT: Final = "DRIFTLOCK_OUTPUT"
DEFAULT_OUTPUT: Final = "table"
# What `driftlock config set` may store (not the API key: a plaintext file is no place for it).
FILE_KEYS: Final = ("base_url", "timeout", "max_retries", "output")


class CLIError(Exception):
    """A failure the command line reports as one line on stderr, exiting with ``code``."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def mask_key(key: str) -> str:
    """The key as ``dlk_…abcd``: its public prefix and, for keys long enough to spare them,
    its last four characters; never more."""
    prefix = "dlk_" if key.startswith("dlk_") else ""
    tail = key[-4:] if len(key) >= 16 else ""
    return f"{prefix}…{tail}"


def _positive_float(value: object, where: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or number <= 0:
        raise CLIError(f"{where} must be a positive number of seconds, got {value!r}")
    return number


def _retries(value: object, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value)
    else:
        raise CLIError(f"{where} must be a whole number, 0 or more, got {value!r}")
    if number < 0:
        raise CLIError(f"{where} must be a whole number, 0 or more, got {value!r}")
    return number


def _output(value: object, where: str) -> str:
    if value not in OUTPUTS:
        raise CLIError(f"{where} must be one of {', '.join(OUTPUTS)}, got {value!r}")
    return str(value)


def _base_url(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CLIError(f"{where} must be a URL, got {value!r}")
    try:  # the client's own checks; every other setting given, so only the URL is judged
        ClientConfig.resolve(
            api_key="placeholder", base_url=value, timeout=DEFAULT_TIMEOUT, max_retries=0
        )
    except DriftlockConfigError as exc:
        raise CLIError(f"{where}: {exc}") from None
    return value.strip()


_PARSERS: Final[dict[str, Callable[[object, str], Any]]] = {
    "base_url": _base_url,
    "timeout": _positive_float,
    "max_retries": _retries,
    "output": _output,
}


def parse_setting(name: str, value: object, where: str) -> Any:
    """Check and convert one setting's value; ``where`` names its origin in error messages."""
    return _PARSERS[name](value, where)


def config_path(environ: Mapping[str, str]) -> Path:
    """The config file: ``$XDG_CONFIG_HOME/driftlock/config.json``, by default under
    ``~/.config``."""
    base = environ.get("XDG_CONFIG_HOME", "").strip()
    root = Path(base) if base else Path.home() / ".config"
    return root / "driftlock" / "config.json"


def load_config_file(path: Path) -> dict[str, Any]:
    """The settings stored in ``path`` (empty when there is no file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CLIError(f"cannot read the config file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CLIError(f"the config file {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise CLIError(f"the config file {path} must hold a JSON object")
    unknown = sorted(set(data) - set(FILE_KEYS))
    if unknown:
        raise CLIError(
            f"the config file {path} has unknown settings: {', '.join(unknown)} "
            f"(known: {', '.join(FILE_KEYS)})"
        )
    return data


def save_config_file(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically (a reader never sees half a file)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(dict(data), out, indent=2, sort_keys=True)
            out.write("\n")
        os.replace(temporary, path)
    except OSError as exc:
        raise CLIError(f"cannot write the config file {path}: {exc.strerror}") from None


@dataclasses.dataclass(frozen=True, slots=True)
class Setting:
    """One effective setting: its value and where it came from (``argument (--timeout)``,
    ``environment (DRIFTLOCK_TIMEOUT)``, ``config file`` or ``default``)."""

    name: str
    value: Any
    source: str


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """Every effective setting of one command-line run."""

    base_url: Setting
    api_key: Setting
    timeout: Setting
    max_retries: Setting
    output: Setting
    config_file: Path

    @classmethod
    def resolve(
        cls, arguments: Mapping[str, Any], environ: Mapping[str, str], path: Path
    ) -> Settings:
        """Argument > environment > config file > default, each value checked."""
        stored = load_config_file(path)

        def pick(name: str, option: str, env: str, default: Any) -> Setting:
            if arguments.get(name) is not None:
                value = parse_setting(name, arguments[name], option)
                return Setting(name, value, f"argument ({option})")
            raw = environ.get(env, "").strip()
            if raw:
                return Setting(name, parse_setting(name, raw, env), f"environment ({env})")
            if name in stored:
                value = parse_setting(name, stored[name], f"{name} in the config file {path}")
                return Setting(name, value, "config file")
            return Setting(name, default, "default")

        key_argument = arguments.get("api_key")
        key_env = environ.get(ENV_API_KEY, "").strip()
        if key_argument:
            api_key = Setting("api_key", key_argument.strip(), "argument (--api-key)")
        elif key_env:
            api_key = Setting("api_key", key_env, f"environment ({ENV_API_KEY})")
        else:
            api_key = Setting("api_key", None, "not set")
        return cls(
            base_url=pick("base_url", "--base-url", ENV_BASE_URL, DEFAULT_BASE_URL),
            api_key=api_key,
            timeout=pick("timeout", "--timeout", ENV_TIMEOUT, DEFAULT_TIMEOUT),
            max_retries=pick("max_retries", "--max-retries", ENV_MAX_RETRIES, DEFAULT_MAX_RETRIES),
            output=pick("output", "--output", ENV_OUTPUT, DEFAULT_OUTPUT),
            config_file=path,
        )

    @property
    def is_local(self) -> bool:
        """Whether the base URL selects the embedded engine (``local://``)."""
        return str(self.base_url.value).lower().startswith("local://")

    def shown(self) -> list[Setting]:
        """The settings as ``driftlock config`` shows them: the key masked."""
        key = self.api_key
        if key.value is not None:
            key = Setting(key.name, mask_key(key.value), key.source)
        elif self.is_local:
            key = Setting(key.name, None, "not needed for local://")
        return [self.base_url, key, self.timeout, self.max_retries, self.output]

    def client(self) -> DriftlockSyncClient:
        """A sync client with these settings; it always sends (``DRIFTLOCK_ENABLED`` is for
        applications: running the command is asking for detection)."""
        if self.api_key.value is None and not self.is_local:
            raise CLIError(
                f"no API key: set {ENV_API_KEY} or pass --api-key "
                "(or use --base-url local:// for the embedded engine, which needs none)"
            )
        return DriftlockSyncClient(
            api_key=self.api_key.value,
            base_url=self.base_url.value,
            timeout=self.timeout.value,
            max_retries=self.max_retries.value,
            enabled=True,
        )
