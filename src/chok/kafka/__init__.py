"""Kafka access: mTLS client set-up, error conversion, admin operations."""
