"""The model gateway: deployments, providers, routing, reliability, streaming, money, telemetry."""
