"""Identity and permissions: principals, teams, API keys, roles, and Cedar authorization."""
