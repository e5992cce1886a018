"""Grafana side of chiso766: a panel model rendered to dashboard JSON, checked and provisioned.

Import the module you need (``model``, ``render``, ``build``, ``queries``, ``macros``,
``lint``, ``push``); nothing is re-exported here.
"""
