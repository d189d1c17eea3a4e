"""The embedded local Apache Kafka broker: jars, configuration, process control."""

KAFKA_VERSION = "4.1.1"
