"""The ngo-abm command line."""
