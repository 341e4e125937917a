"""Syncing: from the schedule down to one pass of one source.

    worker.Worker        rounds: what is due (rules.next_due) -> fleet.sync -> notifications -> sleep
      fleet.Fleet        many sources: one thread and one lease per account (leases), sources in turn
        runner.PassRunner  one pass of one source: plan (rules.plan_pass) -> pages, fetched ahead
                           (prefetch) and each written in one transaction -> settle unfollows -> close
    budget.BudgetGate    every request counted against its account's daily budget
    sizing               how long a full pass takes at the pacing and budget, and whether it fits
    setup.open_sync      the one set-up the CLI, the demo and the test harness share

docs/semantics.md is the contract these modules keep. Nothing here prints: the CLI shows the results.
"""
