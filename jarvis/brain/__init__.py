"""Answering: deterministic local skills, the local model, and the router between tiers."""
