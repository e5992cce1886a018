"""Alerting on the indicators: rules, office calendar, the evaluator and its state machine, notification text.

Everything here is pure; ClickHouse, Kafka and HTTP adapters live in ``sinks/``
(``alert_reader``, ``alert_store``, ``alert_runner``, ``alert_topic``, ``webhook``) and the
commands in ``pipeline/cli/alerts.py``.
"""
