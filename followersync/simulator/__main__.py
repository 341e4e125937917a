"""`python -m followersync.simulator`: the simulate command without the rest of the CLI.

The command (its options and help) is the CLI's, followersync/cli/simulate_command.py, and the
simulator never imports the CLI (the layers in pyproject.toml): like the `followersync` script, this
entry point names the command's module and imports it only when run.
"""

import importlib

if __name__ == "__main__":
    importlib.import_module("followersync.cli.simulate_command").main()
