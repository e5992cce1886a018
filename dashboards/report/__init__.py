"""The leaders' report: what it shows (model), its SVG charts, the HTML page and a loopback server.

It sits beside the Grafana dashboards because it is another view of the same numbers: the model
only assembles values from ``pipeline.rates`` and ``pipeline.scoring`` (no indicator is defined
here), and everything but the server is pure.
"""
