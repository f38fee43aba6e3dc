"""loginless gateway: The only public entry for guests: validates link tokens, swaps them for a scoped cookie and routes to the owning service."""
