"""Services: the sync's rules and orchestration."""
