"""The local stack: Kafka (KRaft, jars from Maven Central) and ClickHouse, started without Docker."""
