"""Notifications: telling the user's own systems who came, who left and what needs attention.

    record.record_runs()    after each run: its payloads into the outbox (store/outbox.py), once
    deliver.deliver_due()   after a command's runs / between a worker's rounds: POST or run, retry
    deliver.send()          one attempt (also `followersync notify test`)
    payloads                the JSON a hook receives and its `text` summary

The README's "Notifications" is the contract: what a hook receives, how it is signed, what is
guaranteed (nothing lost, at least once, the same body on every retry).
"""
