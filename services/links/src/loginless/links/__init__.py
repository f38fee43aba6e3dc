"""loginless links: Capability links for every guest action: issue, revoke, use and expiry; tenants and API keys."""
