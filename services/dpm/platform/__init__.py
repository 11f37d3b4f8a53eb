"""What every dpmatch process shares: settings, logs, telemetry, auth, errors, gRPC bootstrap."""
