"""The secure multi-provider cloud client."""
