"""Settings: the TOML file plus environment overrides, validated once into frozen dataclasses.

    followersync/config/
      model.py      Settings and its parts (frozen dataclasses), ConfigError, the defaults and the
                    environment variables' names; sqlite_file, safe_database_url, api_key_problem
      readers.py    one reader per kind of value: durations, integers, URLs, names, ...
      reference.py  REFERENCE: every key, its default, its meaning and its reader; ENVIRONMENT
      load.py       load_settings(): find the file, read it against REFERENCE, apply the environment

    load_settings()                      the one entry point: find the file, read it, apply the env
      ├── the file     --config PATH > FOLLOWERSYNC_CONFIG > ./followersync.toml > none (all defaults)
      ├── REFERENCE    every key: dotted name, default as users see it, meaning, how it is read
      └── environment  POSTPRESS_API_KEY, FOLLOWERSYNC_DATABASE_URL, FOLLOWERSYNC_BASE_URL

Everything past this package trusts `Settings`: every problem is found here, before any request is
made, and reported as a `ConfigError` whose one-line message starts with the key's dotted path
(`sync.concurrency: must be an integer >= 1, got 0`). `REFERENCE` is the single description of the keys:
the validator knows the valid keys from it, and docs/configuration.md is written from it (a test keeps
the two equal).

Secrets: the API key comes only from the environment and is never part of a repr; a database password
is hidden in `DatabaseSettings`' repr, in `safe_url` and in every message.

Import from here (`from followersync.config import Settings, load_settings`): the modules are how the
package is written, this is what it offers. Importing it costs the standard library only; SQLAlchemy is
imported by the few functions that parse a URL other than a plain SQLite file's.
"""

from followersync.config.load import load_settings
from followersync.config.model import (
    CONFIG_FILE_NAME,
    DEFAULT_BASE_URL,
    DEFAULT_DATABASE_URL,
    ENV_API_KEY,
    ENV_BASE_URL,
    ENV_CONFIG,
    ENV_DATABASE_URL,
    PROVIDER_MAX_PAGE_SIZE,
    PROVIDERS,
    ApiSettings,
    ConfigError,
    DatabaseSettings,
    HookConfig,
    ProviderSettings,
    Settings,
    SourceConfig,
    SyncSettings,
    api_key_problem,
    safe_database_url,
    sqlite_file,
)
from followersync.config.readers import Reader, parse_duration
from followersync.config.reference import ENVIRONMENT, REFERENCE, ConfigKey, EnvVar

__all__ = [
    "CONFIG_FILE_NAME",
    "DEFAULT_BASE_URL",
    "DEFAULT_DATABASE_URL",
    "ENVIRONMENT",
    "ENV_API_KEY",
    "ENV_BASE_URL",
    "ENV_CONFIG",
    "ENV_DATABASE_URL",
    "PROVIDERS",
    "PROVIDER_MAX_PAGE_SIZE",
    "REFERENCE",
    "ApiSettings",
    "ConfigError",
    "ConfigKey",
    "DatabaseSettings",
    "EnvVar",
    "HookConfig",
    "ProviderSettings",
    "Reader",
    "Settings",
    "SourceConfig",
    "SyncSettings",
    "api_key_problem",
    "load_settings",
    "parse_duration",
    "safe_database_url",
    "sqlite_file",
]
