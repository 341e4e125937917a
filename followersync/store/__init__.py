"""The database: schema, migrations, the page writer, runs, checkpoints and leases."""
