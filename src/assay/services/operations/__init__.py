"""The operator's view of the platform: health, readiness and queue figures."""
