"""The loopback OpenTelemetry receiver and the mapping of AI tools' metrics and events."""
