"""The loginless shared library: event contracts, event store, outbox relay, messaging and web plumbing."""
