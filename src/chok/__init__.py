"""chok: Chat over Kafka, a push-to-talk walkie-talkie whose only backend is Apache Kafka."""

__version__ = "0.1.0"
