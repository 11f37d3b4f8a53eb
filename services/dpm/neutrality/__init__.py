"""Neutrality: ownership/control math (pure modules) and the thin gRPC servicer."""
