"""Frozen SQL of the migrations: one module per revision that changed a view, never edited after."""
