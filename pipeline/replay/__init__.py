"""Replay: recompute a namespace's results from Kafka, the raw archive or an export file."""
