"""Models over the warehouse: each module builds Ibis expressions and fits or scores plain tables.

Model names are registered in :mod:`windmaker.models.registry`.
"""
