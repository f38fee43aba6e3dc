"""loginless gateway: the only public entry for guests; validates link tokens and routes to the owning service."""
