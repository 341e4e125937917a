"""`python -m followersync.simulator`: the simulate command without the rest of the CLI."""

from followersync.simulator.standalone import _main

if __name__ == "__main__":
    _main()
