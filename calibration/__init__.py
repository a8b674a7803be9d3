"""Calibration of the model against the article's reported figures: targets, comparison, ABC-SMC."""
