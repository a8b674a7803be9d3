"""Parts of the dashboard (``app.py``) beyond Mesa's single-run page.

Its views, their controls and tasks, and the scenario files it offers.
"""
