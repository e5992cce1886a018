"""The Decision 766 scoring engine: point rules, the six groups, portal parsing and reconciliation.

Everything in this package is pure: values in, values out. Import the module you need
(``pipeline.scoring.rules``, ``.groups``, ``.score``, ``.portal``, ``.reconcile``,
``.pipeline_inputs``, ``.catalogue``, ``.state_inputs``, ``.period``, ``.projection``,
``.at_stake``); nothing is re-exported here.
"""
