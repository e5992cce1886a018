"""The leaders' report: the model of what it shows, its SVG charts, the HTML page and a loopback server."""
