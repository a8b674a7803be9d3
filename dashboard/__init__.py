"""Views of the dashboard (``app.py``) beyond Mesa's single-run page."""
