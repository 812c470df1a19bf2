"""Run payloads kept apart from the ledger: encrypted per data subject, purged when their retention
ends, and erased on request by destroying the subject's key (crypto-shredding)."""
