"""followersync: keep a SQL database in step with the followers of postpress-linked accounts."""

__version__ = "0.1.0"

__all__ = ["__version__"]
