"""The web dashboard: server-rendered pages (Jinja2) with ECharts charts and htmx."""
