"""Test infrastructure as a package: endpoints of real services, sample aggregates, waiting helpers."""
