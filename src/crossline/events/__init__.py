"""Outbox events: state changes others react to."""
